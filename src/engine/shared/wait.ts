/**
 * Waiting on a shared Int32 cell without blocking the event loop: `Atomics.waitAsync`, which the
 * TypeScript ES2023 lib does not declare yet, so it is typed here.
 *
 * Node 20 does not keep the event loop alive for a pending `waitAsync` (nodejs/node#61941): a
 * worker whose only pending work is such a wait would simply exit, and a timeout would never fire.
 * One shared, otherwise idle interval is therefore ref'd while any wait is pending.
 */

export type WaitOutcome = 'changed' | 'timed-out';

type WaitAsyncResult =
  { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };

interface AtomicsWithWaitAsync {
  waitAsync(cells: Int32Array, index: number, expected: number, timeoutMs?: number): WaitAsyncResult;
}

const atomics = Atomics as unknown as AtomicsWithWaitAsync;

const KEEPALIVE_INTERVAL_MS = 0x7fff_ffff; // the longest delay a Node timer accepts
let keepAlive: NodeJS.Timeout | undefined;
let pendingWaits = 0;

const CHANGED: Promise<WaitOutcome> = Promise.resolve('changed');
const TIMED_OUT: Promise<WaitOutcome> = Promise.resolve('timed-out');

function holdEventLoop(): void {
  if (pendingWaits++ > 0) return;
  keepAlive ??= setInterval(() => {}, KEEPALIVE_INTERVAL_MS);
  keepAlive.ref();
}

function releaseEventLoop(outcome: 'ok' | 'timed-out'): WaitOutcome {
  if (--pendingWaits === 0) keepAlive?.unref();
  return outcome === 'ok' ? 'changed' : 'timed-out';
}

/**
 * Resolves 'changed' once `cells[index]` is no longer `expected` (or a notify arrived), or
 * 'timed-out' after `timeoutMs` (Infinity waits forever). If the value already differs, the
 * returned promise is already resolved.
 */
export function waitForChange(
  cells: Int32Array,
  index: number,
  expected: number,
  timeoutMs: number,
): Promise<WaitOutcome> {
  // waitAsync compares and enqueues under the same lock notify takes, so a store+notify racing
  // with this call either makes it return 'not-equal' now or finds the waiter queued.
  const result = atomics.waitAsync(cells, index, expected, timeoutMs);
  if (!result.async) return result.value === 'not-equal' ? CHANGED : TIMED_OUT;
  holdEventLoop();
  return result.value.then(releaseEventLoop);
}
