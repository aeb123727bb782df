import { newLatencyHistogram, recordSince } from './latency-histogram.js';
import type { ThroughputRun } from './throughput.js';

/**
 * Calls a synchronous operation back to back until `durationMs` passed. Every call is timed: the
 * clock read is shared between the deadline check and the latency sample.
 */
export function runSyncLoop(op: (index: number) => void, entriesPerOp: number, durationMs: number): ThroughputRun {
  const histogram = newLatencyHistogram();
  const startMs = performance.now();
  let nowMs = startMs;
  let ops = 0;
  while (nowMs - startMs < durationMs) {
    const beforeMs = nowMs;
    op(ops);
    nowMs = performance.now();
    recordSince(histogram, beforeMs, nowMs);
    ops++;
  }
  return { ops, entries: ops * entriesPerOp, seconds: (nowMs - startMs) / 1000, histogram };
}
