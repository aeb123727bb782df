/**
 * Locating frames inside segment files (docs/FORMAT.md §3–4) and damaging them on purpose. The
 * layout reader only walks intact files: it is how a test finds the byte offsets it then corrupts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  FRAME_HEADER_BYTES_V2,
  KIND_ENTRY,
  KIND_SEGMENT_HEADER,
  KIND_TOPIC_DEF,
  crc32Of,
  decodeFrameHeaderIn,
  decodeSegmentHeader,
  encodeFrame,
  encodeSegmentHeaderPayload,
  frameBytes,
  frameHeaderBytes,
  sealFrameHeaderV2,
  segmentHeaderFrameBytes,
} from '../../src/storage/frame.js';

export const SEGMENT_FILE_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{8}\.seg$/;

/** Bytes of the SEGMENT_HEADER frame that opens every segment the WAL writes (version 2). */
export const SEGMENT_HEADER_FRAME_BYTES = segmentHeaderFrameBytes(2);
/** Header bytes of every frame the WAL writes (version 2, docs/FORMAT.md §13.1). */
export const FRAME_HEADER_BYTES = FRAME_HEADER_BYTES_V2;

/** Segment files of a namespace directory in (epoch, writer, segment no) order: fixed-width hex sorts. */
export function segmentPaths(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => SEGMENT_FILE_PATTERN.test(name) && fs.statSync(path.join(dir, name)).isFile())
    .sort()
    .map((name) => path.join(dir, name));
}

export interface FrameAt {
  offset: number;
  kind: number;
  flags: number;
  topicId: number;
  seq: number;
  payloadBytes: number;
  timeMs: number;
  /** Offset of the frame's payload (after its 32- or 40-byte header). */
  payloadOffset: number;
  /** Offset just past the frame's padded payload. */
  endOffset: number;
}

export interface SegmentLayout {
  path: string;
  formatVersion: number;
  salt: number;
  blockBytes: number;
  epoch: number;
  segmentNo: number;
  frames: FrameAt[];
  topicNames: Map<number, string>;
}

export interface EntryLocation extends FrameAt {
  path: string;
  topic: string;
}

/** Walks an intact segment file (either version) frame by frame; throws at anything that is not a valid frame. */
export function readSegmentLayout(segmentPath: string): SegmentLayout {
  const data = fs.readFileSync(segmentPath);
  const info = decodeSegmentHeader(data, data.byteLength);
  if ('problem' in info) throw new Error(`${segmentPath}: no segment header (${info.problem})`);
  const frameLayout = { version: info.formatVersion, salt: info.salt };
  const headerBytes = frameHeaderBytes(info.formatVersion);
  const layout: SegmentLayout = {
    path: segmentPath,
    formatVersion: info.formatVersion,
    salt: info.salt,
    blockBytes: info.blockBytes,
    epoch: info.epoch,
    segmentNo: info.segmentNo,
    frames: [],
    topicNames: new Map(),
  };
  let pos = segmentHeaderFrameBytes(info.formatVersion);
  while (pos + headerBytes <= data.byteLength) {
    const header = decodeFrameHeaderIn(frameLayout, data, pos, pos);
    if (header === 'zero') {
      pos = (Math.floor(pos / info.blockBytes) + 1) * info.blockBytes;
      continue;
    }
    if (typeof header === 'string') throw new Error(`${segmentPath}@${pos}: ${header}`);
    const payloadStart = pos + headerBytes;
    const payload = data.subarray(payloadStart, payloadStart + header.payloadBytes);
    if (payload.byteLength !== header.payloadBytes || crc32Of(payload) !== header.payloadCrc) {
      throw new Error(`${segmentPath}@${pos}: torn or corrupt payload`);
    }
    const endOffset = pos + frameBytes(header.payloadBytes, headerBytes);
    layout.frames.push({ offset: pos, ...header, payloadOffset: payloadStart, endOffset });
    if (header.kind === KIND_TOPIC_DEF) layout.topicNames.set(header.topicId, new TextDecoder().decode(payload));
    pos = endOffset;
  }
  return layout;
}

/** Every ENTRY frame of a directory, in scan order, with its topic name resolved from its segment. */
export function locateEntries(dir: string): EntryLocation[] {
  return segmentPaths(dir).flatMap((segmentPath) => {
    const layout = readSegmentLayout(segmentPath);
    return layout.frames
      .filter((frame) => frame.kind === KIND_ENTRY)
      .map((frame) => ({ ...frame, path: segmentPath, topic: layout.topicNames.get(frame.topicId) ?? '?' }));
  });
}

