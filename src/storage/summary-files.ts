/**
 * The summary files beside sealed segments (docs/FORMAT.md §15.3–§15.4): drafting one, publishing
 * it once its segment is durable, deciding at open which summaries to trust instead of scanning
 * their segments, and removing them with their segments. The bytes are segment-summary.ts's.
 *
 * Order is what makes a summary safe: a draft (`S.sum.tmp`) is written without fsync; publishing
 * fdatasyncs S first, then fsyncs the draft, then renames it to `S.sum`, and the caller fsyncs the
 * directory. So a `S.sum` that exists names bytes of S that are durable. Under fsync 'none' nothing
 * is fsynced and the summary says so (`synced: false` and the boot id), so only an open in the same
 * boot, whose page cache holds both files, trusts it.
 *
 * A summary is a cache: failing to write one never fails an append or a close; the segment is
 * scanned at the next open instead.
 */
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { decodeSegmentHeader, segmentHeaderFrameBytes } from './frame.js';
import { createFresh, fileSizeAt, preadFull, pwriteAll, type FileIo } from './file-io.js';
import { parseSegmentFileName } from './segment-name.js';
import type { SegmentScan } from './segment-scanner.js';
import {
  SUMMARY_FILE_SUFFIX,
  SUMMARY_PREAMBLE_BYTES,
  SUMMARY_TMP_SUFFIX,
  decodeSegmentSummary,
  encodeSegmentSummary,
  maxSummaryBytes,
  summaryHeadCrc,
  summaryHeadLength,
  summaryLengthFromPreamble,
  summaryPathOf,
} from './segment-summary.js';

/** `S.sum.tmp`: a summary not yet published. */
export function summaryDraftPathOf(segmentPath: string): string {
  return summaryPathOf(segmentPath) + SUMMARY_TMP_SUFFIX.slice(SUMMARY_FILE_SUFFIX.length);
}

/**
 * Writes the draft summary of a sealed segment (no fsync): true when written. A scan that cannot be
 * summarized (an unreadable header, a bound exceeded) or a failed write leaves no draft.
 */
export function draftSummary(
  io: FileIo,
  scan: SegmentScan,
  writtenBy: 'writer' | 'recovery',
  synced: boolean,
): boolean {
  const draft = summaryDraftPathOf(scan.path);
  let bytes: Uint8Array;
  try {
    const bootId = synced ? undefined : (io.bootId() ?? undefined);
    // A segment of another length than scanned changed while being summarized: no summary.
    const { fileBytes, stamp: segmentStamp } = segmentState(io, scan.path);
    if (fileBytes !== scan.sizeBytes) return false;
    const meta = { writtenBy, sealedAtMs: Date.now(), synced, segmentStamp, ...(bootId && { bootId }) };
    bytes = encodeSegmentSummary(scan, meta);
  } catch {
    return false;
  }
  try {
    const fd = createFresh(io, draft);
    try {
      pwriteAll(io, fd, bytes, 0);
    } finally {
      io.close(fd);
    }
    return true;
  } catch {
    unlinkIfThere(io, draft);
    return false;
  }
}

/**
 * Publishes the draft of each segment named: fdatasync of the segment, fsync of the draft, rename
 * (only the rename when `durable` is false), then one directory fsync if any was published. A
 * segment or draft that is gone (reclaimed meanwhile) is skipped. A failed fdatasync of a segment
 * throws, as every failed data fsync does (it is final); a failed fsync of a draft abandons that
 * draft. Returns how many were published.
 */
export function publishSummaries(io: FileIo, dir: string, segmentPaths: Iterable<string>, durable: boolean): number {
  let published = 0;
  for (const segmentPath of segmentPaths) {
    const draft = summaryDraftPathOf(segmentPath);
    if (io.kind(draft) !== 'file') continue;
    if (io.kind(segmentPath) !== 'file') {
      unlinkIfThere(io, draft);
      continue;
    }
    if (durable) syncFile(io, segmentPath, true);
    try {
      if (durable) syncFile(io, draft, false);
      io.rename(draft, summaryPathOf(segmentPath));
      published++;
    } catch {
      unlinkIfThere(io, draft);
    }
  }
  if (published > 0 && durable) io.fsyncDir(dir);
  return published;
}

