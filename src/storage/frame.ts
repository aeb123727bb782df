/**
 * The fixed binary frame header of docs/FORMAT.md §4. Plain DataView-free arithmetic on a
 * Uint8Array so the hot path (writer workers encoding thousands of frames per write) allocates
 * nothing. msgpackr is deliberately not used here.
 */
import { crc32 } from './crc32.js';
import { MAX_ENTRY_BYTES_LIMIT, MAX_SEQ } from './limits.js';

export const FRAME_MAGIC = 0x524c4157; // bytes 57 41 4C 52, "WALR"
export const FRAME_VERSION = 1;
export const FORMAT_VERSION = 1;
export const FRAME_HEADER_BYTES = 32;
export const FRAME_ALIGN_BYTES = 8;

export const KIND_SEGMENT_HEADER = 1;
export const KIND_TOPIC_DEF = 2;
export const KIND_ENTRY = 3;

export const FLAG_BATCH = 0x0001;
export const FLAG_BATCH_END = 0x0002;
const CODEC_SHIFT = 8;
const CODEC_MASK = 0x0f00;
export const CODEC_RAW = 0;
export const CODEC_MSGPACK = 1;
/** Flag bits a version-1 reader understands; any other bit makes the frame unreadable. */
export const KNOWN_FLAGS_MASK = FLAG_BATCH | FLAG_BATCH_END | (CODEC_MSGPACK << CODEC_SHIFT);

export const SEGMENT_HEADER_PAYLOAD_BYTES = 32;

const TWO_POW_32 = 0x1_0000_0000;

export function codecOfFlags(flags: number): number {
  return (flags & CODEC_MASK) >>> CODEC_SHIFT;
}

export function flagsWithCodec(flags: number, codec: number): number {
  return (flags & ~CODEC_MASK) | ((codec << CODEC_SHIFT) & CODEC_MASK);
}

/**
 * `n` rounded up to a multiple of 8. Plain arithmetic: a length read from disk is a u32, and
 * 32-bit bitwise operations turned 2^31 − 7 and above into a negative or zero size.
 */
export function align8(n: number): number {
  const rest = n % FRAME_ALIGN_BYTES;
  return rest === 0 ? n : n + FRAME_ALIGN_BYTES - rest;
}

/** Bytes a frame occupies on disk (header + payload + padding to 8). */
export function frameBytes(payloadBytes: number): number {
  return FRAME_HEADER_BYTES + align8(payloadBytes);
}

export function crc32Of(data: Uint8Array, start = 0, end = data.byteLength, seed = 0): number {
  return crc32(data, start, end, seed);
}

export function writeU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff;
  buf[at + 1] = (v >>> 8) & 0xff;
  buf[at + 2] = (v >>> 16) & 0xff;
  buf[at + 3] = (v >>> 24) & 0xff;
}

export function readU32(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}

/**
 * Writes a frame header at `at`. `payloadCrc` is the CRC-32 of the payload (callers compute it
 * over the bytes they actually write, so the header describes exactly what is on disk).
 */
export function encodeFrameHeader(
  buf: Uint8Array,
  at: number,
  kind: number,
  flags: number,
  payloadBytes: number,
  topicId: number,
  seq: number,
  payloadCrc: number,
): void {
  writeU32(buf, at, FRAME_MAGIC);
  buf[at + 4] = FRAME_VERSION;
  buf[at + 5] = kind;
  buf[at + 6] = flags & 0xff;
  buf[at + 7] = (flags >>> 8) & 0xff;
  writeU32(buf, at + 8, payloadBytes);
  writeU32(buf, at + 12, topicId);
  writeU32(buf, at + 16, seq % TWO_POW_32);
  writeU32(buf, at + 20, Math.floor(seq / TWO_POW_32));
  writeU32(buf, at + 24, payloadCrc);
  writeU32(buf, at + 28, crc32Of(buf, at, at + 28));
}

export interface FrameHeader {
  kind: number;
  flags: number;
  payloadBytes: number;
  topicId: number;
  seq: number;
  payloadCrc: number;
}

