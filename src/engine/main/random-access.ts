/**
 * `wal.get(topic, seq)` and `wal.offsets(topic)` (docs/SEMANTICS.md rule D20): one entry found through the main
 * thread's index of the topic's runs (a binary search, then one read of the run from the entry on),
 * never by scanning; offsets from the index and the topic's writer, reading nothing.
 */
import { WalError } from '../../errors.js';
import { byteView } from '../../storage/byte-view.js';
import { MAX_SEQ, describeArgument } from '../../storage/limits.js';
import type { ConsumerRegistry } from './consumer-registry.js';
import { Entry } from './entry.js';
import { newReadHint, type ReadHint } from '../../storage/read-hint.js';
import type { SegmentReads } from './segment-reads.js';
import type { ReadPath } from './topic-reader.js';
import type { TopicState } from './topic-table.js';
import type { WriterChannel } from './writer-channel.js';

export interface Offsets {
  /** The first retained sequence number (`next` when nothing is retained). */
  first: number;
  /** The next sequence number to be assigned. */
  next: number;
}

/** What one step of a seek by time reads while it walks from an index point. */
const TIME_WALK_BYTES = 64 * 1024;
const TIME_WALK_ENTRIES = 1000;

export interface RandomAccessOptions {
  readonly segments: SegmentReads;
  readonly registry: ConsumerRegistry;
  readonly channels: readonly WriterChannel[];
  /** Whose turn budget gets share: a loop of gets served from the page cache yields like readNext's. */
  readonly reads: ReadPath;
}

export class RandomAccess {
  readonly #o: RandomAccessOptions;
  /** Gets and seeks keep their own place, so they never move a consumer's (PartitionReader's ReadHint). */
  readonly #hint: ReadHint = newReadHint();

  constructor(options: RandomAccessOptions) {
    this.#o = options;
  }

  static checkSeq(seq: unknown): number {
    if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 && seq <= MAX_SEQ) return seq;
    throw WalError.invalidArgument(`seq must be an integer in 0…${MAX_SEQ}, got ${describeArgument(seq)}`);
  }

  async get(state: TopicState, seq: number): Promise<Entry | null> {
    if (seq < this.#o.registry.firstRetained(state.id)) return null;
    const { segments, reads } = this.#o;
    // Served at once, a get resolves in a microtask: `for (…) await wal.get(…)` would otherwise
    // hold the event loop until the loop ends.
    if (!reads.mayReadNow(true)) await reads.nextTurn();
    for (;;) {
      if (!segments.holds(state.id, seq)) {
        // Not indexed: never appended, or the run log has not been applied yet (a resync pending).
        const end = segments.knownEnd(state.id, state.writer);
        if (typeof end !== 'number') {
          await end;
          continue;
        }
        if (!segments.holds(state.id, seq)) return null;
      }
      const batch = segments.read(state.id, state.name, state.writer, seq, 1, 1, this.#hint);
      if (!('entries' in batch)) {
        await batch;
        continue;
      }
      const ref = batch.entries[0];
      if (ref === undefined || ref.seq !== seq) return null;
      const data = byteView(batch.data, ref.offset, ref.offset + ref.length);
      return new Entry(state.name, ref.seq, data, ref.codec, ref.timeMs);
    }
  }

  async offsets(state: TopicState): Promise<Offsets> {
    const next = await this.nextSeq(state);
    return { first: Math.min(next, this.#o.registry.firstRetained(state.id)), next };
  }

  /**
   * The topic's next sequence number: what its writer's run log published (every append that
   * resolved is in it), without a round trip to the writer; only while a resync after a run-log
   * overflow is pending, the writer is asked.
   */
  async nextSeq(state: TopicState): Promise<number> {
    const known = this.#o.segments.knownEnd(state.id, state.writer);
    if (typeof known === 'number') return known;
    known.catch(() => undefined);
    const [next] = await this.#o.channels[state.writer]!.control.call('nextSeqs', [state.id]);
    return next!;
  }

  /**
   * The first seq appended at or after `timeMs` (the next seq when none): from the greatest index
   * point whose time is below it (FORMAT §19.1), a walk of at most one index interval or so —
   * times never decrease within a topic (§13.3).
   */
  async seqAtTime(state: TopicState, timeMs: number): Promise<number> {
    const { segments, registry } = this.#o;
    let seq: number;
    for (;;) {
      const start = segments.seqBeforeTime(state.id, state.writer, timeMs);
      if (typeof start === 'number') {
        seq = Math.max(start, registry.firstRetained(state.id));
        break;
      }
      await start;
    }
    for (;;) {
      const batch = segments.read(
        state.id,
        state.name,
        state.writer,
        seq,
        TIME_WALK_BYTES,
        TIME_WALK_ENTRIES,
        this.#hint,
      );
      if (!('entries' in batch)) {
        await batch;
        continue;
      }
      if (batch.entries.length === 0) return Math.max(seq, await this.nextSeq(state));
      for (const ref of batch.entries) if (ref.timeMs >= timeMs) return ref.seq;
      seq = batch.entries.at(-1)!.seq + 1;
    }
  }
}
