/**
 * The on-disk segment summary (docs/FORMAT.md §15.2, with the changes of §22.2): a sidecar
 * `<stem>.sum` that holds exactly what a scan of the sealed segment `<stem>.seg` found, so an open
 * can take a segment's content without reading it. A 32-byte preamble with three checksums, a
 * msgpack head (identity, names, runs, damage) and an index of every run's points, 16 bytes each.
 *
 * A summary is a cache: anything wrong with one (torn, flipped, crafted, out of bounds) means the
 * segment is scanned again, so decoding reports it (`ok: false`) and never throws for it. Every
 * bound is checked before anything proportional to a count is built, so a crafted file costs at
 * most its own length. Encoding runs the same checks, so whatever it writes decodes.
 */
import * as path from 'node:path';
import { Packr } from 'msgpackr';
import { WalError } from '../errors.js';
import { isValidBlockBytes } from './block-layout.js';
import {
  FRAME_ALIGN_BYTES,
  FRAME_VERSION_1,
  FRAME_VERSION_2,
  MAX_TIME_MS,
  align8,
  crc32Of,
  isValidIndexIntervalBytes,
  readU32,
  segmentHeaderFrameBytes,
  writeU32,
} from './frame.js';
import { MAX_SEQ } from './limits.js';
import { parseSegmentFileName } from './segment-name.js';
import type { DamageReport, ScannedRun, SegmentScan } from './segment-scanner.js';
import { POINT_FIELDS } from './sparse-index.js';

export const SUMMARY_FILE_SUFFIX = '.sum';
export const SUMMARY_TMP_SUFFIX = '.sum.tmp';
/** The bytes to read first: the preamble (32 bytes) tells the full length. */
export const SUMMARY_PREAMBLE_BYTES = 32;

const SEGMENT_SUFFIX = '.seg';
const SUMMARY_MAGIC = 0x4d555357; // bytes 57 53 55 4D, "WSUM"
const SUMMARY_VERSION = 2;
const POINT_BYTES = 16;
/** A summary may exceed half its segment by this much: the head of a segment with hardly any frames. */
const SUMMARY_SLACK_BYTES = 64 * 1024;
/** Every name, run, point and damage report stands for at least one frame of at least 32 bytes. */
const MIN_FRAME_BYTES = 32;
const MAX_TOPIC_NAME_BYTES = 4096;
const MAX_DAMAGE_REASON_CHARS = 256;
const MAX_BOOT_ID_CHARS = 256;
const MAX_SEGMENT_STAMP_CHARS = 64;
const MAX_U32 = 0xffff_ffff;
const TWO_POW_32 = 0x1_0000_0000;

const summaryPackr = new Packr({ useRecords: false, mapsAsObjects: true });
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

/** `<dir>/<stem>.seg` → `<dir>/<stem>.sum` */
export function summaryPathOf(segmentPath: string): string {
  if (!segmentPath.endsWith(SEGMENT_SUFFIX))
    throw WalError.invalidArgument(`not a segment path: ${segmentPath}`, { path: segmentPath });
  return segmentPath.slice(0, -SEGMENT_SUFFIX.length) + SUMMARY_FILE_SUFFIX;
}

export interface SummaryMeta {
  writtenBy: 'writer' | 'recovery';
  sealedAtMs: number;
  /** false when written under fsync 'none' (then bootId says which boot wrote it) */
  synced: boolean;
  bootId?: string;
  /**
   * The segment file's change stamp when summarized (FileIo.changeStamp: its inode and ctime): a
   * segment changed since (rewritten, damaged by a write, restored from a copy) is scanned, not
   * trusted (docs/FORMAT.md §15.4 rule 5).
   */
  segmentStamp: string;
}

export type DecodedSummary = { ok: true; scan: SegmentScan; meta: SummaryMeta } | { ok: false; reason: string };

/** The head as checked: every field typed and within its bound. */
interface Head {
  segment: string;
  segmentVersion: number;
  blockBytes: number;
  salt: number;
  createdAtMs: number;
  indexIntervalBytes: number;
  sizeBytes: number;
  validEndOffset: number;
  maxTimeMs: number;
  meta: SummaryMeta;
  names: Array<[number, string]>;
  runs: RunRow[];
  damage: DamageRow[];
}

