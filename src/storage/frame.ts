/**
 * The fixed binary frame headers of docs/FORMAT.md: version 1 (§4, 32 bytes) and version 2 (§13,
 * 40 bytes: + the append time, a checksum bound to the segment's salt and the frame's offset), and
 * the segment header payloads of both. The one place frames are encoded and decoded: the scanner,
 * the read paths (worker and main thread), the CLI and the fuzz targets all come here. Plain
 * DataView-free arithmetic on a Uint8Array so the hot path (writer workers encoding thousands of
 * frames per write) allocates nothing. msgpackr is deliberately not used here.
 */
import { crc32 } from './crc32.js';
import { MAX_ENTRY_BYTES_LIMIT, MAX_SEQ } from './limits.js';

export const FRAME_MAGIC = 0x524c4157; // bytes 57 41 4C 52, "WALR"
export const FRAME_VERSION_1 = 1;
export const FRAME_VERSION_2 = 2;
/** The segment format this build writes (docs/FORMAT.md §20.1: version-1 segments are read, never written). */
export const WRITTEN_FORMAT_VERSION = FRAME_VERSION_2;
export const FRAME_HEADER_BYTES_V1 = 32;
export const FRAME_HEADER_BYTES_V2 = 40;
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

export const SEGMENT_HEADER_PAYLOAD_BYTES_V1 = 32;
export const SEGMENT_HEADER_PAYLOAD_BYTES_V2 = 40;
/** Sparse-index interval of version-1 segments, and the default of version-2 ones (FORMAT §13.1.1, §14.2). */
export const DEFAULT_INDEX_INTERVAL_BYTES = 32 * 1024;
export const MIN_INDEX_INTERVAL_BYTES = 4 * 1024;
export const MAX_INDEX_INTERVAL_BYTES = 1024 * 1024;
/** Largest `timeMs` a frame may carry (FORMAT §13.3, §20.5): kept exact as a JS number. */
export const MAX_TIME_MS = MAX_SEQ;

const TWO_POW_32 = 0x1_0000_0000;

/** Header bytes of a frame of this version (1 or 2). */
export function frameHeaderBytes(version: number): number {
  return version === FRAME_VERSION_1 ? FRAME_HEADER_BYTES_V1 : FRAME_HEADER_BYTES_V2;
}

/** Bytes of the SEGMENT_HEADER frame that opens a segment of this version; the second frame starts there. */
export function segmentHeaderFrameBytes(version: number): number {
  return version === FRAME_VERSION_1
    ? FRAME_HEADER_BYTES_V1 + SEGMENT_HEADER_PAYLOAD_BYTES_V1
    : FRAME_HEADER_BYTES_V2 + SEGMENT_HEADER_PAYLOAD_BYTES_V2;
}

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

/** Bytes a frame occupies on disk (header of `headerBytes` + payload + padding to 8). */
export function frameBytes(payloadBytes: number, headerBytes: number): number {
  return headerBytes + align8(payloadBytes);
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
 * Writes a version-1 frame header at `at` (tests and fuzz targets craft version-1 files with it;
 * the writer writes version 2). `payloadCrc` is the CRC-32 of the payload (callers compute it
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
  encodeCommonFields(buf, at, FRAME_VERSION_1, kind, flags, payloadBytes, topicId, seq);
  writeU32(buf, at + 24, payloadCrc);
  writeU32(buf, at + 28, crc32Of(buf, at, at + 28));
}

/** Bytes 0–23 (magic, version, kind, flags, payloadBytes, topicId, seq): the same in both layouts. */
function encodeCommonFields(
  buf: Uint8Array,
  at: number,
  version: number,
  kind: number,
  flags: number,
  payloadBytes: number,
  topicId: number,
  seq: number,
): void {
  writeU32(buf, at, FRAME_MAGIC);
  buf[at + 4] = version;
  buf[at + 5] = kind;
  buf[at + 6] = flags & 0xff;
  buf[at + 7] = (flags >>> 8) & 0xff;
  writeU32(buf, at + 8, payloadBytes);
  writeU32(buf, at + 12, topicId);
  writeU32(buf, at + 16, seq % TWO_POW_32);
  writeU32(buf, at + 20, Math.floor(seq / TWO_POW_32));
}

export interface FrameHeader {
  kind: number;
  flags: number;
  payloadBytes: number;
  topicId: number;
  seq: number;
  /** Append time of a version-2 frame; 0 in a version-1 frame (its reader supplies v1TimeMs). */
  timeMs: number;
  payloadCrc: number;
}

export type HeaderProblem =
  | 'zero'
  | 'bad-magic'
  | 'bad-header-crc'
  | 'unsupported-version'
  | 'wrong-version'
  | 'unknown-kind'
  | 'reserved-flags'
  | 'oversized-payload'
  | 'reserved-topic-id'
  | 'out-of-range-seq'
  | 'out-of-range-time';

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
  if (buf[at + 4] !== FRAME_VERSION_1) return 'unsupported-version';
  return decodeCommonFields(buf, at, 0, readU32(buf, at + 24));
}