/** Removes a segment's summary and draft (the segment is being deleted, or its summary is not to be trusted). */
export function removeSummaryFiles(io: FileIo, segmentPath: string): void {
  unlinkIfThere(io, summaryPathOf(segmentPath));
  unlinkIfThere(io, summaryDraftPathOf(segmentPath));
}

/** Why a segment is scanned at open instead of trusted from its summary. */
export interface ScannedBecause {
  path: string;
  why: string;
}

export interface RecoveryPlan {
  /** Contents taken from trusted summaries, in the order of `segmentPaths`. */
  trusted: SegmentScan[];
  /** Segments to scan. */
  toScan: string[];
  /** For each segment to scan that had a summary or draft: why it was not trusted. */
  distrusted: ScannedBecause[];
  /** The head checksum of each trusted summary, by segment path (the clean-shutdown record binds them, FORMAT §16). */
  headCrcs: Map<string, number>;
  /**
   * Segment files of 0 bytes, unlinked: a writer creates a segment and writes its header with its
   * first frames, so a crash (or a failed first write, rolled back) between the two leaves an empty
   * file that holds nothing. Kept, it could never be summarized and would hold off every later
   * clean-shutdown record; the caller leaves these out of everything else.
   */
  removedEmpty: string[];
}

/**
 * At open (§17 steps 3–4): unlinks every draft and every summary without its segment, and splits
 * the segments into those whose summary is trusted (§15.4) and those to scan. The checks of a
 * trusted summary: it decodes within its bounds, names this segment, the segment's length equals
 * the one summarized, the segment's header (read here: one small read) has the summary's version,
 * salt, block size and creation time, and it was synced or written in this boot. A summary of a
 * newer version throws ERR_UNSUPPORTED_FORMAT.
 */
export function planRecovery(
  io: FileIo,
  dir: string,
  segmentPaths: readonly string[],
  options: { headsOnly?: boolean } = {},
): RecoveryPlan {
  const segments = new Set(segmentPaths);
  for (const name of io.readdir(dir)) {
    if (!name.endsWith(SUMMARY_FILE_SUFFIX) && !name.endsWith(SUMMARY_TMP_SUFFIX)) continue;
    const stem = name.endsWith(SUMMARY_TMP_SUFFIX)
      ? name.slice(0, -SUMMARY_TMP_SUFFIX.length)
      : name.slice(0, -SUMMARY_FILE_SUFFIX.length);
    const segmentPath = path.join(dir, `${stem}.seg`);
    if (parseSegmentFileName(path.basename(segmentPath)) === null) continue;
    if (name.endsWith(SUMMARY_TMP_SUFFIX) || !segments.has(segmentPath)) unlinkIfThere(io, path.join(dir, name));
  }
  const plan: RecoveryPlan = { trusted: [], toScan: [], distrusted: [], headCrcs: new Map(), removedEmpty: [] };
  const bootId = io.bootId();
  for (const segmentPath of segmentPaths) {
    const summaryPath = summaryPathOf(segmentPath);
    const kind = io.kind(summaryPath);
    if (kind === null) {
      if (isEmptyFile(io, segmentPath)) {
        io.unlink(segmentPath);
        plan.removedEmpty.push(segmentPath);
      } else plan.toScan.push(segmentPath);
      continue;
    }
    const verdict =
      kind === 'file'
        ? trustedContent(io, segmentPath, summaryPath, bootId, options.headsOnly === true)
        : 'not a regular file';
    if (typeof verdict === 'string') {
      plan.toScan.push(segmentPath);
      plan.distrusted.push({ path: segmentPath, why: verdict });
    } else {
      plan.trusted.push(verdict.scan);
      plan.headCrcs.set(segmentPath, verdict.headCrc);
    }
  }
  return plan;
}

