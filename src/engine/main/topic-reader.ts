/**
 * The main thread's read path. A `TopicReader` is one topic's consumer state — the cursor (next
 * sequence number to deliver) and a read-ahead cache of entries fetched from the topic's writer in
 * batches, so readNext costs a control round trip only once per batch — and the reads that move
 * them: nothing outside this file writes the cursor or the cache. Cached entries are immutable and
 * always start at the cursor, so the cache can never hide or reorder anything.
 *
 * Reads of one topic run one at a time (`#reads`), which is what makes concurrent readNext callers
 * in strictly-at-once mode receive each entry exactly once. What all topics' readers share (the
 * cursor store, the checkpoint policy, the in-flight set close() drains, the byte counter) is the
 * `ReadPath`.
 */
import { WalError } from '../../errors.js';
import type { FsyncMode } from '../../options.js';
import { byteView } from '../../storage/byte-view.js';
import { CheckpointPolicy } from '../../storage/checkpoint-policy.js';
import { isDetached } from '../../storage/limits.js';
import type { CursorStore } from '../../storage/cursor-store.js';
import {
  CURSOR_DURABLE,
  CURSOR_WRITTEN,
  FATAL_CODE,
  FLUSHER_DOORBELL,
  FLUSHER_WAITING,
  reached,
  ring,
} from '../shared/progress-cells.js';
import { Entry } from './entry.js';
import { READ_CHUNK_BYTES, type SegmentReads } from './segment-reads.js';
import type { Lifecycle } from './lifecycle.js';
import { SerialQueue } from './serial-queue.js';

/** What one read takes from the segment files when a caller does not say (readNext). */
const READ_AHEAD_BYTES = READ_CHUNK_BYTES;
const RESOLVED: Promise<void> = Promise.resolve();
/**
 * How long reads may run synchronously in one event-loop turn. A read served at once resolves in a
 * microtask, so a consumer looping over a hot backlog would otherwise hold the event loop until the
 * backlog is gone; past its budget the next read waits for the loop to turn first. The budget is
 * what the rest of the loop took while the reads last waited (a fair half of the loop for a
 * consumer beside a busy producer), at least MIN and at most MAX.
 */
const TURN_READ_BUDGET_MIN_MS = 0.5;
const TURN_READ_BUDGET_MAX_MS = 8;
/** Cheap reads (a cached readNext) look at the clock once per this many calls. */
const CLOCK_EVERY_CALLS = 32;

export interface ReadPathOptions {
  readonly cursors: CursorStore;
  /** Where entries are read from (the main thread's index of every topic's runs). */
  readonly segments: SegmentReads;
  readonly cells: Int32Array;
  readonly lifecycle: Lifecycle;
  readonly readConsistency: unknown;
  readonly fsync: FsyncMode;
  readonly maxBatchEntries: number;
  /** Resolves once `done()` holds (re-checked on progress); rejects once the WAL failed. */
  readonly waitFor: (done: () => boolean) => Promise<void>;
  /** A consume moved a cursor: reclamation may find something to delete. */
  readonly onCursorMoved: () => void;
}

/** What every topic's reader shares. */
export class ReadPath {
  readonly policy: CheckpointPolicy;
  readonly #inflight = new Set<Promise<unknown>>();
  #bytesRead = 0;
  /** Cursor advances of this turn waiting for their one write, and how to undo each read's. */
  #advances = new Map<number, number>();
  #rewinds: Array<() => void> = [];
  #flush: Promise<void> | null = null;
  #turnArmed = false;
  #turnStartMs = 0;
  #budgetMs = TURN_READ_BUDGET_MIN_MS;
  /** When reads last ran out of budget (0: they did not since the last turn began). */
  #yieldedAtMs = 0;
  #turnCalls = 0;
  #overBudget = false;

  readonly options: ReadPathOptions;

  constructor(options: ReadPathOptions) {
    this.options = options;
    this.policy = new CheckpointPolicy(options.readConsistency);
  }

