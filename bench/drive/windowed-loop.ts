import { newLatencyHistogram, recordSince } from './latency-histogram.js';
import type { ThroughputRun } from './throughput.js';

export interface WindowedOptions {
  /** Operations in flight at most: a producer that awaits its oldest pending call when the window is full. */
  window: number;
  entriesPerOp: number;
  durationMs: number;
  /** Stop after this many operations even if time is left. */
  maxOps?: number;
  /** One operation in this many has its call-to-resolve latency recorded. */
  sampleEvery?: number;
}

const ignore = (): void => {};

/**
 * Drives an async operation with a bounded window of outstanding promises until `durationMs`
 * passed, then waits for all of them: the time includes draining the window.
 */
export async function runWindowedLoop(op: (index: number) => Promise<unknown>, options: WindowedOptions): Promise<ThroughputRun> {
  const { window, entriesPerOp, durationMs } = options;
  const maxOps = options.maxOps ?? Number.POSITIVE_INFINITY;
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`);
  const sampleEvery = options.sampleEvery ?? 64;
  // Reading the clock costs about as much as a fast append: check it every few dozen entries.
  const clockEvery = Math.max(1, Math.floor(64 / entriesPerOp));
  const histogram = newLatencyHistogram();
  const ring: Array<Promise<unknown> | undefined> = new Array<Promise<unknown> | undefined>(window);
  const startMs = performance.now();
  let ops = 0;
  try {
    for (;;) {
      if (ops >= maxOps || (ops % clockEvery === 0 && performance.now() - startMs >= durationMs)) break;
      const slot = ops % window;
      const oldest = ring[slot];
      if (oldest !== undefined) await oldest;
      const pending = op(ops);
      if (ops % sampleEvery === 0) {
        const issuedMs = performance.now();
        pending.then(() => recordSince(histogram, issuedMs), ignore);
      }
      ring[slot] = pending;
      ops++;
    }
    await Promise.all(ring.filter((p) => p !== undefined));
  } catch (err) {
    for (const p of ring) p?.catch(ignore);
    throw err;
  }
  return { ops, entries: ops * entriesPerOp, seconds: (performance.now() - startMs) / 1000, histogram };
}