type RunRow = [
  topicId: number,
  firstSeq: number,
  count: number,
  startOffset: number,
  endOffset: number,
  firstTimeMs: number,
  lastTimeMs: number,
  firstPoint: number,
  pointCount: number,
];
type DamageRow = [offset: number, reason: string, topicId: number | null, seq: number | null];

const HEAD_KEYS = new Set([
  'segment',
  'segmentVersion',
  'blockBytes',
  'salt',
  'createdAtMs',
  'indexIntervalBytes',
  'sizeBytes',
  'validEndOffset',
  'maxTimeMs',
  'writtenBy',
  'sealedAtMs',
  'synced',
  'bootId',
  'segmentStamp',
  'names',
  'runs',
  'damage',
]);

/** Throws WalError ERR_INVALID_ARGUMENT if the scan cannot be summarized (scan.unreadable, formatVersion 0, or a bound of §15.2 it exceeds). */
export function encodeSegmentSummary(scan: SegmentScan, meta: SummaryMeta): Uint8Array {
  const refuse = (why: string): WalError =>
    WalError.invalidArgument(`${scan.path}: cannot be summarized: ${why}`, { path: scan.path });
  if (scan.unreadable) throw refuse('its segment header is unreadable');
  if (scan.formatVersion !== FRAME_VERSION_1 && scan.formatVersion !== FRAME_VERSION_2)
    throw refuse(`format version ${scan.formatVersion}`);
  let totalPoints = 0;
  for (const run of scan.runs) totalPoints += run.points.length / POINT_FIELDS;
  // Checked before the index is allocated: a scan is trusted data, but its size still decides ours.
  const maxCount = maxCountFor(scan.sizeBytes);
  if (!Number.isInteger(totalPoints) || totalPoints > maxCount)
    throw refuse(`bounds: ${totalPoints} points, at most ${maxCount}`);
  const index = new Uint8Array(totalPoints * POINT_BYTES);
  const runs: RunRow[] = [];
  let at = 0;
  for (const run of scan.runs) {
    const n = run.points.length / POINT_FIELDS;
    runs.push([
      run.topicId,
      run.firstSeq,
      run.count,
      run.startOffset,
      run.endOffset,
      run.firstTimeMs,
      run.lastTimeMs,
      at,
      n,
    ]);
    for (let i = 0; i < n; i++) {
      const problem = writePoint(index, at + i, run, i);
      if (problem !== null) throw refuse(`bounds: run of topic ${run.topicId} at ${run.startOffset}: ${problem}`);
    }
    at += n;
  }
  const record: Record<string, unknown> = {
    segment: path.basename(scan.path),
    segmentVersion: scan.formatVersion,
    blockBytes: scan.blockBytes,
    salt: scan.salt,
    createdAtMs: scan.createdAtMs,
    indexIntervalBytes: scan.indexIntervalBytes,
    sizeBytes: scan.sizeBytes,
    validEndOffset: scan.validEndOffset,
    maxTimeMs: scan.maxTimeMs,
    writtenBy: meta.writtenBy,
    sealedAtMs: meta.sealedAtMs,
    synced: meta.synced,
    ...(meta.bootId === undefined ? {} : { bootId: meta.bootId }),
    segmentStamp: meta.segmentStamp,
    names: scan.topicNames.map(([id, name]) => [id, name]),
    runs,
    damage: scan.damage.map((d): DamageRow => [d.offset, d.reason, d.topicId ?? null, d.seq ?? null]),
  };
  // The checks decoding makes, made on what is about to be written: a summary we write always decodes.
  const head = parseHead(record);
  if (typeof head === 'string') throw refuse(head);
  const problem = checkRunsAndPoints(head, index);
  if (typeof problem === 'string') throw refuse(problem);
  const headBytes = summaryPackr.pack(record);
  const total = SUMMARY_PREAMBLE_BYTES + align8(headBytes.byteLength) + index.byteLength;
  const maxTotal = maxSummaryBytes(scan.sizeBytes);
  if (total > maxTotal) throw refuse(`bounds: the summary would be ${total} bytes, at most ${maxTotal}`);
  const out = new Uint8Array(total);
  const indexAt = SUMMARY_PREAMBLE_BYTES + align8(headBytes.byteLength);
  // msgpackr reuses its output buffer between calls, so the head is copied out at once.
  out.set(headBytes, SUMMARY_PREAMBLE_BYTES);
  out.set(index, indexAt);
  writeU32(out, 0, SUMMARY_MAGIC);
  writeU32(out, 4, SUMMARY_VERSION);
  writeU32(out, 8, headBytes.byteLength);
  writeU32(out, 12, crc32Of(out, SUMMARY_PREAMBLE_BYTES, SUMMARY_PREAMBLE_BYTES + headBytes.byteLength));
  writeU32(out, 16, index.byteLength);
  writeU32(out, 20, crc32Of(out, indexAt, total));
  writeU32(out, 24, crc32Of(out, 0, 24));
  return out;
}

