import { newLatencyHistogram, recordSince } from './latency-histogram.js';
import type { ThroughputRun } from './throughput.js';

export interface WindowedOptions {
  /** Operations in flight at most, like a producer that waits when it has this many pending. */
  window: number;
  entriesPerOp: number;
  durationMs: number;
  /** Stop after this many operations even if time is left. */
  maxOps?: number;
  /** One operation in this many has its call-to-resolve latency recorded. */
  sampleEvery?: number;
  /** Stop issuing once this returns true (checked as often as the clock), even if time is left. */
  stop?: () => boolean;
  /** Counts operations that resolved, as they do: a pipeline reads it at the end of its timed window. */
  progress?: { settled: number };
}

const ignore = (): void => {};

/**
 * Drives an async operation with a bounded window of outstanding promises until `durationMs`
 * passed, then waits for all of them: the time includes draining the window. Every promise gets
 * its handler when issued (a rejection is never left unhandled); a full window waits until an
 * eighth of it has resolved, so the producer wakes once per batch of completions, not per one.
 */
export async function runWindowedLoop(
  op: (index: number) => Promise<unknown>,
  options: WindowedOptions,
): Promise<ThroughputRun> {
  const { window, entriesPerOp, durationMs } = options;
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`);
  const maxOps = options.maxOps ?? Number.POSITIVE_INFINITY;
  const sampleEvery = options.sampleEvery ?? 64;
  const stop = options.stop ?? (() => false);
  const progress = options.progress ?? { settled: 0 };
  // Reading the clock costs about as much as a fast append: check it every few dozen entries.
  const clockEvery = Math.max(1, Math.floor(64 / entriesPerOp));
  const resumeAt = window - Math.max(1, Math.floor(window / 8));
  const histogram = newLatencyHistogram();
  let inFlight = 0;
  let wakeAt = -1;
  let wake: (() => void) | undefined;
  let failure: { error: unknown } | undefined;
  const onSettled = (): void => {
    inFlight--;
    if (wake !== undefined && inFlight <= wakeAt) {
      const resume = wake;
      wake = undefined;
      resume();
    }
  };
  const onResolved = (): void => {
    progress.settled++;
    onSettled();
  };
  const onFailure = (error: unknown): void => {
    failure ??= { error };
    onSettled();
  };
  const waitUntil = (limit: number): Promise<void> | undefined => {
    if (inFlight <= limit) return undefined;
    wakeAt = limit;
    return new Promise<void>((resolve) => (wake = resolve));
  };
  const startMs = performance.now();
  let ops = 0;
  while (ops < maxOps && !failure) {
    if (ops % clockEvery === 0 && (performance.now() - startMs >= durationMs || stop())) break;
    if (inFlight >= window) {
      await waitUntil(resumeAt);
      continue;
    }
    const pending = op(ops);
    inFlight++;
    pending.then(onResolved, onFailure);
    if (ops % sampleEvery === 0) {
      const issuedMs = performance.now();
      pending.then(() => recordSince(histogram, issuedMs), ignore);
    }
    ops++;
  }
  await waitUntil(0);
  if (failure) throw failure.error;
  return { ops, entries: ops * entriesPerOp, seconds: (performance.now() - startMs) / 1000, histogram };
}