  /**
   * Whether a read may run synchronously now, or must first let the event loop turn (`nextTurn`):
   * false once this turn's reads used their budget (TURN_READ_BUDGET_MIN_MS…MAX_MS). `heavy` reads
   * look at the clock every time, others every CLOCK_EVERY_CALLS calls.
   */
  mayReadNow(heavy: boolean): boolean {
    if (!this.#turnArmed) {
      this.#turnArmed = true;
      const nowMs = performance.now();
      // Reads waited for the loop since #yieldedAtMs: what the rest took meanwhile is their share.
      const othersMs = this.#yieldedAtMs > 0 ? nowMs - this.#yieldedAtMs : 0;
      this.#budgetMs = Math.min(TURN_READ_BUDGET_MAX_MS, Math.max(TURN_READ_BUDGET_MIN_MS, othersMs));
      this.#yieldedAtMs = 0;
      this.#turnStartMs = nowMs;
      setImmediate(this.#endTurn);
      return true;
    }
    if (this.#overBudget) return false;
    if (!heavy && ++this.#turnCalls % CLOCK_EVERY_CALLS !== 0) return true;
    const nowMs = performance.now();
    this.#overBudget = nowMs - this.#turnStartMs >= this.#budgetMs;
    if (this.#overBudget) this.#yieldedAtMs = nowMs;
    return !this.#overBudget;
  }

  /** Resolves in the next turn of the event loop (after timers and I/O had their turn). */
  nextTurn(): Promise<void> {
    return new Promise<void>((resolve) => setImmediate(resolve));
  }

  readonly #endTurn = (): void => {
    this.#turnArmed = false;
    this.#overBudget = false;
    this.#turnCalls = 0;
  };

  /** Payload bytes reads returned, since open. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  noteBytesRead(bytes: number): void {
    this.#bytesRead += bytes;
  }

  /** Settles once every read started so far has (close() waits for it). */
  drain(): Promise<unknown> {
    return Promise.allSettled([...this.#inflight]);
  }

  /**
   * Persists `topicId`'s cursor at `nextSeq` together with every other advance made in this turn
   * of the event loop: one cursor-log write (CursorStore.advanceAll) in a microtask, after which
   * the returned promise resolves — so no read resolves before the record moving its cursor
   * reached the OS. If that write fails, every read of the turn rejects and `rewind` gives its
   * entries back.
   */
  persistSoon(topicId: number, nextSeq: number, rewind: () => void): Promise<void> {
    this.#advances.set(topicId, Math.max(this.#advances.get(topicId) ?? 0, nextSeq));
    this.#rewinds.push(rewind);
    if (this.#flush === null) {
      this.#flush = new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => this.#persistTurn());
      void this.track(this.#flush).catch(() => undefined);
    }
    return this.#flush;
  }

  #persistTurn(): void {
    const advances = this.#advances;
    const rewinds = this.#rewinds;
    this.#advances = new Map();
    this.#rewinds = [];
    this.#flush = null;
    const { cursors, cells } = this.options;
    try {
      cursors.advanceAll(advances);
    } catch (err) {
      for (const rewind of rewinds) rewind();
      throw err;
    }
    Atomics.store(cells, CURSOR_WRITTEN, cursors.recordsWritten);
  }

  track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    const done = (): void => {
      this.#inflight.delete(p);
    };
    p.then(done, done);
    return p;
  }
}

/**
 * Entries of one read share one ArrayBuffer; a caller that transfers `entry.data.buffer` detaches
 * its cached siblings too. A view of a detached buffer reads as empty, so this is checked before
 * an entry is handed out (cheap: only an empty view needs the full test).
 */
function isDetachedEntry(entry: Entry): boolean {
  return entry.data.byteLength === 0 && isDetached(entry.data);
}

/** What a queued read handed out, and what must happen before its caller gets it. */
interface Handed<T> {
  readonly value: T;
  readonly settled: Promise<void>;
}

function handed<T>(value: T, settled: Promise<void>): Handed<T> {
  // Observed later (once the queue moves on); a rejection before that is not unhandled.
  settled.catch(() => undefined);
  return { value, settled };
}

export class TopicReader {
  readonly #path: ReadPath;
  readonly #topicId: number;
  readonly #topicName: string;
  readonly #writer: number;
  #cursor: number;
  #cache: Entry[] = [];
  #head = 0;
  readonly #reads = new SerialQueue();

  constructor(
    path: ReadPath,
    topic: { readonly id: number; readonly name: string; readonly writer: number },
    cursor: number,
  ) {
    this.#path = path;
    this.#topicId = topic.id;
    this.#topicName = topic.name;
    this.#writer = topic.writer;
    this.#cursor = cursor;
    path.options.segments.addTopic(topic.id, topic.name);
  }

  /** The next sequence number to deliver. */
  get cursor(): number {
    return this.#cursor;
  }

  /** The next unread entry, or null when there is none. */
  readNext(checkpoint: boolean): Promise<Entry | null> {
    // Fast path: no read of this topic is queued and the next entry is cached or read now
    // (a synchronous read of the page cache), so it is handed out without a queued turn.
    if (!this.#reads.busy && this.#path.mayReadNow(false)) {
      let entry = this.#peek();
      if (entry === undefined) {
        const got = this.#fetchNow(READ_AHEAD_BYTES);
        if (got === 0) return Promise.resolve(null);
        if (got > 0) entry = this.#peek();
      }
      if (entry !== undefined) return checkpoint ? this.#consume([entry]).then(() => entry) : Promise.resolve(entry);
    }
    return this.#exclusive(async () => {
      if (!this.#path.mayReadNow(false)) await this.#path.nextTurn();
      let entry = this.#peek();
      if (!entry) {
        await this.#fetch(READ_AHEAD_BYTES);
        entry = this.#peek();
      }
      if (!entry) return handed(null, RESOLVED);
      return handed(entry, checkpoint ? this.#consume([entry]) : RESOLVED);
    });
  }

  /** Up to `maxBatchEntries` unread entries within `maxBytes` of payload (at least one if any). */
  batchRead(maxBytes: number, checkpoint: boolean): Promise<Entry[]> {
    if (!this.#reads.busy && maxBytes <= READ_CHUNK_BYTES && this.#path.mayReadNow(true)) {
      // Fast path: one chunk or less, read synchronously, no queued turn.
      const out = this.#collectNow(maxBytes);
      if (out !== null) return this.#finishBatch(out, checkpoint);
    }
    return this.#exclusive(async () => {
      if (!this.#path.mayReadNow(true)) await this.#path.nextTurn();
      for (;;) {
        const out = await this.#collect(maxBytes);
        // A sibling's buffer detached while a chunk was awaited: read those entries again.
        if (!this.#truncateAtDetached(out))
          return handed(out, checkpoint && out.length > 0 ? this.#consume(out) : RESOLVED);
      }
    });
  }

  /**
   * Moves cached entries after those already in `out` into it while they fit `maxBytes` (the first
   * always does) and `maxEntries`: the payload bytes now in `out`, or -1 once the byte budget is
   * reached, which ends the batch.
   */
  #takeCached(out: Entry[], bytes: number, maxBytes: number, maxEntries: number): number {
    while (out.length < maxEntries) {
      const next = this.#peek(out.length);
      if (!next) break;
      if (out.length > 0 && bytes + next.data.byteLength > maxBytes) return -1;
      out.push(next);
      bytes += next.data.byteLength;
    }
    return bytes;
  }

  /** The batch read of `maxBytes` without waiting, or null when it must wait (a run-log resync). */
  #collectNow(maxBytes: number): Entry[] | null {
    const maxEntries = this.#path.options.maxBatchEntries;
    const out: Entry[] = [];
    let bytes = 0;
    for (;;) {
      bytes = this.#takeCached(out, bytes, maxBytes, maxEntries);
      if (bytes < 0) return out;
      if (out.length >= maxEntries) return out;
      const got = this.#fetchNow(Math.max(READ_AHEAD_BYTES, maxBytes - bytes));
      if (got === 0) return out;
      if (got < 0) return null;
    }
  }

  /**
   * The cached entries a batch read hands out, reading chunks until the budget is met. Each chunk
   * after the first waits for the event loop to turn, so a large read never holds it for long.
   */
  async #collect(maxBytes: number): Promise<Entry[]> {
    const maxEntries = this.#path.options.maxBatchEntries;
    const out: Entry[] = [];
    let bytes = 0;
    for (let chunk = 0; ; chunk++) {
      bytes = this.#takeCached(out, bytes, maxBytes, maxEntries);
      if (bytes < 0) return out;
      if (out.length >= maxEntries) break;
      if (chunk > 0) await this.#path.nextTurn();
      if (!(await this.#fetch(Math.max(READ_AHEAD_BYTES, maxBytes - bytes)))) break;
    }
    return out;
  }

  /**
   * Entries from `fromSeq` on — or from the cursor, when consumers already moved past it (what
   * they consumed may be reclaimed) — without consuming anything: what a `checkpoint: false`
   * subscription follows the tail with, since a peek at the cursor cannot reach past
   * `maxBatchEntries` unconsumed entries.
   */
  peekFrom(fromSeq: number, maxBytes: number): Promise<Entry[]> {
    return this.#exclusive(async () => {
      for (;;) {
        const read = this.#readSegments(Math.max(fromSeq, this.#cursor), maxBytes);
        if (Array.isArray(read)) return handed(read, RESOLVED);
        await read;
      }
    });
  }

  /**
   * Runs `fn` after every read queued before it on this topic; close() waits for it. The queue
   * covers handing entries out (moving the cursor), not persisting it: the next queued read starts
   * at once, so reads queued in one turn still share one cursor-log write; the caller's promise
   * settles once `settled` does.
   */
  #exclusive<T>(fn: () => Promise<Handed<T>>): Promise<T> {
    return this.#path.track(this.#reads.run(fn).then(({ value, settled }) => settled.then(() => value)));
  }

  #finishBatch(out: Entry[], checkpoint: boolean): Promise<Entry[]> {
    if (checkpoint && out.length > 0) return this.#consume(out).then(() => out);
    return Promise.resolve(out);
  }