/** Writes point `i` of `run` as index entry `slot`; returns why it cannot be represented, or null. */
function writePoint(index: Uint8Array, slot: number, run: ScannedRun, i: number): string | null {
  const offset = run.points[i * POINT_FIELDS]!;
  const delta = run.points[i * POINT_FIELDS + 1]! - run.firstSeq;
  const timeMs = run.points[i * POINT_FIELDS + 2]!;
  // Frames start 8-aligned in both versions (block-layout.ts, frame.ts align8), so offset / 8 is exact.
  if (!isUint(offset, MAX_U32 * FRAME_ALIGN_BYTES) || offset % FRAME_ALIGN_BYTES !== 0)
    return `point offset ${offset} is not an 8-aligned offset below 32 GiB`;
  if (!isUint(delta, MAX_U32)) return `point seq ${run.points[i * POINT_FIELDS + 1]} is not firstSeq + a u32`;
  if (!isUint(timeMs, MAX_TIME_MS)) return `point time ${timeMs} is not a safe non-negative integer`;
  const at = slot * POINT_BYTES;
  writeU32(index, at, offset / FRAME_ALIGN_BYTES);
  writeU32(index, at + 4, delta);
  writeU32(index, at + 8, timeMs % TWO_POW_32);
  writeU32(index, at + 12, Math.floor(timeMs / TWO_POW_32));
  return null;
}

/** Total file length the preamble announces, or -1 if the preamble is invalid (bad magic / preamble CRC). */
export function summaryLengthFromPreamble(preamble: Uint8Array): number {
  if (preamble.byteLength < SUMMARY_PREAMBLE_BYTES) return -1;
  if (readU32(preamble, 0) !== SUMMARY_MAGIC || readU32(preamble, 24) !== crc32Of(preamble, 0, 24)) return -1;
  return SUMMARY_PREAMBLE_BYTES + align8(readU32(preamble, 8)) + readU32(preamble, 16);
}

/** Never throws for damaged/crafted bytes (returns ok:false with a short reason such as 'torn', 'head checksum mismatch', 'bounds: ...'); throws WalError ERR_UNSUPPORTED_FORMAT only for a valid preamble whose version is above 2. `segmentPath` is the segment file the summary sits beside: the decoded scan's `path` is it, `id` is parsed from its name, and the head's `segment` must equal its basename (else ok:false 'names another segment'). */
export function decodeSegmentSummary(bytes: Uint8Array, segmentPath: string): DecodedSummary;
/**
 * Head only (`headOnly.fileBytes`: the summary file's length): `bytes` are its first
 * `summaryHeadLength` bytes, the index is neither read nor checked, and each run's points are just
 * its first entry [startOffset, firstSeq, firstTimeMs], which the head holds (open reads only
 * heads; the points come later, `summary-files.ts` loadSummaryPoints).
 */
