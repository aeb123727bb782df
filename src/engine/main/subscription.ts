/**
 * `wal.subscribe(topic)` (SPEC §3.4): an AsyncIterable that follows a topic's tail.
 *
 * It is a loop over the public read API, not a second read path: `batchRead` takes what is unread
 * (so the read consistency mode and the per-topic read serialization apply unchanged), and when
 * nothing is unread it sleeps in `waitForWrites` until the topic's writer publishes new writes — no
 * timer, no polling. The wait is armed *before* the read that found nothing is repeated, so a write
 * published between that read and the wait cannot be missed (waitForWrites snapshots the writer's
 * counter when called).
 *
 * Consumption is at batch granularity: with `checkpoint: true` every entry of a batch counts as
 * consumed when the batch is read, before the first of them is yielded. Leaving a `for await` loop
 * early (`break`, `throw`) therefore drops the rest of that batch; an abort does not — the entries
 * already taken are still yielded, then the iteration ends. `maxBytes` bounds a batch.
 *
 * With `checkpoint: false` the follower peeks from the next sequence number it owes (the facade's
 * private `peekFrom`), not from the cursor, so it keeps up however far it is ahead of consumers.
 */
import { WalError } from '../../errors.js';
import { encodeTopic } from '../../storage/limits.js';
import type { Entry } from './entry.js';
import type { Walrus } from './walrus.js';

export interface SubscribeOptions {
  /** Ends the iteration (cleanly: it returns, it does not throw). */
  signal?: AbortSignal;
  /**
   * true (default): entries are consumed (the cursor moves, per the read consistency mode) a batch
   * at a time, when the batch is read: leaving the loop early drops the rest of that batch (an
   * abort does not: the batch is yielded to its end first). Competing subscribers of one topic
   * share its entries. false: observe without consuming: every entry from the cursor on, in
   * order; entries other readers consume before this follower reaches them are skipped.
   */
  checkpoint?: boolean;
  /**
   * Payload bytes per batch read (at least one entry per batch; with `checkpoint: true`, `1` = one
   * entry per read, so nothing is taken before it is yielded). Default 64 KiB.
   */
  maxBytes?: number;
}

/** Small enough that an abort's drain and a `break`'s loss stay short, large enough to amortize a cursor record. */
export const DEFAULT_SUBSCRIBE_MAX_BYTES = 64 * 1024;

/** What a subscription needs of the WAL: the public read and wait calls, and a peek from any seq. */
export interface SubscriptionSource extends Pick<Walrus, 'batchRead' | 'waitForWrites'> {
  /** Unconsumed entries from `fromSeq` (or the cursor, if past it) within `maxBytes`, at least one if any. */
  peekFrom(topic: string, fromSeq: number, maxBytes: number): Promise<Entry[]>;
}

interface Resolved {
  signal: AbortSignal | undefined;
  checkpoint: boolean;
  maxBytes: number;
}

/**
 * Validates now (a bad topic or option throws ERR_INVALID_ARGUMENT at the call, not at the first
 * `next()`), and returns an iterable whose every iteration is a new follower starting at the
 * topic's cursor.
 */
export function subscribeTopic(
  wal: SubscriptionSource,
  topic: string,
  options?: SubscribeOptions,
): AsyncIterable<Entry> {
  encodeTopic(topic);
  const resolved = resolveOptions(options);
  return {
    [Symbol.asyncIterator]: () => (resolved.checkpoint ? consume(wal, topic, resolved) : observe(wal, topic, resolved)),
  };
}

function resolveOptions(options: SubscribeOptions | undefined): Resolved {
  if (options === undefined) return { signal: undefined, checkpoint: true, maxBytes: DEFAULT_SUBSCRIBE_MAX_BYTES };
  if (typeof options !== 'object' || options === null)
    throw WalError.invalidArgument('subscribe options must be an object');
  const { signal, checkpoint = true, maxBytes = DEFAULT_SUBSCRIBE_MAX_BYTES } = options;
  if (signal !== undefined && !isAbortSignal(signal)) throw WalError.invalidArgument('signal must be an AbortSignal');
  if (typeof checkpoint !== 'boolean')
    throw WalError.invalidArgument(`checkpoint must be a boolean, got ${typeof checkpoint}`);
  if (typeof maxBytes !== 'number' || !(maxBytes >= 1) || (!Number.isSafeInteger(maxBytes) && maxBytes !== Infinity)) {
    throw WalError.invalidArgument(`maxBytes must be a positive integer (or Infinity), got ${String(maxBytes)}`);
  }
  return { signal, checkpoint, maxBytes };
}