  /** The cached entry `index` places after the cursor; undefined when not cached or no longer readable. */
  #peek(index = 0): Entry | undefined {
    const entry = this.#cache[this.#head + index];
    if (entry === undefined || !isDetachedEntry(entry)) return entry;
    // The caller transferred the buffer this entry shares with the rest of its read: it and every
    // later cached entry are read again from the segment, never handed out empty.
    this.#cache.length = this.#head + index;
    return undefined;
  }

  /** Whether an entry of `out` (the first cached ones) is detached; if so the cache ends before it. */
  #truncateAtDetached(out: readonly Entry[]): boolean {
    const at = out.findIndex(isDetachedEntry);
    if (at < 0) return false;
    this.#cache.length = this.#head + at;
    return true;
  }

  /** Sequence number right after the cached entries (where the next fetch starts). */
  #fetchFrom(): number {
    return this.#cache.length > this.#head ? this.#cache[this.#cache.length - 1]!.seq + 1 : this.#cursor;
  }

  /** Appends a batch read from `fromSeq`; returns how many it added. */
  #fill(entries: Entry[]): number {
    if (entries.length === 0) return 0;
    if (this.#head === this.#cache.length) {
      this.#cache = entries;
      this.#head = 0;
    } else {
      for (const e of entries) this.#cache.push(e);
    }
    return entries.length;
  }

  /** Drops the first `n` cached entries (they were consumed). */
  #drop(n: number): void {
    this.#head += n;
    if (this.#head >= this.#cache.length) {
      this.#cache = [];
      this.#head = 0;
    }
  }

  /** Makes more entries available after the cached ones; returns how many arrived. */
  async #fetch(maxBytes: number): Promise<number> {
    for (;;) {
      const read = this.#readSegments(this.#fetchFrom(), maxBytes);
      if (Array.isArray(read)) return this.#fill(read);
      await read;
    }
  }

  /** `#fetch` without waiting: how many entries arrived, or -1 when it must wait (a run-log resync). */
  #fetchNow(maxBytes: number): number {
    const read = this.#readSegments(this.#fetchFrom(), maxBytes);
    if (!Array.isArray(read)) {
      void read.catch(() => undefined); // awaited again by the slow path that follows
      return -1;
    }
    return this.#fill(read);
  }

  /** Up to `maxBatchEntries` entries from `fromSeq` within `maxBytes` (at least one), read from the segment files. */
  #readSegments(fromSeq: number, maxBytes: number): Entry[] | Promise<void> {
    const { segments, maxBatchEntries } = this.#path.options;
    const batch = segments.read(this.#topicId, this.#topicName, this.#writer, fromSeq, maxBytes, maxBatchEntries);
    if (!('entries' in batch)) return batch;
    const { data, entries: refs } = batch;
    const entries: Entry[] = new Array<Entry>(refs.length);
    let payloadBytes = 0;
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!;
      const bytes = byteView(data, ref.offset, ref.offset + ref.length);
      entries[i] = new Entry(this.#topicName, ref.seq, bytes, ref.codec, ref.timeMs);
      payloadBytes += ref.length;
    }
    // Payload only: an in-place read's buffer also holds frame headers.
    this.#path.noteBytesRead(payloadBytes);
    return entries;
  }

  /**
   * Consumes `entries` (the first cached ones): moves the cursor past them and drops them from
   * the cache now, and — when the read consistency says so — resolves once the turn's cursor
   * write (ReadPath.persistSoon) reached the OS; a failed write gives them back. Under fsync
   * 'each' a persisted advance resolves once the cursor log is durable.
   */
  #consume(entries: Entry[]): Promise<void> {
    const { cursors, lifecycle, fsync } = this.#path.options;
    // A read queued behind one that failed must not move the cursor past the entries given back.
    lifecycle.checkUsable();
    const firstSeq = entries[0]!.seq;
    const nextSeq = entries[entries.length - 1]!.seq + 1;
    const persist = this.#path.policy.recordCheckpoint(this.#topicId, entries.length);
    this.#path.options.onCursorMoved();
    if (!persist) {
      cursors.advance(this.#topicId, nextSeq, false);
      this.#cursor = nextSeq;
      this.#drop(entries.length);
      return RESOLVED;
    }
    // Handed out now (a concurrent read takes the next entries), persisted with the turn's write.
    this.#cursor = nextSeq;
    this.#drop(entries.length);
    const written = this.#path.persistSoon(this.#topicId, nextSeq, () => this.#rewind(firstSeq));
    if (fsync !== 'each') return written;
    return written.then(() => this.#awaitDurable(firstSeq));
  }

  /** The turn's cursor write failed: entries from `firstSeq` on are unconsumed again. */
  #rewind(firstSeq: number): void {
    if (this.#cursor <= firstSeq) return;
    this.#cursor = firstSeq;
    this.#cache = [];
    this.#head = 0;
  }

  /** Under fsync 'each': resolves once the cursor log is durable up to what this thread wrote. */
  #awaitDurable(firstSeq: number): Promise<void> {
    const { cursors, cells } = this.#path.options;
    const written = cursors.recordsWritten;
    ring(cells, FLUSHER_DOORBELL, FLUSHER_WAITING);
    return this.#path.options
      .waitFor(() => {
        // A failed fsync stops CURSOR_DURABLE for good: without this check the read would hang.
        if (Atomics.load(cells, FATAL_CODE) !== 0) {
          throw new WalError(
            'ERR_FSYNC_FAILED',
            'an fsync failed: this read cannot be made durable; reopen the WAL to recover',
          );
        }
        return reached(Atomics.load(cells, CURSOR_DURABLE), written);
      })
      .catch((err: unknown) => {
        // The read rejects, so its entries must stay unconsumed, but their cursor record already
        // reached the OS: without a record moving the cursor back (this thread writes the log
        // itself, no flusher needed) a reopen would skip entries no caller ever received.
        this.#rewind(firstSeq);
        try {
          cursors.clamp(this.#topicId, firstSeq);
        } catch {
          // The cursor store is closed or the disk refuses: nothing more can be done here.
        }
        throw err;
      });
  }
}