export function decodeSegmentSummary(
  bytes: Uint8Array,
  segmentPath: string,
  headOnly: { fileBytes: number },
): DecodedSummary;
export function decodeSegmentSummary(
  bytes: Uint8Array,
  segmentPath: string,
  headOnly?: { fileBytes: number },
): DecodedSummary {
  const segmentName = path.basename(segmentPath);
  const id = parseSegmentFileName(segmentName);
  // The path is the caller's, not the file's: a wrong one is a bug, not a damaged summary.
  if (id === null) throw WalError.invalidArgument(`not a segment file name: ${segmentPath}`, { path: segmentPath });
  const fail = (reason: string): DecodedSummary => ({ ok: false, reason });
  if (bytes.byteLength < SUMMARY_PREAMBLE_BYTES) return fail('torn');
  if (readU32(bytes, 0) !== SUMMARY_MAGIC) return fail('bad magic');
  if (readU32(bytes, 24) !== crc32Of(bytes, 0, 24)) return fail('preamble checksum mismatch');
  const version = readU32(bytes, 4);
  if (version > SUMMARY_VERSION) {
    throw new WalError(
      'ERR_UNSUPPORTED_FORMAT',
      `${summaryPathOf(segmentPath)}: segment summary version ${version} is not supported (this build reads version ${SUMMARY_VERSION})`,
      { path: summaryPathOf(segmentPath) },
    );
  }
  if (version !== SUMMARY_VERSION) return fail(`version ${version}`);
  // The reserved word lies outside the preamble checksum (bytes 0…23): checked here, so no byte goes unchecked.
  if (readU32(bytes, 28) !== 0) return fail('reserved bytes not zero');
  const headBytes = readU32(bytes, 8);
  const indexBytes = readU32(bytes, 16);
  const indexAt = SUMMARY_PREAMBLE_BYTES + align8(headBytes);
  const total = indexAt + indexBytes;
  const fileBytes = headOnly?.fileBytes ?? bytes.byteLength;
  if (fileBytes < total || bytes.byteLength < (headOnly ? indexAt : total)) return fail('torn');
  if (fileBytes > total) return fail(`length: ${fileBytes} bytes, the preamble announces ${total}`);
  if (indexBytes % POINT_BYTES !== 0) return fail(`bounds: index of ${indexBytes} bytes`);
  const headEnd = SUMMARY_PREAMBLE_BYTES + headBytes;
  if (readU32(bytes, 12) !== crc32Of(bytes, SUMMARY_PREAMBLE_BYTES, headEnd)) return fail('head checksum mismatch');
  for (let i = headEnd; i < indexAt; i++) if (bytes[i] !== 0) return fail('head padding not zero');
  if (!headOnly && readU32(bytes, 20) !== crc32Of(bytes, indexAt, total)) return fail('index checksum mismatch');

  let value: unknown;
  try {
    value = summaryPackr.unpack(bytes.subarray(SUMMARY_PREAMBLE_BYTES, headEnd));
  } catch {
    return fail('head is not msgpack');
  }
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype)
    return fail('head is not a map');
  const record = value as Record<string, unknown>;
  if (typeof record.segment === 'string' && record.segment !== segmentName) return fail('names another segment');
  // Before the lists are walked: the total bound needs only sizeBytes (the lists are already bounded by the bytes).
  const sizeBytes = record.sizeBytes;
  if (isUint(sizeBytes, MAX_SEQ) && total > maxSummaryBytes(sizeBytes))
    return fail(`bounds: ${total} bytes for a segment of ${sizeBytes}`);
  const head = parseHead(record);
  if (typeof head === 'string') return fail(head);
  if (head.segment !== segmentName) return fail('names another segment');
  if (headOnly) {
    if (indexBytes / POINT_BYTES > maxCountFor(head.sizeBytes))
      return fail(`bounds: ${indexBytes / POINT_BYTES} points`);
    const firstPoints = head.runs.map(
      ([, firstSeq, , startOffset, , firstTimeMs]) => new Float64Array([startOffset, firstSeq, firstTimeMs]),
    );
    return { ok: true, scan: buildScan(head, firstPoints, segmentPath, id), meta: head.meta };
  }
  const index = bytes.subarray(indexAt, total);
  const points = checkRunsAndPoints(head, index);
  if (typeof points === 'string') return fail(points);
  return { ok: true, scan: buildScan(head, points, segmentPath, id), meta: head.meta };
}

