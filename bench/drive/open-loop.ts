import { setImmediate as nextTurn } from 'node:timers/promises';
import type { RecordableHistogram } from 'node:perf_hooks';
import { cpuWaitNs } from './cpu-wait.js';
import { cpuSharesPct, cpuTicks } from './cpu-stat.js';
import { newLatencyHistogram, recordSince } from './latency-histogram.js';

export interface OpenLoopOptions {
  ratePerSec: number;
  /** Length of the measured period, after the warm-up. */
  durationMs: number;
  /**
   * Offered at the same rate just before the measured period, without recording. A freshly opened
   * system runs cold code (interpreted JIT tiers, first segment file, first pages of the page
   * cache): walrus-ts took ~200 ms to settle, and those 7% of a 3 s run made the whole p99.
   */
  warmupMs?: number;
  /** Past this many unresolved operations the system is not keeping up: stop offering. */
  maxOutstanding: number;
  /** How long to wait for the last operations once offering stopped. */
  drainTimeoutMs: number;
}

export interface OpenLoopRun {
  /** Operations issued in the measured period (warm-up excluded). */
  issued: number;
  /** Operations of the measured period that completed. */
  completed: number;
  /** Length of the measured period, including the drain of its last operations. */
  seconds: number;
  /** Stopped early because `maxOutstanding` operations were pending. */
  overloaded: boolean;
  histogram: RecordableHistogram;
  /** Time the process's threads waited for a CPU during the measured period (Linux only). */
  cpuWaitMs?: number;
  /** The whole machine's iowait and steal shares of the measured period (Linux /proc/stat). */
  iowaitPct?: number;
  stealPct?: number;
}

/**
 * Longest blocking sleep between two turns: completions that land while the generator sleeps are
 * only seen after it, so this bounds what the pacing itself can add to a latency.
 */
const MAX_SLEEP_MS = 0.2;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Offers operations at a fixed rate whatever the system does (open loop), and measures each one
 * from the moment it was *due*, not when it was issued: a stall delays every operation behind it,
 * and that delay is counted (no coordinated omission).
 *
 * Pacing sleeps instead of spinning. Spinning on setImmediate kept the generator's thread 100% busy,
 * which on a 2-core machine took a whole core from a system whose work runs on other threads
 * (walrus-ts: writer and flusher workers) and made the scheduler preempt the spinning thread for
 * milliseconds at a time. Between turns it now blocks in `Atomics.wait` until the next operation is
 * due (at most MAX_SLEEP_MS); the kernel's timer slack (a 0.05 ms wait took 0.14 ms here) groups operations
 * into small bursts, and that wait is counted, since latency runs from the due time.
 */
export async function runOpenLoop(
  op: (index: number) => Promise<unknown> | void,
  options: OpenLoopOptions,
): Promise<OpenLoopRun> {
  const { ratePerSec, durationMs, maxOutstanding } = options;
  if (!(ratePerSec > 0)) throw new RangeError(`offered rate must be positive, got ${ratePerSec}`);
  const warmupMs = options.warmupMs ?? 0;
  if (!(warmupMs >= 0)) throw new RangeError(`warm-up must be a duration, got ${warmupMs}`);
  const histogram = newLatencyHistogram();
  const intervalMs = 1000 / ratePerSec;
  const startMs = performance.now();
  const endMs = warmupMs + durationMs;
  // Operations due before this index belong to the warm-up and are not recorded.
  const firstMeasured = Math.ceil(warmupMs / intervalMs);
  let measureStartMs = startMs + warmupMs;
  let measuring = warmupMs === 0;
  let cpuWaitAtStart = measuring ? cpuWaitNs() : undefined;
  let ticksAtStart = measuring ? cpuTicks() : undefined;
  let issued = 0;
  let completed = 0;
  let outstanding = 0;
  let overloaded = false;
  let failure: { error: unknown } | undefined;
  const onFailure = (error: unknown): void => {
    failure ??= { error };
    outstanding--;
  };
  const settledUnrecorded = (): void => {
    outstanding--;
  };
  for (;;) {
    const elapsedMs = performance.now() - startMs;
    if (elapsedMs >= endMs || failure) break;
    if (!measuring && elapsedMs >= warmupMs) {
      measuring = true;
      cpuWaitAtStart = cpuWaitNs();
      ticksAtStart = cpuTicks();
    }
    const due = Math.floor(elapsedMs / intervalMs) + 1;
    while (issued < due) {
      const index = issued++;
      const dueMs = startMs + index * intervalMs;
      const pending = op(index);
      const measured = index >= firstMeasured;
      if (pending === undefined) {
        if (measured) {
          recordSince(histogram, dueMs);
          completed++;
        }
      } else {
        outstanding++;
        pending.then(
          measured
            ? () => {
                recordSince(histogram, dueMs);
                completed++;
                outstanding--;
              }
            : settledUnrecorded,
          onFailure,
        );
      }
    }
    if (outstanding > maxOutstanding) {
      overloaded = true;
      break;
    }
    await nextTurn();
    const aheadMs = startMs + issued * intervalMs - performance.now();
    if (aheadMs > 0) Atomics.wait(sleeper, 0, 0, Math.min(aheadMs, MAX_SLEEP_MS));
  }
  // A run stopped during the warm-up (overloaded, failed) measured nothing: time it from its start.
  if (issued <= firstMeasured) measureStartMs = startMs;
  const drainDeadlineMs = performance.now() + options.drainTimeoutMs;
  while (outstanding > 0) {
    if (performance.now() > drainDeadlineMs) {
      throw new Error(`${outstanding} operations still pending ${options.drainTimeoutMs} ms after the load stopped`);
    }
    await nextTurn();
  }
  if (failure) throw failure.error;
  const cpuWaitAtEnd = cpuWaitAtStart === undefined ? undefined : cpuWaitNs();
  const ticksAtEnd = ticksAtStart === undefined ? undefined : cpuTicks();
  return {
    issued: Math.max(0, issued - firstMeasured),
    completed,
    seconds: (performance.now() - measureStartMs) / 1000,
    overloaded,
    histogram,
    ...(cpuWaitAtStart !== undefined && cpuWaitAtEnd !== undefined
      ? { cpuWaitMs: (cpuWaitAtEnd - cpuWaitAtStart) / 1e6 }
      : {}),
    ...(ticksAtStart !== undefined && ticksAtEnd !== undefined ? cpuSharesPct(ticksAtStart, ticksAtEnd) : {}),
  };
}
