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
import { newReadHint, type ReadHint } from '../../storage/read-hint.js';
import { DEFAULT_CONSUMER_ID, type CursorStore } from '../../storage/cursor-store.js';
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
import { afterGap, unreadCount, type TopicGaps } from '../../storage/seq-gaps.js';
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
  /**
   * A consumer's position fell below its topic's first retained entry (a retention limit deleted
   * what it had not read): it continues from there; seqs `fromSeq` … `toSeq` are lost to it.
   */
  readonly onSkipped?: (consumerId: number, topic: string, fromSeq: number, toSeq: number) => void;
  /** Per topic, seqs consumed and lost before this open (seq-gaps.ts): readers skip them, as lost. */
  readonly gaps?: ReadonlyMap<number, TopicGaps>;
}

/** What every topic's reader shares. */
export class ReadPath {
  /** The default consumer's checkpoint policy; named consumers' are in #policies. */
  readonly policy: CheckpointPolicy;
  readonly #policies = new Map<number, CheckpointPolicy>();
  readonly #inflight = new Set<Promise<unknown>>();
  #bytesRead = 0;
  /**
   * Cursor advances of this turn waiting for their one write, and who to tell if it fails (reused
   * from turn to turn: a sequential strictly-at-once reader has a turn's write per read). The
   * default consumer's advances by topic; named consumers' by consumer, then topic.
   */
  readonly #advances = new Map<number, number>();
  readonly #namedAdvances = new Map<number, Map<number, number>>();
  readonly #rewindReaders: TopicReader[] = [];
  readonly #rewindSeqs: number[] = [];
  /** Settles once this turn's write did; null when no advance waits. */
  #flush: Promise<void> | null = null;
  #flushed: (() => void) | null = null;
  #flushFailed: ((err: unknown) => void) | null = null;
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
    this.#policies.set(DEFAULT_CONSUMER_ID, this.policy);
  }

  /** The checkpoint policy of a consumer: each counts its own reads (SEMANTICS rule 11). */
  /** Entries a consumer at `position` has left to read before `nextSeq` (recorded gaps are not entries). */
  unread(topicId: number, position: number, nextSeq: number): number {
    return unreadCount(this.options.gaps?.get(topicId), position, nextSeq);
  }

  policyFor(consumerId: number): CheckpointPolicy {
    let policy = this.#policies.get(consumerId);
    if (policy === undefined) this.#policies.set(consumerId, (policy = new CheckpointPolicy(this.policy.consistency)));
    return policy;
  }

  /** Consumers whose at-least-once policy owes a persist, with the topics it owes (for close). */
  pendingPersists(): Array<[consumerId: number, topicIds: number[]]> {
    const out: Array<[number, number[]]> = [];
    for (const [id, policy] of this.#policies) {
      const pending = policy.pending();
      if (pending.length > 0) out.push([id, pending]);
    }
    return out;
  }

  /** Resolves once this turn's cursor write (if one is queued) was made: what a seek waits for. */
  persisted(): Promise<void> {
    return this.#flush ?? RESOLVED;
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
    const pending: Array<Promise<unknown>> = [...this.#inflight];
    if (this.#flush !== null) pending.push(this.#flush);
    return Promise.allSettled(pending);
  }

  /**
   * Persists `topicId`'s cursor at `nextSeq` together with every other advance made in this turn
   * of the event loop: one cursor-log write (CursorStore.advanceAll) in a microtask, after which
   * the returned promise resolves — so no read resolves before the record moving its cursor
   * reached the OS. If that write fails, every read of the turn rejects and `reader` gives back
   * the entries from `firstSeq` on.
   */
  persistSoon(
    topicId: number,
    nextSeq: number,
    reader: TopicReader,
    firstSeq: number,
    consumerId = DEFAULT_CONSUMER_ID,
  ): Promise<void> {
    let advances = this.#advances;
    if (consumerId !== DEFAULT_CONSUMER_ID) {
      let named = this.#namedAdvances.get(consumerId);
      if (named === undefined) this.#namedAdvances.set(consumerId, (named = new Map()));
      advances = named;
    }
    const known = advances.get(topicId);
    if (known === undefined || nextSeq > known) advances.set(topicId, nextSeq);
    this.#rewindReaders.push(reader);
    this.#rewindSeqs.push(firstSeq);
    if (this.#flush === null) {
      this.#flush = new Promise<void>((resolve, reject) => {
        this.#flushed = resolve;
        this.#flushFailed = reject;
      });
      // A promise reaction rather than queueMicrotask, which makes an async resource per call.
      void RESOLVED.then(this.#persistTurn);
    }
    return this.#flush;
  }

  readonly #persistTurn = (): void => {
    const flushed = this.#flushed!;
    const failed = this.#flushFailed!;
    this.#flush = this.#flushed = this.#flushFailed = null;
    const { cursors, cells } = this.options;
    try {
      if (this.#namedAdvances.size === 0) cursors.advanceAll(this.#advances);
      else cursors.advanceMany(new Map([[DEFAULT_CONSUMER_ID, this.#advances], ...this.#namedAdvances]));
    } catch (err) {
      for (let i = 0; i < this.#rewindReaders.length; i++) this.#rewindReaders[i]!.rewind(this.#rewindSeqs[i]!);
      failed(err);
      return;
    } finally {
      this.#advances.clear();
      this.#namedAdvances.clear();
      this.#rewindReaders.length = 0;
      this.#rewindSeqs.length = 0;
    }
    Atomics.store(cells, CURSOR_WRITTEN, cursors.recordsWritten);
    flushed();
  };

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
  readonly #consumerId: number;
  readonly #policy: CheckpointPolicy;
  #cursor: number;
  /** The topic's first retained seq as this reader last heard (retention limits raise it). */
  #floor = 0;
  /** Seqs below this were already reported lost ('skipped'). */
  #skippedTo = 0;
  #cache: Entry[] = [];
  #head = 0;
  readonly #reads = new SerialQueue();
  /** Where this consumer's last read of the segment files stopped (its own: see ReadHint). */
  readonly #hint: ReadHint = newReadHint();

  constructor(
    path: ReadPath,
    topic: { readonly id: number; readonly name: string; readonly writer: number },
    cursor: number,
    consumerId = DEFAULT_CONSUMER_ID,
  ) {
    this.#path = path;
    this.#topicId = topic.id;
    this.#topicName = topic.name;
    this.#writer = topic.writer;
    this.#cursor = cursor;
    this.#consumerId = consumerId;
    this.#policy = path.policyFor(consumerId);
    path.options.segments.addTopic(topic.id, topic.name);
  }

  /** The next sequence number to deliver. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Entries this consumer has left to read before `nextSeq`. */
  unreadBefore(nextSeq: number): number {
    return this.#path.unread(this.#topicId, this.#cursor, nextSeq);
  }

  /**
   * Moves the position to `seq` (`seek`), after every read queued before it handed its entries out
   * and the turn's cursor write landed (so that write cannot move it forward again); persisted at
   * once when the consumer's registration is durable.
   */
  seekTo(seq: () => number | Promise<number>): Promise<void> {
    return this.#exclusive(async () => {
      await this.#path.persisted();
      const target = await seq();
      this.#cursor = target;
      this.#cache = [];
      this.#head = 0;
      this.#path.options.cursors.setPosition(this.#consumerId, this.#topicId, target, true);
      this.#path.options.onCursorMoved();
      return handed(undefined, RESOLVED);
    });
  }

  /**
   * The topic's first retained seq rose to `floor` (a retention limit deleted segments): reads from
   * below it continue from it, reporting what was lost (ReadPathOptions.onSkipped).
   */
  raiseFloor(floor: number): void {
    if (floor <= this.#floor) return;
    this.#floor = floor;
    if (this.#reads.busy || this.#cursor >= floor) return; // a busy reader's next #peek or fetch sees the floor
    this.#cache = [];
    this.#head = 0;
    this.#skipLost(this.#cursor, floor);
  }

  /**
   * Reading from `fromSeq`, every seq below `to` is gone (below a raised floor, or in a recorded
   * gap): reports them once, moves an uncached cursor there, and returns `to`.
   */
  #skipLost(fromSeq: number, to: number): number {
    const lostFrom = Math.max(fromSeq, this.#skippedTo);
    if (lostFrom < to) this.#path.options.onSkipped?.(this.#consumerId, this.#topicName, lostFrom, to - 1);
    this.#skippedTo = Math.max(this.#skippedTo, to);
    if (this.#cache.length === this.#head && this.#cursor < to) {
      this.#cursor = to;
      this.#path.options.cursors.setPosition(this.#consumerId, this.#topicId, to, false);
    }
    return to;
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
      if (entry !== undefined)
        return checkpoint ? this.#consume(entry.seq, 1).then(() => entry) : Promise.resolve(entry);
    }
    return this.#exclusive(async () => {
      if (!this.#path.mayReadNow(false)) await this.#path.nextTurn();
      let entry = this.#peek();
      if (!entry) {
        await this.#fetch(READ_AHEAD_BYTES);
        entry = this.#peek();
      }
      if (!entry) return handed(null, RESOLVED);
      return handed(entry, checkpoint ? this.#consume(entry.seq, 1) : RESOLVED);
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
          return handed(out, checkpoint && out.length > 0 ? this.#consume(out[0]!.seq, out.length) : RESOLVED);
      }
    });
  }

  /**
   * Moves cached entries after those already in `out` into it while they fit `maxBytes` (the first
   * always does) and `maxEntries`: the payload bytes now in `out`, or -1 once the byte budget is
   * reached, which ends the batch.
   */
  #takeCached(out: Entry[], bytes: number, maxBytes: number, maxEntries: number): number {
    // #peek's loop, inlined: this runs once per entry handed out.
    const cache = this.#cache;
    for (let at = this.#head + out.length; at < cache.length && out.length < maxEntries; at++) {
      const next = cache[at]!;
      const length = next.data.byteLength;
      if ((length === 0 && isDetached(next.data)) || next.seq < this.#floor) {
        cache.length = at; // as #peek: read again (or skipped, below a raised floor), never handed out empty
        break;
      }
      if (out.length > 0 && bytes + length > maxBytes) return -1;
      out.push(next);
      bytes += length;
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
    if (checkpoint && out.length > 0) return this.#consume(out[0]!.seq, out.length).then(() => out);
    return Promise.resolve(out);
  }

  /** The cached entry `index` places after the cursor; undefined when not cached or no longer readable. */
  #peek(index = 0): Entry | undefined {
    const entry = this.#cache[this.#head + index];
    // Below the floor: a retention limit deleted it after it was read ahead; it is skipped, reported.
    if (entry === undefined || (!isDetachedEntry(entry) && entry.seq >= this.#floor)) return entry;
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
    } else {
      // Consumed entries are cut off first: a reader that always keeps a chunk read ahead never
      // empties its cache, which would otherwise hold every entry it ever read.
      const cache = this.#head === 0 ? this.#cache : this.#cache.slice(this.#head);
      for (const e of entries) cache.push(e);
      this.#cache = cache;
    }
    this.#head = 0;
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
    // Lost seqs: below the floor a retention limit raised, then in a recorded gap.
    const past = afterGap(this.#path.options.gaps?.get(this.#topicId), Math.max(fromSeq, this.#floor));
    if (past > fromSeq) {
      // Cached entries keep the cursor contiguous (a consume moves it by the count it hands out):
      // the batch ends before the lost seqs, and the read after it, from an empty cache, skips them.
      if (this.#cache.length > this.#head) return [];
      fromSeq = this.#skipLost(fromSeq, past);
    }
    const { segments, maxBatchEntries } = this.#path.options;
    const batch = segments.read(
      this.#topicId,
      this.#topicName,
      this.#writer,
      fromSeq,
      maxBytes,
      maxBatchEntries,
      this.#hint,
    );
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
   * Consumes the `count` first cached entries (from `firstSeq`): moves the cursor past them and drops them from
   * the cache now, and — when the read consistency says so — resolves once the turn's cursor
   * write (ReadPath.persistSoon) reached the OS; a failed write gives them back. Under fsync
   * 'each' a persisted advance resolves once the cursor log is durable.
   */
  #consume(firstSeq: number, count: number): Promise<void> {
    const { cursors, lifecycle, fsync } = this.#path.options;
    // A read queued behind one that failed must not move the cursor past the entries given back.
    lifecycle.checkUsable();
    const nextSeq = firstSeq + count;
    const persist = this.#policy.recordCheckpoint(this.#topicId, count);
    this.#path.options.onCursorMoved();
    if (!persist) {
      cursors.advance(this.#topicId, nextSeq, false, this.#consumerId);
      this.#cursor = nextSeq;
      this.#drop(count);
      return RESOLVED;
    }
    // Handed out now (a concurrent read takes the next entries), persisted with the turn's write.
    this.#cursor = nextSeq;
    this.#drop(count);
    const written = this.#path.persistSoon(this.#topicId, nextSeq, this, firstSeq, this.#consumerId);
    if (fsync !== 'each') return written;
    return written.then(() => this.#awaitDurable(firstSeq));
  }

  /** The turn's cursor write failed: entries from `firstSeq` on are unconsumed again. */
  rewind(firstSeq: number): void {
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
        this.rewind(firstSeq);
        try {
          cursors.clamp(this.#topicId, firstSeq, this.#consumerId);
        } catch {
          // The cursor store is closed or the disk refuses: nothing more can be done here.
        }
        throw err;
      });
  }
}