/** How many bytes of a summary file its head ends at (the preamble's announced head), or -1 if the preamble is invalid. */
export function summaryHeadLength(preamble: Uint8Array): number {
  if (summaryLengthFromPreamble(preamble) < 0) return -1;
  return SUMMARY_PREAMBLE_BYTES + align8(readU32(preamble, 8));
}

/** The head checksum a valid preamble carries (what a clean-shutdown record binds, FORMAT §16). */
export function summaryHeadCrc(preamble: Uint8Array): number {
  return readU32(preamble, 12);
}

/** The longest summary a segment of `sizeBytes` may have (§15.2): a longer one is damage, never read. */
export function maxSummaryBytes(sizeBytes: number): number {
  return SUMMARY_SLACK_BYTES + Math.floor(sizeBytes / 2);
}

function maxCountFor(sizeBytes: number): number {
  return Math.floor(sizeBytes / MIN_FRAME_BYTES) + 1;
}

/** A safe integer in [0, max]; a BigInt (msgpack's uint64) is never one. */
function isUint(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max;
}

function isWellFormedName(name: string): boolean {
  const encoded = utf8Encoder.encode(name);
  // A lone surrogate encodes as U+FFFD, so a string that does not survive the trip is not UTF-8.
  return encoded.byteLength >= 1 && encoded.byteLength <= MAX_TOPIC_NAME_BYTES && utf8Decoder.decode(encoded) === name;
}