/** Only a segment without a summary can be empty (a summary is of a sealed, written segment). */
function isEmptyFile(io: FileIo, filePath: string): boolean {
  try {
    return fileSizeAt(io, filePath) === 0;
  } catch {
    return false; // the scan reports what it cannot open
  }
}

function trustedContent(
  io: FileIo,
  segmentPath: string,
  summaryPath: string,
  bootId: string | null,
  headOnly: boolean,
): { scan: SegmentScan; headCrc: number } | string {
  const header = new Uint8Array(segmentHeaderFrameBytes(2));
  let segment: SegmentState;
  try {
    segment = segmentState(io, segmentPath, header);
  } catch (err) {
    return `segment unreadable: ${(err as Error).message}`;
  }
  const { fileBytes, stamp, headerBytes } = segment;
  let read: { bytes: Uint8Array; fileBytes: number; headCrc: number };
  try {
    read = readSummaryFile(io, summaryPath, maxSummaryBytes(fileBytes), headOnly);
  } catch (err) {
    return `summary unreadable: ${(err as Error).message}`;
  }
  const decoded = headOnly
    ? decodeSegmentSummary(read.bytes, segmentPath, { fileBytes: read.fileBytes })
    : decodeSegmentSummary(read.bytes, segmentPath);
  if (!decoded.ok) return `summary damaged: ${decoded.reason}`;
  const { scan, meta } = decoded;
  if (!meta.synced && (bootId === null || meta.bootId !== bootId))
    return 'summary written without fsync in another boot';
  if (fileBytes !== scan.sizeBytes) return `segment is ${fileBytes} bytes, its summary says ${scan.sizeBytes}`;
  if (stamp !== meta.segmentStamp) return 'segment changed since it was summarized';
  const info = decodeSegmentHeader(header, Math.min(fileBytes, headerBytes));
  if ('problem' in info) return `segment header unreadable (${info.problem})`;
  if (
    info.formatVersion !== scan.formatVersion ||
    info.salt !== scan.salt ||
    info.blockBytes !== scan.blockBytes ||
    info.createdAtMs !== scan.createdAtMs ||
    info.indexIntervalBytes !== scan.indexIntervalBytes
  )
    return 'segment header differs from its summary';
  return { scan, headCrc: read.headCrc };
}

/**
 * The summary's bytes, at most `maxBytes` (FORMAT §15.2's bound: a crafted length reads no more):
 * the preamble first, which says how long the file must be.
 */
function readSummaryFile(
  io: FileIo,
  summaryPath: string,
  maxBytes: number,
  headOnly = false,
): { bytes: Uint8Array; fileBytes: number; headCrc: number } {
  const fd = io.open(summaryPath, 'read');
  try {
    const preamble = new Uint8Array(SUMMARY_PREAMBLE_BYTES);
    if (preadFull(io, fd, preamble, 0) !== SUMMARY_PREAMBLE_BYTES) throw new Error('torn preamble');
    const length = summaryLengthFromPreamble(preamble);
    if (length < 0) throw new Error('damaged preamble');
    if (length > maxBytes) throw new Error(`${length} bytes is more than a summary of its segment can hold`);
    const fileBytes = io.fileSize(fd);
    if (fileBytes !== length) throw new Error(`torn: ${fileBytes} of ${length} bytes`);
    const wanted = headOnly ? summaryHeadLength(preamble) : length;
    const bytes = new Uint8Array(wanted);
    if (preadFull(io, fd, bytes, 0) !== wanted) throw new Error('torn');
    return { bytes, fileBytes, headCrc: summaryHeadCrc(preamble) };
  } finally {
    io.close(fd);
  }
}

/**
 * The points of every run of a segment open took from a summary's head (planRecovery with
 * `headsOnly`), read and checked now: the whole summary decoded again, and still the segment's
 * (same length and change stamp). Per topic, its runs' points in file order; a string says why
 * they cannot be had (the reader then starts from each run's first entry: correct, only slower).
 */
