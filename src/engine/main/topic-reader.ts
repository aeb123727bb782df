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
import type { ControlClient, ReadAnswer, WriterControl } from '../shared/control-protocol.js';
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
import type { Lifecycle } from './lifecycle.js';
import { SerialQueue } from './serial-queue.js';

/** What one read asks of a writer when a caller does not say (readNext, prefetch). */
const READ_AHEAD_BYTES = 1024 * 1024;
const MAX_FETCH_BYTES = 256 * 1024 * 1024;
const RESOLVED: Promise<void> = Promise.resolve();

export interface ReadPathOptions {
  readonly cursors: CursorStore;
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

  readonly options: ReadPathOptions;

  constructor(options: ReadPathOptions) {
    this.options = options;
    this.policy = new CheckpointPolicy(options.readConsistency);
  }

  /** Payload bytes the writers answered reads with, since open. */
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
 * an entry is handed out (cheap: only an empty buffer needs the full test).
 */
function isDetachedEntry(entry: Entry): boolean {
  return entry.data.buffer.byteLength === 0 && isDetached(entry.data);
}

export class TopicReader {
  readonly #path: ReadPath;
  readonly #topicId: number;
  readonly #topicName: string;
  readonly #control: ControlClient<WriterControl>;
  #cursor: number;
  #cache: Entry[] = [];
  #head = 0;
  readonly #reads = new SerialQueue();
  /** The next batch being read ahead, resolving to how many entries it added (0 on failure). */
  #prefetch: Promise<number> | null = null;

  constructor(
    path: ReadPath,
    topic: { readonly id: number; readonly name: string },
    control: ControlClient<WriterControl>,
    cursor: number,
  ) {
    this.#path = path;
    this.#topicId = topic.id;
    this.#topicName = topic.name;
    this.#control = control;
    this.#cursor = cursor;
  }

  /** The next sequence number to deliver. */
  get cursor(): number {
    return this.#cursor;
  }

