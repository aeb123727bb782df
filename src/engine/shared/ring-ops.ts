/**
 * What travels through a writer's ring: one record per operation, tagged with its kind and codec.
 * The main thread encodes (`RingOpEncoder`), the writer decodes (`decodeRingOp` in writer-service).
 *
 *   OP_DEFINE_TOPIC  [u32 topicId][name UTF-8]                 a topic new to this writer
 *   OP_APPEND        [u32 topicId][u32 crc][payload]           one entry
 *   OP_BATCH         [u32 topicId][u32 n][u32 len × n][u32 crc × n][payloads…]   one atomic batch
 *   OP_LARGE         [u32 topicId]                             payload(s) follow on the data port
 *
 * Payload offsets handed out by the ring are 8-byte aligned, so a Uint32Array view indexes the
 * little header words directly (the ring never leaves this process, so native endianness is fine).
 *
 * `crc` is the CRC-32 of the entry's bytes as they lie in the ring, computed by the main thread right
 * after copying them in: the writer is the bottleneck of a single topic (its checksums were ~15% of
 * its time) while the main thread waited, so the checksum moved to the side with time to spare.
 */
import { WalError } from '../../errors.js';
import { crc32Of } from '../../storage/frame.js';
import type { RingProducer } from './ring-buffer.js';

export const OP_DEFINE_TOPIC = 1;
export const OP_APPEND = 2;
export const OP_BATCH = 3;
export const OP_LARGE = 4;

const KIND_MASK = 0xff;
const CODEC_SHIFT = 8;

export function opTag(kind: number, codec: number): number {
  return kind | (codec << CODEC_SHIFT);
}
export function opKind(tag: number): number {
  return tag & KIND_MASK;
}
export function opCodec(tag: number): number {
  return tag >>> CODEC_SHIFT;
}

/** A large operation, sent over the writer's data port in op order (received with receiveMessageOnPort). */
export interface LargeOpMessage {
  topicId: number;
  codec: number;
  batch: boolean;
  entries: Uint8Array[];
}

export type EntryData = Uint8Array | string;

export function byteLengthOf(data: EntryData): number {
  return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
}

/**
 * A view over a resizable ArrayBuffer (`new ArrayBuffer(n, { maxByteLength })`) can change length
 * between validation and the copy into the ring, while its append waits for space. A view that grew
 * is copied at the length that was validated (what the ring reserved: copying it whole overran the
 * record, or threw a RangeError no promise caught); one that shrank, or whose buffer was detached or
 * shrunk out from under it, no longer holds the bytes that were validated, and that append alone
 * rejects with ERR_INVALID_ARGUMENT. Checked before anything is reserved, so nothing is written.
 */
function checkStillHolds(data: EntryData, length: number): void {
  if (typeof data !== 'string' && data.byteLength < length) {
    throw WalError.invalidArgument(
      `an entry's ArrayBuffer was resized or detached while its append waited: it holds ${data.byteLength} bytes, ` +
        `${length} were validated`,
      { actual: data.byteLength, limit: length },
    );
  }
}

/**
 * Encodes operations straight into the ring's shared memory: one copy from the caller's bytes
 * (or one UTF-8 encode of a string) per entry, no intermediate buffers.
 */
export class RingOpEncoder {
  readonly #producer: RingProducer;
  readonly #bytes: Buffer;
  readonly #words: Uint32Array;

  constructor(producer: RingProducer) {
    this.#producer = producer;
    const area = producer.bytes;
    this.#bytes = Buffer.from(area.buffer, area.byteOffset, area.byteLength);
    this.#words = new Uint32Array(area.buffer, area.byteOffset, area.byteLength >>> 2);
  }

  get maxRecordPayloadBytes(): number {
    return this.#producer.maxRecordPayloadBytes;
  }

  /** Returns false when the ring has no room now (nothing was written). */
  tryDefineTopic(topicId: number, name: Uint8Array): boolean {
    const at = this.#producer.reserve(4 + name.byteLength, opTag(OP_DEFINE_TOPIC, 0));
    if (at < 0) return false;
    this.#words[at >>> 2] = topicId;
    this.#bytes.set(name, at + 4);
    return true;
  }

  tryAppend(topicId: number, data: EntryData, dataBytes: number, codec: number): boolean {
    checkStillHolds(data, dataBytes);
    const at = this.#producer.reserve(8 + dataBytes, opTag(OP_APPEND, codec));
    if (at < 0) return false;
    const w = at >>> 2;
    this.#words[w] = topicId;
    this.#copy(data, dataBytes, at + 8);
    this.#words[w + 1] = crc32Of(this.#bytes, at + 8, at + 8 + dataBytes);
    return true;
  }

  tryBatch(
    topicId: number,
    entries: readonly EntryData[],
    lengths: readonly number[],
    payloadBytes: number,
    codec: number,
  ): boolean {
    const n = entries.length;
    for (let i = 0; i < n; i++) checkStillHolds(entries[i]!, lengths[i]!);
    const at = this.#producer.reserve(8 + 8 * n + payloadBytes, opTag(OP_BATCH, codec));
    if (at < 0) return false;
    const w = at >>> 2;
    this.#words[w] = topicId;
    this.#words[w + 1] = n;
    let pos = at + 8 + 8 * n;
    for (let i = 0; i < n; i++) {
      const len = lengths[i]!;
      this.#words[w + 2 + i] = len;
      this.#copy(entries[i]!, len, pos);
      this.#words[w + 2 + n + i] = crc32Of(this.#bytes, pos, pos + len);
      pos += len;
    }
    return true;
  }

  /** Exactly `length` bytes of `data` at `at`; a subarray (an allocation) only for a view that grew. */
  #copy(data: EntryData, length: number, at: number): void {
    if (typeof data === 'string') this.#bytes.write(data, at, length, 'utf8');
    else if (data.byteLength === length) this.#bytes.set(data, at);
    else this.#bytes.set(data.subarray(0, length), at);
  }

  tryLargeMarker(topicId: number): boolean {
    const at = this.#producer.reserve(4, opTag(OP_LARGE, 0));
    if (at < 0) return false;
    this.#words[at >>> 2] = topicId;
    return true;
  }

  /** Bytes of ring payload an operation needs (for waitForSpace). */
  static appendRecordBytes(dataBytes: number): number {
    return 8 + dataBytes;
  }
  static batchRecordBytes(entries: number, payloadBytes: number): number {
    return 8 + 8 * entries + payloadBytes;
  }
}
