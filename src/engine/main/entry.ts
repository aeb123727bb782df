/**
 * What reads return. `data` is a view into the buffer one positional read of the segment file
 * filled for the whole read batch (no per-entry copy); `value` decodes msgpack entries on first
 * access.
 *
 * Entries of one read share that ArrayBuffer. Transferring or detaching `entry.data.buffer` (for
 * example `postMessage(x, [entry.data.buffer])`) therefore empties every sibling the caller already
 * holds: copy first (`entry.data.slice()`) to hand the bytes on. Siblings the WAL still caches are
 * safe: a cached entry whose buffer was detached is read again from disk before it is handed out,
 * never delivered (or consumed) empty.
 */
import { unpackValue } from '../../value-codec.js';
import { CODEC_MSGPACK } from '../../storage/frame.js';

export class Entry {
  readonly topic: string;
  /** Per-topic sequence number: 0 for the first entry ever appended to the topic. */
  readonly seq: number;
  readonly data: Uint8Array;
  readonly codec: 'raw' | 'msgpack';
  /**
   * When the entry was appended, in milliseconds since the Unix epoch, assigned by the writer and
   * non-decreasing per topic (docs/FORMAT.md §13.3). Entries written by format version 1, which
   * stored no time, carry the time of the first open by a version-2 build (§20.3): an upper bound.
   */
  readonly timeMs: number;

  constructor(topic: string, seq: number, data: Uint8Array, codec: number, timeMs: number) {
    this.topic = topic;
    this.seq = seq;
    this.data = data;
    this.codec = codec === CODEC_MSGPACK ? 'msgpack' : 'raw';
    this.timeMs = timeMs;
  }

  /** The JS value of an entry appended with the msgpack codec; the bytes of a raw entry. */
  get value(): unknown {
    return this.codec === 'msgpack' ? unpackValue(this.data) : this.data;
  }

  /** The payload as UTF-8 text. */
  text(): string {
    return Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength).toString('utf8');
  }
}
