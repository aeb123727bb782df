import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Metrics } from '../metrics.js';

/**
 * The sampling interval of the probe. `monitorEventLoopDelay` records the time between two of its
 * timer callbacks, interval included (an idle loop shows ~1.05 ms at 1 ms, ~10 ms at the default
 * 10 ms): the probe subtracts it, so the figures are how late the loop ran the timer.
 */
export const loopDelayResolutionMs = 1;

const nsPerMs = 1e6;

export interface LoopDelayProbe {
  /** Stops sampling; `loopP99Ms` and `loopMaxMs` of the period since the probe started. */
  stop(): Metrics;
}

/** Delay beyond the sampling interval, never negative (libuv may fire a 1 ms timer a little early). */
export function lateByMs(intervalNs: number): number {
  return Math.max(0, intervalNs / nsPerMs - loopDelayResolutionMs);
}

/**
 * Samples the main thread's event-loop delay from now until `stop()`. A loop that never ran the
 * probe's timer in that time was blocked for all of it: that period is then both the p99 and the
 * max (the histogram would otherwise be empty and the row would look idle).
 */
export function startLoopDelayProbe(): LoopDelayProbe {
  const histogram = monitorEventLoopDelay({ resolution: loopDelayResolutionMs });
  const startMs = performance.now();
  histogram.enable();
  return {
    stop() {
      histogram.disable();
      if (histogram.count === 0) {
        const blockedMs = performance.now() - startMs;
        return { loopP99Ms: blockedMs, loopMaxMs: blockedMs };
      }
      return { loopP99Ms: lateByMs(histogram.percentile(99)), loopMaxMs: lateByMs(histogram.max) };
    },
  };
}

/** Runs `body` with the probe on; the probe is stopped however `body` ends. */
export async function measureLoopDelay<T>(body: () => Promise<T>): Promise<{ result: T; loopDelay: Metrics }> {
  const probe = startLoopDelayProbe();
  let result: T;
  try {
    result = await body();
  } catch (err) {
    probe.stop();
    throw err;
  }
  return { result, loopDelay: probe.stop() };
}
