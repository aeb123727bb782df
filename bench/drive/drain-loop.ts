import { newLatencyHistogram, recordSince } from './latency-histogram.js';
import type { ThroughputRun } from './throughput.js';

export interface DrainRun extends ThroughputRun {
  /** The reader ran dry (rather than the time running out). */
  exhausted: boolean;
}

/**
 * Reads until the reader reports nothing more (0 entries) or `durationMs` passed; each call is one
 * timed operation returning how many entries it delivered.
 */
export async function runDrainLoop(read: () => Promise<number> | number, durationMs: number): Promise<DrainRun> {
  const histogram = newLatencyHistogram();
  const startMs = performance.now();
  let nowMs = startMs;
  let ops = 0;
  let entries = 0;
  let exhausted = false;
  while (nowMs - startMs < durationMs) {
    const beforeMs = nowMs;
    const delivered = await read();
    nowMs = performance.now();
    if (delivered === 0) {
      exhausted = true;
      break;
    }
    recordSince(histogram, beforeMs, nowMs);
    entries += delivered;
    ops++;
  }
  return { ops, entries, seconds: (nowMs - startMs) / 1000, histogram, exhausted };
}