/** Duck-typed so a signal from another realm (vm context, polyfill) is accepted too. */
function isAbortSignal(value: unknown): value is AbortSignal {
  const s = value as AbortSignal | null;
  return (
    typeof s === 'object' && s !== null && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function'
  );
}

function isClosed(err: unknown): boolean {
  return err instanceof WalError && err.code === 'ERR_CLOSED';
}

/** A batch, or null when the WAL closed (the iteration then ends instead of throwing). */
async function unlessClosed(read: Promise<Entry[]>): Promise<Entry[] | null> {
  try {
    return await read;
  } catch (err) {
    if (isClosed(err)) return null;
    throw err;
  }
}

type WakeReason = 'woke' | 'closed';

/**
 * Arms a wait for the next write to any of `topics` (snapshotting the writers' counters now), ended
 * early by the caller's signal or by `cancel()`. Never rejects unobserved: the outcome is a value.
 * Arm it before the last look for entries, so a write in between either shows up in that look or
 * ends the wait. Also the mirror's idle wait (src/jetstream/mirror.ts).
 */
export function armWait(
  wal: Pick<Walrus, 'waitForWrites'>,
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

/**
 * The next non-empty batch `read` returns, sleeping until new writes when there is none. Returns
 * null when the iteration must end (abort or close).
 */
async function nextBatch(
  wal: SubscriptionSource,
  topic: string,
  opts: Resolved,
  read: () => Promise<Entry[] | null>,
): Promise<Entry[] | null> {
  for (;;) {
    if (opts.signal?.aborted) return null;
    const first = await read();
    if (first === null || first.length > 0) return first;
    if (opts.signal?.aborted) return null;
    // Nothing unread: arm the wait first, then look once more, so a write published in between
    // either shows up in this read or wakes the wait.
    const wait = armWait(wal, [topic], opts.signal);
    const again = await read().catch((err: unknown) => {
      wait.cancel();
      throw err;
    });
    if (again === null || again.length > 0) {
      wait.cancel();
      return again;
    }
    const outcome = await wait.done;
    if (outcome === 'closed') return null;
    if (outcome !== 'woke') throw outcome.error;
  }
}

/**
 * checkpoint: true — every batch is a checkpointed read. An abort lets the batch already taken be
 * yielded to the end (those entries are consumed: dropping them would lose them for good in
 * strictly-at-once mode), then the iteration ends.
 */
async function* consume(
  wal: SubscriptionSource,
  topic: string,
  opts: Resolved,
): AsyncGenerator<Entry, void, undefined> {
  const read = (): Promise<Entry[] | null> =>
    unlessClosed(wal.batchRead(topic, { maxBytes: opts.maxBytes, checkpoint: true }));
  for (;;) {
    const batch = await nextBatch(wal, topic, opts, read);
    if (batch === null) return;
    yield* batch;
  }
}

/**
 * checkpoint: false — the follower remembers the next sequence number it owes and peeks from
 * there. Nothing is consumed, so an abort ends the iteration at once.
 */
async function* observe(
  wal: SubscriptionSource,
  topic: string,
  opts: Resolved,
): AsyncGenerator<Entry, void, undefined> {
  let nextSeq = 0;
  const read = (): Promise<Entry[] | null> => unlessClosed(wal.peekFrom(topic, nextSeq, opts.maxBytes));
  for (;;) {
    const batch = await nextBatch(wal, topic, opts, read);
    if (batch === null) return;
    for (const entry of batch) {
      if (opts.signal?.aborted) return;
      nextSeq = entry.seq + 1;
      yield entry;
    }
  }
}