export type HeaderProblem =
  | 'zero'
  | 'bad-magic'
  | 'bad-header-crc'
  | 'unsupported-version'
  | 'unknown-kind'
  | 'reserved-flags'
  | 'oversized-payload'
  | 'reserved-topic-id'
  | 'out-of-range-seq';

/**
 * Decodes and validates the header at `at` (which must have 32 readable bytes). Returns the
 * header, or the reason it is not a valid header. Payload validity is checked separately.
 *
 * Every field is range-checked against what a writer can produce (docs/FORMAT.md §4, §10): a
 * header whose checksum matches can still be crafted, and a length of up to 4 GiB, topic id 0 on an
 * entry or a seq past 2^53 must end as damage, not as a huge read, a phantom topic or a seq that is
 * no longer exact.
 */
export function decodeFrameHeader(buf: Uint8Array, at: number): FrameHeader | HeaderProblem {
  const magic = readU32(buf, at);
  if (magic !== FRAME_MAGIC) return magic === 0 ? 'zero' : 'bad-magic';
  if (readU32(buf, at + 28) !== crc32Of(buf, at, at + 28)) return 'bad-header-crc';
  if (buf[at + 4] !== FRAME_VERSION) return 'unsupported-version';
  const kind = buf[at + 5]!;
  if (kind !== KIND_SEGMENT_HEADER && kind !== KIND_TOPIC_DEF && kind !== KIND_ENTRY) return 'unknown-kind';
  const flags = buf[at + 6]! | (buf[at + 7]! << 8);
  if ((flags & ~KNOWN_FLAGS_MASK) !== 0) return 'reserved-flags';
  const payloadBytes = readU32(buf, at + 8);
  if (payloadBytes > MAX_ENTRY_BYTES_LIMIT) return 'oversized-payload';
  const topicId = readU32(buf, at + 12);
  if (topicId === 0 && kind !== KIND_SEGMENT_HEADER) return 'reserved-topic-id';
  const seq = readU32(buf, at + 16) + readU32(buf, at + 20) * TWO_POW_32;
  // The next seq after an entry must stay exact too (partition.ts refuses to hand out MAX_SEQ).
  if (seq >= MAX_SEQ) return 'out-of-range-seq';
  return { kind, flags, payloadBytes, topicId, seq, payloadCrc: readU32(buf, at + 24) };
}

export interface SegmentHeaderInfo {
  formatVersion: number;
  blockBytes: number;
  epoch: number;
  writerIndex: number;
  segmentNo: number;
  createdAtMs: number;
}

export function encodeSegmentHeaderPayload(info: SegmentHeaderInfo): Uint8Array {
  const payload = new Uint8Array(SEGMENT_HEADER_PAYLOAD_BYTES);
  const view = new DataView(payload.buffer);
  view.setUint32(0, info.formatVersion, true);
  view.setUint32(4, info.blockBytes, true);
  view.setUint32(8, info.epoch, true);
  view.setUint32(12, info.writerIndex, true);
  view.setUint32(16, info.segmentNo, true);
  view.setUint32(20, 0, true);
  view.setFloat64(24, info.createdAtMs, true);
  return payload;
}

export function decodeSegmentHeaderPayload(payload: Uint8Array): SegmentHeaderInfo {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return {
    formatVersion: view.getUint32(0, true),
    blockBytes: view.getUint32(4, true),
    epoch: view.getUint32(8, true),
    writerIndex: view.getUint32(12, true),
    segmentNo: view.getUint32(16, true),
    createdAtMs: view.getFloat64(24, true),
  };
}

/** Encodes a complete frame (header + payload + padding) into a new buffer. For cold paths and tests. */
export function encodeFrame(
  kind: number,
  flags: number,
  topicId: number,
  seq: number,
  payload: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(frameBytes(payload.byteLength));
  out.set(payload, FRAME_HEADER_BYTES);
  encodeFrameHeader(out, 0, kind, flags, payload.byteLength, topicId, seq, crc32Of(payload));
  return out;
}
