/**
 * A case is one row of the table: one system doing one thing at one entry size. Cases of a section
 * are compared with a walrus-ts row (`compareTo`) and walrus-ts rows with a ceiling (`ceiling`).
 */
import type { Metrics, MetricName } from './metrics.js';
import type { BenchOptions, SectionId, SystemId } from './options.js';
import type { Payloads } from './payloads.js';
import type { WalrusAvailability } from './walrus-module.js';

export interface BenchEnv {
  readonly options: BenchOptions;
  readonly walrus: WalrusAvailability;
  readonly canDropCaches: boolean;
  /** The median of a case measured earlier in this run, if any. */
  measured(key: string, sizeBytes: number): Metrics | undefined;
}

export interface CaseContext {
  readonly env: BenchEnv;
  readonly payloads: Payloads;
  /** Shared by the cases of one section at one size (data prepared once), removed after them. */
  readonly sectionDir: string;
  /** Empty at the start of each repetition, removed after it. */
  readonly repDir: string;
  readonly repetition: number;
  /** Records something the reader of the table must know about this row (printed under its block). */
  note(text: string): void;
}

export interface BenchCase {
  /** Stable across sizes, e.g. `walrus.append-1-topic`; rows refer to each other by key. */
  readonly key: string;
  readonly system: SystemId;
  readonly label: string;
  /** What is durable (survives power loss) when an operation of this row resolves. */
  readonly durable: string;
  readonly compareTo?: string;
  readonly ceiling?: string;
  run(ctx: CaseContext): Promise<Metrics>;
}

export interface Column {
  readonly title: string;
  readonly metric: MetricName;
  /** `percent`: the metric is a fraction, shown as a whole percentage. */
  readonly format: 'count' | 'decimal' | 'micros' | 'fixed2' | 'percent';
}

export interface Section {
  readonly id: SectionId;
  readonly title: string;
  /** `each`: run at every selected entry size; `one`: only at 1 KiB (or the largest selected size). */
  readonly sizes: 'each' | 'one';
  /** The figure ratios, targets and the chart use. */
  readonly primary: MetricName;
  readonly higherIsBetter: boolean;
  /**
   * Drawn in the chart for rows that have no primary figure, labelled with its column (the
   * pipeline's append-only rows: their appended/s is what the consumed/s bars are read against).
   */
  readonly chartReference?: MetricName;
  readonly columns: readonly Column[];
  cases(sizeBytes: number, env: BenchEnv): BenchCase[];
}
