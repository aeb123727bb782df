/** What one repetition of one case measured. Every field is optional: each section reads its own. */
export type MetricName =
  | 'entriesPerSec'
  | 'mbPerSec'
  | 'p50Us'
  | 'p99Us'
  | 'p999Us'
  | 'offeredPerSec'
  | 'cpuWaitPct'
  /** Latency rows: the whole machine's iowait and steal shares of the measured period (/proc/stat). */
  | 'iowaitPct'
  | 'stealPct'
  | 'peakRssMiB'
  | 'baselineRssMiB'
  | 'seconds'
  | 'gbPerSec'
  | 'logGiB'
  | 'topics'
  | 'files'
  | 'diskMiB'
  /** Pipeline rows: entries/s acknowledged to the producer during the timed window. */
  | 'appendedPerSec'
  /** Pipeline rows: consumed entries/s ÷ the append-only row's appended entries/s of the same run. */
  | 'ofAppendOnly'
  /** Pipeline rows: appended − consumed at the end of the timed window, and that as a share of appended. */
  | 'backlogEntries'
  | 'backlogShare'
  /** Event-loop delay (`monitorEventLoopDelay`, resolution subtracted) while the row ran. */
  | 'loopP99Ms'
  | 'loopMaxMs';

export type Metrics = Partial<Record<MetricName, number>>;

export const bytesPerMiB = 1024 * 1024;
export const bytesPerGiB = 1024 * bytesPerMiB;

/** Each metric's median over the repetitions that reported it (metrics are not paired). */
export function medianMetrics(samples: readonly Metrics[]): Metrics {
  const out: Metrics = {};
  const names = new Set(samples.flatMap((s) => Object.keys(s) as MetricName[]));
  for (const name of names) {
    const values = samples.map((s) => s[name]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (values.length > 0) out[name] = median(values);
  }
  return out;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