export function loadSummaryPoints(io: FileIo, segmentPath: string): Map<number, Float64Array[]> | string {
  try {
    const { fileBytes, stamp } = segmentState(io, segmentPath);
    const { bytes } = readSummaryFile(io, summaryPathOf(segmentPath), maxSummaryBytes(fileBytes));
    const decoded = decodeSegmentSummary(bytes, segmentPath);
    if (!decoded.ok) return `summary damaged: ${decoded.reason}`;
    if (decoded.scan.sizeBytes !== fileBytes || decoded.meta.segmentStamp !== stamp)
      return 'segment changed since it was summarized';
    const byTopic = new Map<number, Float64Array[]>();
    for (const run of decoded.scan.runs) {
      const list = byTopic.get(run.topicId);
      if (list === undefined) byTopic.set(run.topicId, [run.points]);
      else list.push(run.points);
    }
    return byTopic;
  } catch (err) {
    return `summary unreadable: ${(err as Error).message}`;
  }
}

interface SegmentState {
  fileBytes: number;
  stamp: string;
  /** How many bytes of the segment's start were read into `header` (0 without one). */
  headerBytes: number;
}

/** A segment's length and change stamp (and its first bytes into `header`), through one descriptor. */
function segmentState(io: FileIo, segmentPath: string, header?: Uint8Array): SegmentState {
  const fd = io.open(segmentPath, 'read');
  try {
    const fileBytes = io.fileSize(fd);
    const stamp = io.changeStamp(fd);
    return { fileBytes, stamp, headerBytes: header === undefined ? 0 : preadFull(io, fd, header, 0) };
  } finally {
    io.close(fd);
  }
}

function syncFile(io: FileIo, filePath: string, dataOnly: boolean): void {
  const fd = io.open(filePath, 'read');
  try {
    if (dataOnly) io.fdatasync(fd);
    else io.fsync(fd);
  } catch (err) {
    throw WalError.fromSystem(err, dataOnly ? 'fdatasync' : 'fsync', filePath);
  } finally {
    io.close(fd);
  }
}

function unlinkIfThere(io: FileIo, filePath: string): void {
  try {
    io.unlink(filePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * For verify(): how a segment's published summary differs from a fresh scan of it (the first field
 * that does), or null when it agrees, there is none, or open would not trust it anyway (another
 * length). A summary of a newer version is not judged.
 */
export function summaryDisagreement(io: FileIo, scan: SegmentScan): string | null {
  const summaryPath = summaryPathOf(scan.path);
  if (io.kind(summaryPath) !== 'file') return null;
  let decoded: ReturnType<typeof decodeSegmentSummary>;
  try {
    decoded = decodeSegmentSummary(readSummaryFile(io, summaryPath, Number.MAX_SAFE_INTEGER).bytes, scan.path);
  } catch (err) {
    if (err instanceof WalError && err.code === 'ERR_UNSUPPORTED_FORMAT') return null;
    return `summary unreadable: ${(err as Error).message}`;
  }
  if (!decoded.ok) return `summary damaged: ${decoded.reason}`;
  const summarized = decoded.scan;
  // Another length: open would not trust it (§15.4 rule 2), or the scan read the segment while it
  // was still being written (a live WAL's verify). Either way it is not a summary open believes.
  if (summarized.sizeBytes !== scan.sizeBytes) return null;
  const fields = [
    ...['formatVersion', 'salt', 'blockBytes', 'indexIntervalBytes', 'createdAtMs', 'maxTimeMs'],
    ...['sizeBytes', 'validEndOffset', 'topicNames', 'runs', 'damage'],
  ] as const;
  for (const field of fields) {
    if (comparable(summarized[field]) !== comparable(scan[field]))
      return `summary disagrees with its segment: ${field}`;
  }
  return null;
}

function comparable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Float64Array ? Array.from(v) : v));
}