/** kind, flags, payloadBytes, topicId and seq: bytes 5–23, the same in both layouts. */
function decodeCommonFields(
  buf: Uint8Array,
  at: number,
  timeMs: number,
  payloadCrc: number,
): FrameHeader | HeaderProblem {
  const kind = buf[at + 5]!;
  if (kind !== KIND_SEGMENT_HEADER && kind !== KIND_TOPIC_DEF && kind !== KIND_ENTRY) return 'unknown-kind';
  const flags = flagsAt(buf, at);
  if ((flags & ~KNOWN_FLAGS_MASK) !== 0) return 'reserved-flags';
  const payloadBytes = readU32(buf, at + 8);
  if (payloadBytes > MAX_ENTRY_BYTES_LIMIT) return 'oversized-payload';
  const topicId = readU32(buf, at + 12);
  if (topicId === 0 && kind !== KIND_SEGMENT_HEADER) return 'reserved-topic-id';
  const seq = readU32(buf, at + 16) + readU32(buf, at + 20) * TWO_POW_32;
  // The next seq after an entry must stay exact too (partition.ts refuses to hand out MAX_SEQ).
  if (seq >= MAX_SEQ) return 'out-of-range-seq';
  return { kind, flags, payloadBytes, topicId, seq, timeMs, payloadCrc };
}

const saltScratch = new Uint8Array(12);

/**
 * CRC-32 of (salt u32 ‖ offset u64), the seed of a version-2 header checksum (FORMAT §13.1): binds
 * a frame to its segment and its place in it, so bytes inside a payload never pass as a frame.
 */
function saltSeed(salt: number, offset: number): number {
  writeU32(saltScratch, 0, salt);
  writeU32(saltScratch, 4, offset % TWO_POW_32);
  writeU32(saltScratch, 8, Math.floor(offset / TWO_POW_32));
  return crc32Of(saltScratch, 0, 12);
}

/**
 * Writes a version-2 frame header at `at` (FORMAT §13.1) for a frame that lies at `offset` of a
 * segment whose salt is `salt`. `timeMs` is the entry's append time (0 for other kinds).
 */
export function encodeFrameHeaderV2(
  buf: Uint8Array,
  at: number,
  kind: number,
  flags: number,
  payloadBytes: number,
  topicId: number,
  seq: number,
  timeMs: number,
  payloadCrc: number,
  salt: number,
  offset: number,
): void {
  encodeCommonFields(buf, at, FRAME_VERSION_2, kind, flags, payloadBytes, topicId, seq);
  writeU32(buf, at + 24, timeMs % TWO_POW_32);
  writeU32(buf, at + 28, Math.floor(timeMs / TWO_POW_32));
  writeU32(buf, at + 32, payloadCrc);
  sealFrameHeaderV2(buf, at, salt, offset);
}

/**
 * Rewrites the checksum of the version-2 header at `at` for a frame at `offset` of a segment salted
 * `salt` (tests and fuzz targets craft frames with it).
 */
export function sealFrameHeaderV2(buf: Uint8Array, at: number, salt: number, offset: number): void {
  writeU32(buf, at + 36, crc32Of(buf, at, at + 36, saltSeed(salt, offset)));
}

