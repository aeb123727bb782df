/**
 * Plans the cases (sections × sizes × systems), runs each one `repeat` times in fresh directories,
 * and keeps every sample; failures and skips become rows that say why, never a lost run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchCase, BenchEnv, CaseContext, Section } from './bench-case.js';
import { medianMetrics, type Metrics } from './metrics.js';
import type { BenchOptions, SectionId, SystemId } from './options.js';
import { settlePageCache } from './page-cache.js';
import { makePayloads, type Payloads } from './payloads.js';
import type { ProgressSink } from './report/progress.js';
import { sectionById, sizesFor } from './sections.js';
import type { WalrusAvailability } from './walrus-module.js';

export interface CaseResult {
  section: SectionId;
  key: string;
  system: SystemId;
  label: string;
  sizeBytes: number;
  durable: string;
  compareTo?: string;
  ceiling?: string;
  samples: Metrics[];
  median: Metrics;
  notes: string[];
  skipped?: string;
  error?: string;
}

export interface PlannedCase {
  section: Section;
  sizeBytes: number;
  benchCase: BenchCase;
}

export function createEnv(
  options: BenchOptions,
  walrus: WalrusAvailability,
  canDropCaches: boolean,
  results: readonly CaseResult[],
): BenchEnv {
  return {
    options,
    walrus,
    canDropCaches,
    measured: (key, sizeBytes) =>
      results.find((r) => r.key === key && r.sizeBytes === sizeBytes && !r.error && !r.skipped)?.median,
  };
}

export function planCases(env: BenchEnv): PlannedCase[] {
  const { options } = env;
  const plan: PlannedCase[] = [];
  for (const id of options.sections) {
    const section = sectionById(id);
    for (const sizeBytes of sizesFor(section, options.sizesBytes)) {
      for (const benchCase of section.cases(sizeBytes, env)) {
        if (options.systems.includes(benchCase.system)) plan.push({ section, sizeBytes, benchCase });
      }
    }
  }
  return plan;
}

function resultOf(planned: PlannedCase): CaseResult {
  const { benchCase } = planned;
  return {
    section: planned.section.id,
    key: benchCase.key,
    system: benchCase.system,
    label: benchCase.label,
    sizeBytes: planned.sizeBytes,
    durable: benchCase.durable,
    ...(benchCase.compareTo === undefined ? {} : { compareTo: benchCase.compareTo }),
    ...(benchCase.ceiling === undefined ? {} : { ceiling: benchCase.ceiling }),
    samples: [],
    median: {},
    notes: [],
  };
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
}

export function sizeLabel(sizeBytes: number): string {
  return sizeBytes % 1024 === 0 ? `${sizeBytes / 1024} KiB` : `${sizeBytes} B`;
}

type CaseBase = Omit<CaseContext, 'repDir' | 'repetition' | 'note'>;

async function runRepetitions(
  planned: PlannedCase,
  result: CaseResult,
  base: CaseBase,
  where: string,
  progress: ProgressSink,
): Promise<void> {
  const repeat = base.env.options.repeat;
  const note = (text: string): void => {
    if (!result.notes.includes(text)) result.notes.push(text);
  };
  for (let repetition = 1; repetition <= repeat && !result.error; repetition++) {
    progress.update(`${where} · rep ${repetition}/${repeat}`);
    settlePageCache();
    const repDir = fs.mkdtempSync(path.join(base.sectionDir, 'rep-'));
    try {
      result.samples.push(await planned.benchCase.run({ ...base, repDir, repetition, note }));
    } catch (err) {
      result.error = errorText(err);
      progress.note(`  ${where}: ${result.error}`);
    } finally {
      fs.rmSync(repDir, { recursive: true, force: true });
    }
  }
  result.median = medianMetrics(result.samples);
}

/** Runs the plan in `runDir`, appending to `results` as it goes (so later cases can read earlier medians). */
export async function runPlan(
  plan: readonly PlannedCase[],
  env: BenchEnv,
  runDir: string,
  results: CaseResult[],
  progress: ProgressSink,
): Promise<void> {
  const payloadsBySize = new Map<number, Payloads>();
  for (let index = 0; index < plan.length; index++) {
    const planned = plan[index]!;
    const { section, sizeBytes, benchCase } = planned;
    const sectionDir = path.join(runDir, `${section.id}-${sizeBytes}`);
    fs.mkdirSync(sectionDir, { recursive: true });
    let payloads = payloadsBySize.get(sizeBytes);
    if (!payloads) payloadsBySize.set(sizeBytes, (payloads = makePayloads(sizeBytes)));
    const result = resultOf(planned);
    results.push(result);
    const where = `[${index + 1}/${plan.length}] ${section.id} ${sizeLabel(sizeBytes)} · ${benchCase.system} · ${benchCase.label}`;
    if (benchCase.system === 'walrus-ts' && !env.walrus.ok) result.skipped = 'walrus-ts not built';
    else await runRepetitions(planned, result, { env, payloads, sectionDir }, where, progress);
    const next = plan[index + 1];
    if (!next || next.section !== section || next.sizeBytes !== sizeBytes)
      fs.rmSync(sectionDir, { recursive: true, force: true });
  }
}
