/**
 * Command-line options of `npm run bench`. Parsing is pure (argv in, options out) so it can be
 * tested; `--quick` only changes defaults, so any explicit option still wins.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesPerGiB, bytesPerMiB } from './metrics.js';

export const sectionIds = ['write', 'durable', 'read', 'pipeline', 'latency', 'rss', 'recovery', 'topics'] as const;
export type SectionId = (typeof sectionIds)[number];

export const systemIds = [
  'walrus-ts',
  'ceiling',
  'better-sqlite3',
  'lmdb',
  'classic-level',
  'sonic-boom',
  'fs',
] as const;
export type SystemId = (typeof systemIds)[number];

export interface BenchOptions {
  sections: SectionId[];
  systems: SystemId[];
  sizesBytes: number[];
  durationMs: number;
  repeat: number;
  /** Base directory for data; a fresh sub-directory is made in it and removed afterwards. */
  baseDir: string;
  outDir: string;
  quick: boolean;
  /** Appends in flight for walrus-ts append and pipeline rows (a producer's window). */
  windowOps: number;
  ingestBytes: number;
  recoveryBytes: number;
  topicCount: number;
  readBytes: number;
  /** Offered load of the latency section; undefined = half of walrus-ts's measured maximum. */
  latencyRatePerSec: number | undefined;
  writers: number | undefined;
  cold: boolean;
  help: boolean;
}

export const defaultOutDir = fileURLToPath(new URL('./results/', import.meta.url));

const fullDefaults = {
  durationMs: 3_000,
  repeat: 3,
  ingestBytes: 4 * bytesPerGiB,
  recoveryBytes: 2 * bytesPerGiB,
  topicCount: 100_000,
  readBytes: 256 * bytesPerMiB,
};

const quickDefaults: typeof fullDefaults = {
  durationMs: 200,
  repeat: 3,
  ingestBytes: 128 * bytesPerMiB,
  recoveryBytes: 128 * bytesPerMiB,
  topicCount: 2_000,
  readBytes: 4 * bytesPerMiB,
};

export const usage = `Usage: npm run bench -- [options]

  --scenarios LIST     sections to run, comma-separated (default: all)
                       ${sectionIds.join(', ')}
  --systems LIST       systems to run (default: all): ${systemIds.join(', ')}
  --sizes LIST         entry sizes in bytes, e.g. 100,1KiB (default: 100,1024)
  --duration T         time per repetition, e.g. 3s, 500ms (default: 3s; quick: 200ms)
  --repeat N           repetitions per case, the median is reported (default: 3)
  --dir PATH           where the temporary data directory is made (default: the OS temp dir)
  --out PATH           where results JSON and the SVG chart go (default: bench/results)
  --quick              smoke-test defaults: whole run in about 2 minutes, scaled-down sizes
  --window N           walrus-ts appends in flight in throughput and pipeline rows (default: 4096)
  --ingest-bytes B     bytes ingested by the peak-RSS section (default: 4GiB; quick: 128MiB)
  --recovery-bytes B   log size for the open/recovery section (default: 2GiB; quick: 128MiB)
  --topics N           topics in the many-topics section (default: 100000; quick: 2000)
  --read-bytes B       bytes prefilled for read-back (default: 256MiB; quick: 4MiB)
  --latency-rate N     offered appends/s for the latency section (default: half the measured maximum)
  --writers N          walrus-ts writer workers (default: the library's)
  --no-cold            skip cold-cache rows even where caches can be dropped
  --help               this text
`;

export class OptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionsError';
  }
}

const byteUnits: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: bytesPerMiB,
  mib: bytesPerMiB,
  g: bytesPerGiB,
  gib: bytesPerGiB,
};

export function parseBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? byteUnits[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined)
    throw new OptionsError(`not a byte size: "${text}" (examples: 100, 1KiB, 256MiB, 4GiB)`);
  const bytes = Math.round(Number(match[1]) * unit);
  if (bytes < 1) throw new OptionsError(`byte size must be at least 1: "${text}"`);
  return bytes;
}

export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s)?$/i.exec(text.trim());
  if (!match) throw new OptionsError(`not a duration: "${text}" (examples: 3s, 500ms, 2000)`);
  const ms = Number(match[1]) * ((match[2] ?? 'ms').toLowerCase() === 's' ? 1000 : 1);
  if (ms < 1) throw new OptionsError(`duration must be at least 1 ms: "${text}"`);
  return ms;
}

function parsePositiveInt(text: string, what: string): number {
  const value = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(value) || value < 1)
    throw new OptionsError(`${what} must be a positive integer, got "${text}"`);
  return value;
}

function parseList<T extends string>(text: string, allowed: readonly T[], what: string): T[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new OptionsError(`${what}: empty list`);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item))
      throw new OptionsError(`unknown ${what} "${item}" (known: ${allowed.join(', ')})`);
  }
  return allowed.filter((a) => items.includes(a));
}

type ValueOption = Exclude<keyof BenchOptions, 'quick' | 'cold' | 'help'>;

const valueFlags: Record<string, ValueOption> = {
  '--scenarios': 'sections',
  '--systems': 'systems',
  '--sizes': 'sizesBytes',
  '--duration': 'durationMs',
  '--repeat': 'repeat',
  '--dir': 'baseDir',
  '--out': 'outDir',
  '--window': 'windowOps',
  '--ingest-bytes': 'ingestBytes',
  '--recovery-bytes': 'recoveryBytes',
  '--topics': 'topicCount',
  '--read-bytes': 'readBytes',
  '--latency-rate': 'latencyRatePerSec',
  '--writers': 'writers',
};

function parseValue(option: ValueOption, text: string): BenchOptions[ValueOption] {
  switch (option) {
    case 'sections':
      return parseList(text, sectionIds, 'scenario');
    case 'systems':
      return parseList(text, systemIds, 'system');
    case 'sizesBytes':
      return [...new Set(text.split(',').map(parseBytes))].sort((a, b) => a - b);
    case 'durationMs':
      return parseDurationMs(text);
    case 'baseDir':
    case 'outDir':
      return path.resolve(text);
    case 'ingestBytes':
    case 'recoveryBytes':
    case 'readBytes':
      return parseBytes(text);
    default:
      return parsePositiveInt(text, option);
  }
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const given: Partial<BenchOptions> = {};
  let quick = false;
  let cold = true;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === '--quick') quick = true;
    else if (flag === '--no-cold') cold = false;
    else if (flag === '--help' || flag === '-h') help = true;
    else {
      const option = valueFlags[flag];
      if (option === undefined) throw new OptionsError(`unknown option "${arg}"`);
      const text = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (text === undefined) throw new OptionsError(`${flag} needs a value`);
      Object.assign(given, { [option]: parseValue(option, text) });
    }
  }
  const scaled = quick ? quickDefaults : fullDefaults;
  return {
    sections: [...sectionIds],
    systems: [...systemIds],
    sizesBytes: [100, 1024],
    baseDir: os.tmpdir(),
    outDir: defaultOutDir,
    windowOps: 4096,
    latencyRatePerSec: undefined,
    writers: undefined,
    ...scaled,
    ...given,
    quick,
    cold,
    help,
  };
}