/**
 * Decodes and validates the version-2 header at `at` (40 readable bytes) of a frame at `offset` of a
 * segment whose salt is `salt` (FORMAT §13.1). A header checked with another salt or at another
 * offset fails its checksum: it was not written there. A frame of version 1 whose bytes happen to
 * check is `wrong-version` (damage: writers never mix versions in a file); a later version is
 * `unsupported-version`.
 */
export function decodeFrameHeaderV2(
  buf: Uint8Array,
  at: number,
  salt: number,
  offset: number,
): FrameHeader | HeaderProblem {
  const magic = readU32(buf, at);
  if (magic !== FRAME_MAGIC) return magic === 0 ? 'zero' : 'bad-magic';
  if (readU32(buf, at + 36) !== crc32Of(buf, at, at + 36, saltSeed(salt, offset))) return 'bad-header-crc';
  const version = buf[at + 4]!;
  if (version !== FRAME_VERSION_2) return version > FRAME_VERSION_2 ? 'unsupported-version' : 'wrong-version';
  const timeMs = entryTimeMsAt(buf, at);
  if (timeMs > MAX_TIME_MS) return 'out-of-range-time';
  return decodeCommonFields(buf, at, timeMs, readU32(buf, at + 32));
}

/**
 * The bytes of the frame at `at` when it is an entry frame of a topic other than `topicId` with a
 * length a frame can have, else 0 — read without checking the header's checksum. A reader walking
 * to its own topic's next entry steps over other topics' frames with it instead of decoding each
 * (16 interleaved topics: 15 of every 16 frames). Skipping by an unverified length is safe: over
 * intact frames it lands where a verified walk would; a damaged length can only make the walk land
 * off a frame, and what it lands on is then decoded and checked (a frame of its own topic always
 * is), or its own next entry is not where its seq says, which readers treat as damage.
 */
export function otherTopicFrameBytes(buf: Uint8Array, at: number, topicId: number, headerBytes: number): number {
  if (buf[at + 5] !== KIND_ENTRY || readU32(buf, at) !== FRAME_MAGIC || readU32(buf, at + 12) === topicId) return 0;
  const payloadBytes = readU32(buf, at + 8);
  return payloadBytes > MAX_ENTRY_BYTES_LIMIT ? 0 : frameBytes(payloadBytes, headerBytes);
}

/**
 * The payload length of the frame at `at` if it is entry `seq` of `topicId` in layout `version`
 * (magic, version, kind, topic, seq and a possible length compared), else -1 — its checksum not
 * checked. Only for the frame right after one of the same topic whose header was checked: that
 * header's checked length put the reader here, so the frame is where the writer put it, and only
 * damage done since it was verified (which reads do not look for, docs/DURABILITY.md) could make
 * it differ. Its codec and time are read with `entryCodecAt` and `entryTimeMsAt`.
 */
export function followingEntryPayloadBytes(
  buf: Uint8Array,
  at: number,
  version: number,
  topicId: number,
  seq: number,
): number {
  if (buf[at + 5] !== KIND_ENTRY || buf[at + 4] !== version || readU32(buf, at) !== FRAME_MAGIC) return -1;
  if (readU32(buf, at + 12) !== topicId || readU32(buf, at + 16) + readU32(buf, at + 20) * TWO_POW_32 !== seq)
    return -1;
  const payloadBytes = readU32(buf, at + 8);
  return payloadBytes > MAX_ENTRY_BYTES_LIMIT ? -1 : payloadBytes;
}

/** The codec of the entry frame at `at` (either layout). */
export function entryCodecAt(buf: Uint8Array, at: number): number {
  return codecOfFlags(flagsAt(buf, at));
}

function flagsAt(buf: Uint8Array, at: number): number {
  return buf[at + 6]! | (buf[at + 7]! << 8);
}

/** The payload checksum in the entry frame header at `at` of a segment of `version`. */
export function entryPayloadCrcAt(buf: Uint8Array, at: number, version: number): number {
  return readU32(buf, at + (version === FRAME_VERSION_1 ? 24 : 32));
}