  /** The next unread entry, or null when there is none. */
  readNext(checkpoint: boolean): Promise<Entry | null> {
    // Fast path: the next entry is cached and no read of this topic is queued, so it can be
    // handed out now (the cursor write, if any, is a synchronous pwrite).
    if (!this.#reads.busy) {
      const entry = this.#peek();
      if (entry !== undefined) return checkpoint ? this.#consume([entry]).then(() => entry) : Promise.resolve(entry);
    }
    return this.#exclusive(async () => {
      let entry = this.#peek();
      if (!entry) {
        await this.#fetch(READ_AHEAD_BYTES);
        entry = this.#peek();
      }
      if (!entry) return null;
      if (checkpoint) await this.#consume([entry]);
      return entry;
    });
  }

  /** Up to `maxBatchEntries` unread entries within `maxBytes` of payload (at least one if any). */
  batchRead(maxBytes: number, checkpoint: boolean): Promise<Entry[]> {
    return this.#exclusive(async () => {
      for (;;) {
        const out = await this.#collect(maxBytes);
        // A sibling's buffer detached while the fetch was awaited: read those entries again.
        if (!this.#truncateAtDetached(out)) return this.#finishBatch(out, checkpoint);
      }
    });
  }

  /** The cached entries a batch read hands out, fetching once or twice if the cache has too few. */
  async #collect(maxBytes: number): Promise<Entry[]> {
    const maxEntries = this.#path.options.maxBatchEntries;
    const out: Entry[] = [];
    let bytes = 0;
    for (let pass = 0; pass < 2; pass++) {
      while (out.length < maxEntries) {
        const next = this.#peek(out.length);
        if (!next) break;
        if (out.length > 0 && bytes + next.data.byteLength > maxBytes) return out;
        out.push(next);
        bytes += next.data.byteLength;
      }
      if (out.length >= maxEntries || pass === 1) break;
      const budget = Math.min(MAX_FETCH_BYTES, Math.max(READ_AHEAD_BYTES, maxBytes - bytes));
      if (!(await this.#fetch(budget))) break;
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
    return this.#exclusive(async () => (await this.#readFromWriter(Math.max(fromSeq, this.#cursor), maxBytes)).entries);
  }

  /** Runs `fn` after every read queued before it on this topic; close() waits for it. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#path.track(this.#reads.run(fn));
  }

  async #finishBatch(out: Entry[], checkpoint: boolean): Promise<Entry[]> {
    if (checkpoint && out.length > 0) await this.#consume(out);
    return out;
  }

  /** The cached entry `index` places after the cursor; undefined when not cached or no longer readable. */
  #peek(index = 0): Entry | undefined {
    const entry = this.#cache[this.#head + index];
    if (entry === undefined || !isDetachedEntry(entry)) return entry;
    // The caller transferred the buffer this entry shares with the rest of its read: it and every
    // later cached entry are read again from the writer, never handed out empty.
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

  /** Appends a fetched batch read from `fromSeq`; returns how many it added (0: it no longer lines up). */
  #fill(fromSeq: number, entries: Entry[]): number {
    // A cache cut short (a detached buffer) while this batch was being read: it would leave a gap.
    if (entries.length === 0 || fromSeq !== this.#fetchFrom()) return 0;
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

  /**
   * Makes more entries available after the cached ones; returns how many arrived. While the
   * caller works through one batch, the next is already being read by the writer (one prefetch
   * in flight per topic, so a topic caches at most two batches).
   */
  async #fetch(maxBytes: number): Promise<number> {
    if (this.#prefetch) {
      const prefetched = await this.#prefetch;
      if (prefetched > 0) return prefetched;
    }
    return this.#fetchNow(maxBytes);
  }

  async #fetchNow(maxBytes: number): Promise<number> {
    const maxEntries = this.#path.options.maxBatchEntries;
    const fromSeq = this.#fetchFrom();
    const { entries, bytes } = await this.#readFromWriter(fromSeq, maxBytes);
    const count = this.#fill(fromSeq, entries);
    // A full answer means more is probably waiting: start reading it now.
    if (count > 0 && (count >= maxEntries || bytes * 2 >= maxBytes) && this.#path.options.lifecycle.notClosing) {
      const prefetch = this.#fetchNow(READ_AHEAD_BYTES).catch(() => 0);
      this.#prefetch = prefetch;
      void this.#path.track(prefetch).then(() => {
        if (this.#prefetch === prefetch) this.#prefetch = null;
      });
    }
    return count;
  }

  /** Up to `maxBatchEntries` entries from `fromSeq` within `maxBytes` (at least one), straight from the topic's writer. */
  async #readFromWriter(fromSeq: number, maxBytes: number): Promise<{ entries: Entry[]; bytes: number }> {
    const answer: ReadAnswer = await this.#control.call(
      'read',
      this.#topicId,
      fromSeq,
      maxBytes,
      this.#path.options.maxBatchEntries,
    );
    const { data, refs } = answer;
    this.#path.noteBytesRead(data.byteLength);
    const entries: Entry[] = new Array<Entry>(refs.length / 4);
    for (let i = 0, j = 0; i < refs.length; i += 4, j++) {
      const offset = refs[i + 2]!;
      entries[j] = new Entry(this.#topicName, refs[i]!, byteView(data, offset, offset + refs[i + 3]!), refs[i + 1]!);
    }
    return { entries, bytes: data.byteLength };
  }

  /**
   * Consumes `entries` (the first cached ones): persists the cursor per the read consistency
   * first — a failed cursor write leaves them unconsumed — then drops them from the cache. Under
   * fsync 'each' a persisted advance resolves once the cursor log is durable.
   */
  #consume(entries: Entry[]): Promise<void> {
    const { cursors, cells, lifecycle, fsync } = this.#path.options;
    // A read queued behind one that failed must not move the cursor past the entries given back.
    lifecycle.checkUsable();
    const firstSeq = entries[0]!.seq;
    const nextSeq = entries[entries.length - 1]!.seq + 1;
    const persist = this.#path.policy.recordCheckpoint(this.#topicId, entries.length);
    cursors.advance(this.#topicId, nextSeq, persist);
    this.#cursor = nextSeq;
    this.#drop(entries.length);
    this.#path.options.onCursorMoved();
    if (!persist) return RESOLVED;
    const written = cursors.recordsWritten;
    Atomics.store(cells, CURSOR_WRITTEN, written);
    if (fsync !== 'each') return RESOLVED;
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
        this.#cursor = Math.min(this.#cursor, firstSeq);
        try {
          cursors.clamp(this.#topicId, firstSeq);
        } catch {
          // The cursor store is closed or the disk refuses: nothing more can be done here.
        }
        throw err;
      });
  }
}
