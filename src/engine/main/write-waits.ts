/**
 * Main-thread waits for new writes, without polling: `waitForNewWrites` is the body of
 * `wal.waitForWrites` (a cancelable condition over the writers' op counters), and `armWait` is what
 * `subscribe` and the JetStream mirror sleep on when a read found nothing.
 */
import { WalError } from '../../errors.js';
import type { ProgressWatcher } from './progress-watcher.js';
import type { ReadSurface } from './read-surface.js';
import type { WriterChannel } from './writer-channel.js';

/**
 * Resolves once one of `channels` has published a write after the call, when `signal` aborts or
 * after `timeoutMs` (arguments already validated). The counters are snapshotted now, so a write
 * between the caller's last look and this call is not missed.
 */
export function waitForNewWrites(
  progress: ProgressWatcher,
  channels: readonly WriterChannel[],
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
): Promise<void> {
  const before = channels.map((c) => c.writtenOps());
  if (signal?.aborted) return Promise.resolve();
  const wait = progress.waitCancelable(() => channels.some((c, i) => c.writtenOps() !== before[i]));
  const timer = timeoutMs === undefined ? undefined : setTimeout(wait.cancel, timeoutMs);
  signal?.addEventListener('abort', wait.cancel, { once: true });
  return wait.promise.finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', wait.cancel);
  });
}

export type WakeReason = 'woke' | 'closed';

export function isClosed(err: unknown): boolean {
  return err instanceof WalError && err.code === 'ERR_CLOSED';
}

/**
 * Arms a wait for the next write to any of `topics` (snapshotting the writers' counters now), ended
 * early by the caller's signal or by `cancel()`. Never rejects unobserved: the outcome is a value.
 * Arm it before the last look for entries, so a write in between either shows up in that look or
 * ends the wait. Also the mirror's idle wait (src/jetstream/mirror.ts).
 */
export function armWait(
  wal: Pick<ReadSurface, 'waitForWrites'>,
  topics: readonly string[],
  signal: AbortSignal | undefined,
): { done: Promise<WakeReason | { error: unknown }>; cancel: () => void } {
  const wake = new AbortController();
  const cancel = (): void => wake.abort();
  // An 'abort' listener added to a signal that is already aborted never fires: the wait would then
  // last until the next write, maybe forever (a mirror stopped during its last peek hung in stop()).
  if (signal?.aborted) cancel();
  else signal?.addEventListener('abort', cancel, { once: true });
  const done = Promise.race(topics.map((topic) => wal.waitForWrites(topic, { signal: wake.signal }))).then(
    (): WakeReason => 'woke',
    (err: unknown) => (isClosed(err) ? ('closed' as const) : { error: err }),
  );
  void done.finally(() => {
    signal?.removeEventListener('abort', cancel);
    cancel(); // the waits on the other topics end too
  });
  return { done, cancel };
}
