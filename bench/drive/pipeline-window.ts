import { setMaxListeners } from 'node:events';
import type { Metrics } from '../metrics.js';
import { startLoopDelayProbe } from './loop-delay.js';

/** What the stages of a pipeline did so far: entries acknowledged to the producer, and consumed. */
export interface PipelineCounts {
  appended: number;
  consumed: number;
}

/** Set when the timed window ended: stages stop at their next check, waits end on `signal`. */
export interface PipelineStop {
  readonly stopped: boolean;
  readonly signal: AbortSignal;
}

export interface PipelineWindowRun extends PipelineCounts {
  /** Length of the timed window (after the warm-up); `appended` and `consumed` count within it. */
  seconds: number;
  /** Appended − consumed at the end of the window (warm-up included), and appended since the start. */
  backlog: number;
  appendedSinceStart: number;
  /** `loopP99Ms` and `loopMaxMs` over the timed window. */
  loopDelay: Metrics;
}

export interface PipelineWindowOptions {
  durationMs: number;
  /**
   * The stages run this long before the window opens, uncounted. A freshly opened system runs cold
   * code at first (JIT tiers, worker start-up, first segment file): in a 200 ms window on a loaded
   * 2-core machine walrus-ts had not acknowledged a single append yet.
   */
  warmupMs?: number;
  /** How long the stages may take to wind down once the window ended before the run fails. */
  stopTimeoutMs?: number;
}

/**
 * Runs the stages of a pipeline (a producer, consumers) at once on this thread: a warm-up, then a
 * timed window bounded by two snapshots of their counts. Each snapshot reads appended and consumed
 * at the same instant, so appended − consumed at the second one is the backlog at that moment. The
 * stages are then told to stop and awaited (not timed). A stage that fails ends the run at once and
 * fails it; its rejection is always handled.
 */
export async function runPipelineWindow(
  counts: () => PipelineCounts,
  start: (stop: PipelineStop) => ReadonlyArray<Promise<unknown>>,
  options: PipelineWindowOptions,
): Promise<PipelineWindowRun> {
  const controller = new AbortController();
  // Every consumer of a 16-topic row waits on this one signal; Node warns past 10 listeners.
  setMaxListeners(0, controller.signal);
  const stop = { stopped: false, signal: controller.signal };
  let failure: { error: unknown } | undefined;
  let failed: () => void = () => {};
  const failedOnce = new Promise<void>((resolve) => (failed = resolve));
  const stages = start(stop).map((stage) =>
    stage.then(
      () => {},
      (error: unknown) => {
        failure ??= { error };
        failed();
      },
    ),
  );
  // Resolves after `ms`, or at once when a stage failed.
  const sleep = async (ms: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), failedOnce]);
    clearTimeout(timer);
  };
  await sleep(options.warmupMs ?? 0);
  const before = counts();
  const probe = startLoopDelayProbe();
  const startMs = performance.now();
  await sleep(options.durationMs);
  const seconds = (performance.now() - startMs) / 1000;
  const after = counts();
  const loopDelay = probe.stop();
  stop.stopped = true;
  controller.abort();
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  let stopTimer: NodeJS.Timeout | undefined;
  const stuck = new Promise<'stuck'>((resolve) => (stopTimer = setTimeout(() => resolve('stuck'), stopTimeoutMs)));
  const outcome = await Promise.race([Promise.all(stages), stuck]);
  clearTimeout(stopTimer);
  if (failure) throw failure.error;
  if (outcome === 'stuck') throw new Error(`pipeline stages still running ${stopTimeoutMs} ms after the window ended`);
  return {
    appended: after.appended - before.appended,
    consumed: after.consumed - before.consumed,
    seconds,
    backlog: after.appended - after.consumed,
    appendedSinceStart: after.appended,
    loopDelay,
  };
}

/** Consumed entries/s, appended entries/s, the backlog at the end of the window and the loop delay. */
export function pipelineMetrics(run: PipelineWindowRun): Metrics {
  if (run.seconds <= 0) throw new RangeError('a pipeline window must take time');
  // A reader may see an entry a moment before its append's acknowledgement reaches the producer.
  const backlog = Math.max(0, run.backlog);
  return {
    entriesPerSec: run.consumed / run.seconds,
    appendedPerSec: run.appended / run.seconds,
    backlogEntries: backlog,
    ...(run.appendedSinceStart > 0 ? { backlogShare: backlog / run.appendedSinceStart } : {}),
    ...run.loopDelay,
  };
}
