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

  constructor(topic: string, seq: number, data: Uint8Array, codec: number) {
    this.topic = topic;
    this.seq = seq;
    this.data = data;
    this.codec = codec === CODEC_MSGPACK ? 'msgpack' : 'raw';
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