/** The head's fields, typed and each within its own bound, or why not (the runs' points are checked apart). */
function parseHead(record: Record<string, unknown>): Head | string {
  for (const key of Object.keys(record)) if (!HEAD_KEYS.has(key)) return `unknown head key ${JSON.stringify(key)}`;
  const {
    segment,
    segmentVersion,
    blockBytes,
    salt,
    createdAtMs,
    indexIntervalBytes,
    sizeBytes,
    validEndOffset,
    maxTimeMs,
    writtenBy,
    sealedAtMs,
    synced,
    bootId,
    segmentStamp,
    names,
    runs,
    damage,
  } = record;
  if (typeof segment !== 'string' || parseSegmentFileName(segment) === null) return 'bounds: segment';
  if (segmentVersion !== FRAME_VERSION_1 && segmentVersion !== FRAME_VERSION_2) return 'bounds: segmentVersion';
  if (!isUint(blockBytes, MAX_U32) || !isValidBlockBytes(blockBytes)) return 'bounds: blockBytes';
  if (!isUint(salt, segmentVersion === FRAME_VERSION_1 ? 0 : MAX_U32)) return 'bounds: salt';
  if (!isUint(createdAtMs, MAX_TIME_MS)) return 'bounds: createdAtMs';
  if (!isUint(indexIntervalBytes, MAX_U32) || !isValidIndexIntervalBytes(indexIntervalBytes))
    return 'bounds: indexIntervalBytes';
  const headerFrameBytes = segmentHeaderFrameBytes(segmentVersion);
  if (!isUint(sizeBytes, MAX_SEQ) || sizeBytes < headerFrameBytes) return 'bounds: sizeBytes';
  if (!isUint(validEndOffset, sizeBytes) || validEndOffset < headerFrameBytes) return 'bounds: validEndOffset';
  if (!isUint(maxTimeMs, MAX_TIME_MS)) return 'bounds: maxTimeMs';
  if (writtenBy !== 'writer' && writtenBy !== 'recovery') return 'bounds: writtenBy';
  if (!isUint(sealedAtMs, MAX_TIME_MS)) return 'bounds: sealedAtMs';
  if (typeof synced !== 'boolean') return 'bounds: synced';
  if (bootId !== undefined && (synced || typeof bootId !== 'string' || bootId.length > MAX_BOOT_ID_CHARS))
    return 'bounds: bootId';
  if (typeof segmentStamp !== 'string' || segmentStamp.length > MAX_SEGMENT_STAMP_CHARS) return 'bounds: segmentStamp';
  const maxCount = maxCountFor(sizeBytes);
  if (!Array.isArray(names) || names.length > maxCount) return 'bounds: names';
  if (!Array.isArray(runs) || runs.length > maxCount) return 'bounds: runs';
  if (!Array.isArray(damage) || damage.length > maxCount) return 'bounds: damage';

  const seen = new Set<number>();
  for (const row of names as unknown[]) {
    if (!Array.isArray(row) || row.length !== 2) return 'bounds: names: not an [id, name] pair';
    const [topicId, name] = row as unknown[];
    if (!isUint(topicId, MAX_U32) || topicId < 1) return 'bounds: names: topic id';
    if (seen.has(topicId)) return `bounds: names: topic id ${topicId} twice`;
    seen.add(topicId);
    if (typeof name !== 'string' || !isWellFormedName(name)) return 'bounds: names: not 1 to 4096 bytes of UTF-8';
  }
  for (const row of runs as unknown[]) {
    if (!Array.isArray(row) || row.length !== 9) return 'bounds: runs: not a row of 9';
    const [topicId, firstSeq, count, startOffset, endOffset, firstTimeMs, lastTimeMs, firstPoint, pointCount] =
      row as unknown[];
    if (!isUint(topicId, MAX_U32) || topicId < 1) return 'bounds: runs: topic id';
    if (!isUint(firstSeq, MAX_SEQ) || !isUint(count, MAX_SEQ - firstSeq)) return 'bounds: runs: seqs';
    if (!isUint(startOffset, sizeBytes - 1) || !isUint(endOffset, sizeBytes) || endOffset <= startOffset)
      return 'bounds: runs: offsets';
    if (startOffset % FRAME_ALIGN_BYTES !== 0 || endOffset % FRAME_ALIGN_BYTES !== 0)
      return 'bounds: runs: offsets not 8-aligned';
    if (!isUint(firstTimeMs, MAX_TIME_MS) || !isUint(lastTimeMs, MAX_TIME_MS) || lastTimeMs < firstTimeMs)
      return 'bounds: runs: times';
    if (!isUint(firstPoint, maxCount) || !isUint(pointCount, maxCount)) return 'bounds: runs: points';
  }
  for (const row of damage as unknown[]) {
    if (!Array.isArray(row) || row.length !== 4) return 'bounds: damage: not a row of 4';
    const [offset, reason, topicId, seq] = row as unknown[];
    if (!isUint(offset, sizeBytes)) return 'bounds: damage: offset';
    if (typeof reason !== 'string' || reason.length > MAX_DAMAGE_REASON_CHARS) return 'bounds: damage: reason';
    if (topicId !== null && !isUint(topicId, MAX_U32)) return 'bounds: damage: topic id';
    if (seq !== null && !isUint(seq, MAX_SEQ)) return 'bounds: damage: seq';
  }
  const meta: SummaryMeta = { writtenBy, sealedAtMs, synced, segmentStamp };
  if (bootId !== undefined) meta.bootId = bootId;
  return {
    segment,
    segmentVersion,
    blockBytes,
    salt,
    createdAtMs,
    indexIntervalBytes,
    sizeBytes,
    validEndOffset,
    maxTimeMs,
    meta,
    names: names as Array<[number, string]>,
    runs: runs as RunRow[],
    damage: damage as DamageRow[],
  };
}

/**
 * The bounds that relate runs to each other and to the index: a topic's runs in file order without
 * overlap, and each run's points (§14.2) — the first at the run's start, then strictly increasing
 * offsets inside the run and seqs inside its count, times non-decreasing within the run's times.
 */
/**
 * Checks every run's points against the run (§15.2's bounds) and decodes them, in one pass: a
 * summary of a 64 MiB segment of 16 interleaved topics holds some 32,000 points, and open decodes
 * every summary. Returns the points of each run, in `head.runs` order, or why they are damaged.
 */
