/**
 * `wal.subscribe(topic)` (docs/SEMANTICS.md rule D8): an AsyncIterable that follows a topic's tail.
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
import { checkCheckpoint, checkMaxBytes, checkOptionsObject, checkSignal } from '../../argument-checks.js';
import { encodeTopic } from '../../storage/limits.js';
import type { Entry } from './entry.js';
import type { SubscribeOptions } from './public-types.js';
import type { ReadSurface } from './read-surface.js';
import { armWait, isClosed } from './write-waits.js';

export type { SubscribeOptions };

/** Small enough that an abort's drain and a `break`'s loss stay short, large enough to amortize a cursor record. */
export const DEFAULT_SUBSCRIBE_MAX_BYTES = 64 * 1024;

/** What a subscription needs of the WAL: the public read and wait calls, and a peek from any seq. */
export interface SubscriptionSource extends Pick<ReadSurface, 'batchRead' | 'waitForWrites'> {
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
  const o = checkOptionsObject(options, 'subscribe options');
  if (o === undefined) return { signal: undefined, checkpoint: true, maxBytes: DEFAULT_SUBSCRIBE_MAX_BYTES };
  return {
    signal: checkSignal(o.signal),
    checkpoint: checkCheckpoint(o.checkpoint),
    maxBytes: o.maxBytes === undefined ? DEFAULT_SUBSCRIBE_MAX_BYTES : checkMaxBytes(o.maxBytes),
  };
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

const DONE: IteratorResult<Entry, undefined> = Object.freeze({ value: undefined, done: true });

/**
 * An async iterator over batches that hands out the entries of a batch already taken without an
 * async generator: a generator's `yield` awaits each value and resumes through the microtask queue
 * again (~0.5 µs an entry here), where this resolves `next()` at once from the batch. The next
 * batch is taken once the last is handed out. Calls of `next()` made while a batch is being taken
 * wait for it, in order, as a generator queues them; `return()` drops the rest of the batch (the
 * entries were consumed when it was read: docs/SEMANTICS.md rule D8).
 */
class BatchIterator implements AsyncIterator<Entry, undefined> {
  readonly #take: () => Promise<Entry[] | null>;
  #batch: readonly Entry[] = [];
  #index = 0;
  #ended = false;
  /** The `next()` that is taking a batch; later calls chain on it. */
  #taking: Promise<IteratorResult<Entry, undefined>> | null = null;

  /** A queued call: after the batch arrived, or after the failure that ended the iteration (DONE). */
  readonly #again = (): Promise<IteratorResult<Entry, undefined>> => this.next();

  constructor(take: () => Promise<Entry[] | null>) {
    this.#take = take;
  }

  next(): Promise<IteratorResult<Entry, undefined>> {
    if (this.#taking !== null) return this.#taking.then(this.#again, this.#again);
    if (this.#index < this.#batch.length) return Promise.resolve({ value: this.#batch[this.#index++]!, done: false });
    if (this.#ended) return Promise.resolve(DONE);
    const taking = this.#take().then(
      (batch): IteratorResult<Entry, undefined> => {
        this.#taking = null;
        if (batch === null) {
          this.#ended = true;
          return DONE;
        }
        // After a return() that came while this call waited, its caller still gets the first entry.
        this.#batch = this.#ended ? [] : batch;
        this.#index = 1;
        return { value: batch[0]!, done: false };
      },
      (err: unknown) => {
        this.#taking = null;
        this.#ended = true;
        throw err;
      },
    );
    this.#taking = taking;
    return taking;
  }

  return(): Promise<IteratorResult<Entry, undefined>> {
    this.#ended = true;
    this.#batch = [];
    return Promise.resolve(DONE);
  }
}

/**
 * checkpoint: true — every batch is a checkpointed read. An abort lets the batch already taken be
 * yielded to the end (those entries are consumed: dropping them would lose them for good in
 * strictly-at-once mode), then the iteration ends.
 */
function consume(wal: SubscriptionSource, topic: string, opts: Resolved): AsyncIterator<Entry, undefined> {
  const read = (): Promise<Entry[] | null> =>
    unlessClosed(wal.batchRead(topic, { maxBytes: opts.maxBytes, checkpoint: true }));
  return new BatchIterator(() => nextBatch(wal, topic, opts, read));
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