export function findEntry(dir: string, topic: string, seq: number): EntryLocation {
  const found = locateEntries(dir).find((entry) => entry.topic === topic && entry.seq === seq);
  if (!found) throw new Error(`no frame for ${topic}#${seq} in ${dir}`);
  return found;
}

/** The id a topic has on disk (from its TOPIC_DEF frames). */
export function topicIdOf(dir: string, topic: string): number {
  for (const segmentPath of segmentPaths(dir)) {
    for (const [id, name] of readSegmentLayout(segmentPath).topicNames) if (name === topic) return id;
  }
  throw new Error(`topic ${topic} has no TOPIC_DEF in ${dir}`);
}

function patchFile(filePath: string, patch: (fd: number) => void): void {
  const fd = fs.openSync(filePath, 'r+');
  try {
    patch(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function readBytes(filePath: string, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  patchFile(filePath, (fd) => fs.readSync(fd, out, 0, length, offset));
  return out;
}

export function overwrite(filePath: string, offset: number, bytes: Uint8Array): void {
  patchFile(filePath, (fd) => fs.writeSync(fd, bytes, 0, bytes.byteLength, offset));
}

export function flipBit(filePath: string, offset: number, bit = 0): void {
  const byte = readBytes(filePath, offset, 1);
  byte[0] = byte[0]! ^ (1 << bit);
  overwrite(filePath, offset, byte);
}

export function zeroRange(filePath: string, offset: number, length: number): void {
  overwrite(filePath, offset, new Uint8Array(length));
}

export function truncateTo(filePath: string, lengthBytes: number): void {
  fs.truncateSync(filePath, lengthBytes);
}

export function appendBytes(filePath: string, bytes: Uint8Array): void {
  fs.appendFileSync(filePath, bytes);
}

export function fileBytes(filePath: string): number {
  return fs.statSync(filePath).size;
}

/**
 * Rewrites fields of a frame header and re-seals it with a correct header CRC (a "valid" foreign
 * frame): in the segment's own layout, so a version-2 header is sealed with its salt and offset.
 * Fields 0–23 (kind, flags, length, topic, seq) lie at the same offsets in both layouts.
 */
export function patchFrameHeader(filePath: string, frameOffset: number, patch: (header: Buffer) => void): void {
  // Read from the raw header, not through readSegmentLayout: the file may already be patched.
  const formatVersion = readBytes(filePath, 4, 1)[0]!;
  const salt = formatVersion === 1 ? 0 : readBytes(filePath, FRAME_HEADER_BYTES_V2 + 20, 4).readUInt32LE(0);
  const header = readBytes(filePath, frameOffset, frameHeaderBytes(formatVersion));
  patch(header);
  if (formatVersion === 1) header.writeUInt32LE(crc32Of(header, 0, 28), 28);
  // The segment header is sealed with salt 0: a reader learns the salt from it (FORMAT §13.1.1).
  else sealFrameHeaderV2(header, 0, frameOffset === 0 ? 0 : salt, frameOffset);
  overwrite(filePath, frameOffset, header);
}

/** Deterministic pseudo-random bytes (an LCG), for garbage that is reproducible. */
export function garbage(lengthBytes: number, seed = 0x2545f491): Uint8Array {
  const out = new Uint8Array(lengthBytes);
  let state = seed >>> 0;
  for (let i = 0; i < lengthBytes; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

export interface ForgedSegment {
  epoch: number;
  blockBytes: number;
  topicId: number;
  topic: string;
  entries: Array<{ seq: number; data: Uint8Array }>;
}

/**
 * A small, fully valid segment (header, TOPIC_DEF, ENTRY frames, all inside block 0). Used to prove
 * that a file is ignored because of its name, not because its content would be rejected anyway.
 */
export function forgeSegmentBytes(forged: ForgedSegment): Uint8Array {
  const header = encodeSegmentHeaderPayload({
    formatVersion: 1,
    blockBytes: forged.blockBytes,
    epoch: forged.epoch,
    writerIndex: 0,
    segmentNo: 0,
    createdAtMs: 0,
    salt: 0,
    indexIntervalBytes: 32 * 1024,
  });
  const frames = [
    encodeFrame(KIND_SEGMENT_HEADER, 0, 0, 0, header),
    encodeFrame(KIND_TOPIC_DEF, 0, forged.topicId, 0, new TextEncoder().encode(forged.topic)),
    ...forged.entries.map((entry) => encodeFrame(KIND_ENTRY, 0, forged.topicId, entry.seq, entry.data)),
  ];
  const out = Buffer.concat(frames);
  if (out.byteLength > forged.blockBytes) throw new Error('a forged segment must fit in one block');
  return out;
}