/** The append time in the version-2 frame header at `at`. */
export function entryTimeMsAt(buf: Uint8Array, at: number): number {
  return readU32(buf, at + 24) + readU32(buf, at + 28) * TWO_POW_32;
}

/** How frames of one segment are laid out: its version and salt (0 for version 1). */
export interface FrameLayout {
  readonly version: number;
  readonly salt: number;
}

/**
 * The header at `at` of a frame at file offset `offset`, decoded in its segment's layout. The frame
 * at offset 0 (the segment header) is checked with salt 0: a reader learns the salt from it (§13.1.1).
 */
export function decodeFrameHeaderIn(
  layout: FrameLayout,
  buf: Uint8Array,
  at: number,
  offset: number,
): FrameHeader | HeaderProblem {
  if (layout.version === FRAME_VERSION_1) return decodeFrameHeader(buf, at);
  return decodeFrameHeaderV2(buf, at, offset === 0 ? 0 : layout.salt, offset);
}

export interface SegmentHeaderInfo {
  formatVersion: number;
  blockBytes: number;
  epoch: number;
  writerIndex: number;
  segmentNo: number;
  createdAtMs: number;
  /** Version 2: the per-segment salt of every header checksum (FORMAT §13.2); 0 in version 1. */
  salt: number;
  /** Version 2: the sparse-index interval (FORMAT §14.2); DEFAULT_INDEX_INTERVAL_BYTES for version 1. */
  indexIntervalBytes: number;
}

/** The segment header payload of `info.formatVersion` (32 bytes for version 1, 40 for version 2). */
export function encodeSegmentHeaderPayload(info: SegmentHeaderInfo): Uint8Array {
  const v2 = info.formatVersion >= FRAME_VERSION_2;
  const payload = new Uint8Array(v2 ? SEGMENT_HEADER_PAYLOAD_BYTES_V2 : SEGMENT_HEADER_PAYLOAD_BYTES_V1);
  const view = new DataView(payload.buffer);
  view.setUint32(0, info.formatVersion, true);
  view.setUint32(4, info.blockBytes, true);
  view.setUint32(8, info.epoch, true);
  view.setUint32(12, info.writerIndex, true);
  view.setUint32(16, info.segmentNo, true);
  view.setUint32(20, v2 ? info.salt : 0, true);
  view.setFloat64(24, info.createdAtMs, true);
  if (v2) view.setUint32(32, info.indexIntervalBytes, true);
  return payload;
}

/** Decodes a segment header payload of either version (its length says which fields it has). */
export function decodeSegmentHeaderPayload(payload: Uint8Array): SegmentHeaderInfo {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const formatVersion = view.getUint32(0, true);
  const v2 = payload.byteLength >= SEGMENT_HEADER_PAYLOAD_BYTES_V2 && formatVersion !== FRAME_VERSION_1;
  return {
    formatVersion,
    blockBytes: view.getUint32(4, true),
    epoch: view.getUint32(8, true),
    writerIndex: view.getUint32(12, true),
    segmentNo: view.getUint32(16, true),
    createdAtMs: view.getFloat64(24, true),
    salt: v2 ? view.getUint32(20, true) : 0,
    indexIntervalBytes: v2 ? view.getUint32(32, true) : DEFAULT_INDEX_INTERVAL_BYTES,
  };
}

export function isValidIndexIntervalBytes(n: number): boolean {
  return (
    Number.isInteger(n) && n % FRAME_ALIGN_BYTES === 0 && n >= MIN_INDEX_INTERVAL_BYTES && n <= MAX_INDEX_INTERVAL_BYTES
  );
}

/** A segment header that could not be used: `unsupported` when it is of a newer format (refused, never guessed). */
export interface SegmentHeaderProblem {
  problem: string;
  unsupported: boolean;
}

/**
 * The segment header at offset 0 of a file of `fileBytes` bytes, of either version (FORMAT §13.1
 * step 1): `buf` holds the file's first min(fileBytes, 80) bytes. Checks the frame, its payload
 * checksum, and that the payload's version is the frame's; the caller checks what depends on the
 * file (its name, the block size it accepts).
 */