function checkRunsAndPoints(head: Head, index: Uint8Array): Float64Array[] | string {
  const totalPoints = index.byteLength / POINT_BYTES;
  if (totalPoints > maxCountFor(head.sizeBytes)) return `bounds: ${totalPoints} points`;
  const words = indexWords(index);
  const topicEnds = new Map<number, number>();
  const decoded: Float64Array[] = [];
  let nextPoint = 0;
  for (const [
    topicId,
    firstSeq,
    count,
    startOffset,
    endOffset,
    firstTimeMs,
    lastTimeMs,
    firstPoint,
    pointCount,
  ] of head.runs) {
    const where = `bounds: run of topic ${topicId} at ${startOffset}`;
    if (startOffset < (topicEnds.get(topicId) ?? 0)) return `${where}: overlaps or precedes its topic's previous run`;
    topicEnds.set(topicId, endOffset);
    if (firstPoint !== nextPoint) return `${where}: points not in run order`;
    if (pointCount > count || (count >= 1 && pointCount < 1)) return `${where}: ${pointCount} points`;
    if (firstPoint + pointCount > totalPoints) return `${where}: points past the index`;
    nextPoint += pointCount;
    const points = new Float64Array(pointCount * POINT_FIELDS);
    let lastOffset = -1;
    let lastDelta = -1;
    let lastTime = firstTimeMs;
    for (let k = 0; k < pointCount; k++) {
      const w = (firstPoint + k) * (POINT_BYTES / 4);
      const offset = words[w]! * FRAME_ALIGN_BYTES;
      const delta = words[w + 1]!;
      const hi = words[w + 3]!;
      const timeMs = hi * TWO_POW_32 + words[w + 2]!;
      if (k === 0 && (offset !== startOffset || delta !== 0)) return `${where}: point 0 is not the run's first entry`;
      if (k > 0 && offset <= lastOffset) return `${where}: point ${k} offset not increasing`;
      if (k > 0 && delta <= lastDelta) return `${where}: point ${k} seq not increasing`;
      if (offset >= endOffset || delta >= count) return `${where}: point ${k} outside the run`;
      // hi < 2^21 keeps the time below 2^53, exact as a number.
      if (hi >= TWO_POW_32 / 2048 || timeMs < lastTime || timeMs > lastTimeMs) return `${where}: point ${k} time`;
      points[k * POINT_FIELDS] = offset;
      points[k * POINT_FIELDS + 1] = firstSeq + delta;
      points[k * POINT_FIELDS + 2] = timeMs;
      lastOffset = offset;
      lastDelta = delta;
      lastTime = timeMs;
    }
    decoded.push(points);
  }
  if (nextPoint !== totalPoints) return `bounds: ${totalPoints - nextPoint} points belong to no run`;
  return decoded;
}

/** The index as little-endian u32 words: a view where the host is little-endian and the bytes aligned, else decoded. */
function indexWords(index: Uint8Array): Uint32Array {
  if (LITTLE_ENDIAN_HOST && index.byteOffset % 4 === 0)
    return new Uint32Array(index.buffer, index.byteOffset, index.byteLength / 4);
  const words = new Uint32Array(index.byteLength / 4);
  for (let i = 0; i < words.length; i++) words[i] = readU32(index, i * 4);
  return words;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function buildScan(head: Head, points: Float64Array[], segmentPath: string, id: SegmentScan['id']): SegmentScan {
  const runs = head.runs.map(
    ([topicId, firstSeq, count, startOffset, endOffset, firstTimeMs, lastTimeMs], r): ScannedRun => ({
      ...{ topicId, firstSeq, count, startOffset, endOffset, firstTimeMs, lastTimeMs },
      points: points[r]!,
    }),
  );
  const damage = head.damage.map(([offset, reason, topicId, seq]) => {
    const report: DamageReport = { path: segmentPath, offset, reason };
    if (topicId !== null) report.topicId = topicId;
    if (seq !== null) report.seq = seq;
    return report;
  });
  return {
    path: segmentPath,
    id,
    formatVersion: head.segmentVersion,
    salt: head.salt,
    blockBytes: head.blockBytes,
    indexIntervalBytes: head.indexIntervalBytes,
    createdAtMs: head.createdAtMs,
    maxTimeMs: head.maxTimeMs,
    sizeBytes: head.sizeBytes,
    topicNames: head.names.map(([topicId, name]): [number, string] => [topicId, name]),
    runs,
    damage,
    validEndOffset: head.validEndOffset,
    unreadable: false,
  };
}
