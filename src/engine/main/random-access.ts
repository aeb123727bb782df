/**
 * `wal.get(topic, seq)` and `wal.offsets(topic)` (SPEC §3.6): one entry found through the main
 * thread's index of the topic's runs (a binary search, then one read of the run from the entry on),
 * never by scanning; offsets from the index and the topic's writer, reading nothing.
 */
import { WalError } from '../../errors.js';
import { byteView } from '../../storage/byte-view.js';
import { MAX_SEQ, describeArgument } from '../../storage/limits.js';
import type { ConsumerRegistry } from './consumer-registry.js';
import { Entry } from './entry.js';
import type { SegmentReads } from './segment-reads.js';
import type { TopicState } from './topic-table.js';
import type { WriterChannel } from './writer-channel.js';

export interface Offsets {
  /** The first retained sequence number (`next` when nothing is retained). */
  first: number;
  /** The next sequence number to be assigned. */
  next: number;
}

export interface RandomAccessOptions {
  readonly segments: SegmentReads;
  readonly registry: ConsumerRegistry;
  readonly channels: readonly WriterChannel[];
}

export class RandomAccess {
  readonly #o: RandomAccessOptions;

  constructor(options: RandomAccessOptions) {
    this.#o = options;
  }

  static checkSeq(seq: unknown): number {
    if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 && seq <= MAX_SEQ) return seq;
    throw WalError.invalidArgument(`seq must be an integer in 0…${MAX_SEQ}, got ${describeArgument(seq)}`);
  }

  async get(state: TopicState, seq: number): Promise<Entry | null> {
    if (seq < this.#o.registry.firstRetained(state.id)) return null;
    const { segments } = this.#o;
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
      const batch = segments.read(state.id, state.name, state.writer, seq, 1, 1);
      if (!('entries' in batch)) {
        await batch;
        continue;
      }
      const ref = batch.entries[0];
      if (ref === undefined || ref.seq !== seq) return null;
      return new Entry(state.name, ref.seq, byteView(batch.data, ref.offset, ref.offset + ref.length), ref.codec);
    }
  }

  async offsets(state: TopicState): Promise<Offsets> {
    const next = await this.nextSeq(state);
    return { first: Math.min(next, this.#o.registry.firstRetained(state.id)), next };
  }

  /** The topic's next sequence number, from its writer. */
  async nextSeq(state: TopicState): Promise<number> {
    const [next] = await this.#o.channels[state.writer]!.control.call('nextSeqs', [state.id]);
    return next!;
  }

  /** Entries do not carry their append time in this format version (FORMAT §13.3 is not written yet). */
  seqAtTime(_state: TopicState, _timeMs: number): Promise<number> {
    return Promise.reject(
      new WalError(
        'ERR_UNSUPPORTED',
        'seek by { timeMs } needs per-entry append times (format version 2), which this build does not write yet',
      ),
    );
  }
}