export function decodeSegmentHeader(buf: Uint8Array, fileBytes: number): SegmentHeaderInfo | SegmentHeaderProblem {
  const bad = (problem: string, unsupported = false): SegmentHeaderProblem => ({ problem, unsupported });
  if (fileBytes < FRAME_HEADER_BYTES_V1 + SEGMENT_HEADER_PAYLOAD_BYTES_V1)
    return bad(`file has only ${fileBytes} bytes`);
  const magic = readU32(buf, 0);
  if (magic !== FRAME_MAGIC) return bad(magic === 0 ? 'zero' : 'bad-magic');
  const version = buf[4]!;
  if (version !== FRAME_VERSION_1 && version !== FRAME_VERSION_2) {
    // Refused only when a known layout's header checksum holds over this version byte: a newer
    // build wrote it so. Otherwise it is a damaged version byte (a bit flip), and a damaged segment
    // is reported damage, never a refused open (docs/SEMANTICS.md rule F9). A log a newer build
    // wrote is refused by its MANIFEST's version first in any case.
    const v2Checked = fileBytes >= FRAME_HEADER_BYTES_V2 && decodeFrameHeaderV2(buf, 0, 0, 0) === 'unsupported-version';
    if (v2Checked || decodeFrameHeader(buf, 0) === 'unsupported-version') return bad(`frame version ${version}`, true);
    return bad(`frame version ${version} with a header checksum that holds in no known layout`);
  }
  const headerBytes = frameHeaderBytes(version);
  const frameEnd = segmentHeaderFrameBytes(version);
  if (fileBytes < frameEnd) return bad(`file has only ${fileBytes} bytes`);
  const header = version === FRAME_VERSION_1 ? decodeFrameHeader(buf, 0) : decodeFrameHeaderV2(buf, 0, 0, 0);
  if (typeof header === 'string') return bad(header, header === 'reserved-flags');
  if (header.kind !== KIND_SEGMENT_HEADER) return bad(`first frame has kind ${header.kind}`);
  if (header.payloadBytes !== frameEnd - headerBytes) return bad(`payload of ${header.payloadBytes} bytes`);
  if (crc32Of(buf, headerBytes, frameEnd) !== header.payloadCrc) return bad('payload checksum mismatch');
  const info = decodeSegmentHeaderPayload(buf.subarray(headerBytes, frameEnd));
  if (info.formatVersion > FRAME_VERSION_2) {
    return bad(`segment format version ${info.formatVersion} is not supported`, true);
  }
  if (info.formatVersion !== version) return bad(`format version ${info.formatVersion} in a version-${version} frame`);
  if (version === FRAME_VERSION_2 && !isValidIndexIntervalBytes(info.indexIntervalBytes)) {
    return bad(`invalid index interval ${info.indexIntervalBytes}`);
  }
  return info;
}

/** Encodes a complete version-1 frame (header + payload + padding) into a new buffer. For cold paths and tests. */
export function encodeFrame(
  kind: number,
  flags: number,
  topicId: number,
  seq: number,
  payload: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(frameBytes(payload.byteLength, FRAME_HEADER_BYTES_V1));
  out.set(payload, FRAME_HEADER_BYTES_V1);
  encodeFrameHeader(out, 0, kind, flags, payload.byteLength, topicId, seq, crc32Of(payload));
  return out;
}

/** Encodes a complete version-2 frame for offset `offset` of a segment salted `salt`. For cold paths and tests. */
export function encodeFrameV2(
  kind: number,
  flags: number,
  topicId: number,
  seq: number,
  timeMs: number,
  payload: Uint8Array,
  salt: number,
  offset: number,
): Uint8Array {
  const out = new Uint8Array(frameBytes(payload.byteLength, FRAME_HEADER_BYTES_V2));
  out.set(payload, FRAME_HEADER_BYTES_V2);
  encodeFrameHeaderV2(out, 0, kind, flags, payload.byteLength, topicId, seq, timeMs, crc32Of(payload), salt, offset);
  return out;
}
