import { setImmediate as nextTurn } from 'node:timers/promises';
import type { RecordableHistogram } from 'node:perf_hooks';
import { newLatencyHistogram, recordSince } from './latency-histogram.js';

export interface OpenLoopOptions {
  ratePerSec: number;
  durationMs: number;
  /** Past this many unresolved operations the system is not keeping up: stop offering. */
  maxOutstanding: number;
  /** How long to wait for the last operations once offering stopped. */
  drainTimeoutMs: number;
}

export interface OpenLoopRun {
  issued: number;
  completed: number;
  seconds: number;
  /** Stopped early because `maxOutstanding` operations were pending. */
  overloaded: boolean;
  histogram: RecordableHistogram;
}

/**
 * Offers operations at a fixed rate whatever the system does (open loop), and measures each one
 * from the moment it was *due*, not when it was issued: a stall delays every operation behind it,
 * and that delay is counted (no coordinated omission).
 */
export async function runOpenLoop(op: (index: number) => Promise<unknown> | void, options: OpenLoopOptions): Promise<OpenLoopRun> {
  const { ratePerSec, durationMs, maxOutstanding } = options;
  if (!(ratePerSec > 0)) throw new RangeError(`offered rate must be positive, got ${ratePerSec}`);
  const histogram = newLatencyHistogram();
  const intervalMs = 1000 / ratePerSec;
  const startMs = performance.now();
  let issued = 0;
  let completed = 0;
  let outstanding = 0;
  let overloaded = false;
  let failure: { error: unknown } | undefined;
  const onFailure = (error: unknown): void => {
    failure ??= { error };
    outstanding--;
  };
  for (;;) {
    const elapsedMs = performance.now() - startMs;
    if (elapsedMs >= durationMs || failure) break;
    const due = Math.floor(elapsedMs / intervalMs) + 1;
    while (issued < due) {
      const dueMs = startMs + issued * intervalMs;
      const pending = op(issued++);
      if (pending === undefined) {
        recordSince(histogram, dueMs);
        completed++;
      } else {
        outstanding++;
        pending.then(() => {
          recordSince(histogram, dueMs);
          completed++;
          outstanding--;
        }, onFailure);
      }
    }
    if (outstanding > maxOutstanding) {
      overloaded = true;
      break;
    }
    await nextTurn();
  }
  const drainDeadlineMs = performance.now() + options.drainTimeoutMs;
  while (outstanding > 0) {
    if (performance.now() > drainDeadlineMs) {
      throw new Error(`${outstanding} operations still pending ${options.drainTimeoutMs} ms after the load stopped`);
    }
    await nextTurn();
  }
  if (failure) throw failure.error;
  return { issued, completed, seconds: (performance.now() - startMs) / 1000, overloaded, histogram };
}
