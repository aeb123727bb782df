/**
 * Segment file names (docs/FORMAT.md §1–2): `<epoch>-<writer>-<segment no>.seg` in lowercase hex,
 * 8-4-8 digits. The name alone orders segments, so recovery never has to open a file to sort it.
 */
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { fileSizeAt, type FileIo } from './file-io.js';

export interface SegmentId {
  epoch: number;
  writerIndex: number;
  segmentNo: number;
}

const SEGMENT_NAME = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{8})\.seg$/;
/** Epochs and segment numbers are u32 (they are in every segment header), writer indexes u16. */
export const MAX_EPOCH = 0xffff_ffff;
const MAX_WRITER_INDEX = 0xffff;
const MAX_SEGMENT_NO = 0xffff_ffff;

function hex(value: number, digits: number, max: number, what: string): string {
  // A value past its field would get more digits: a name no reader takes for a segment.
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw WalError.invalidArgument(`segment ${what} ${value} is outside 0…${max}`);
  return value.toString(16).padStart(digits, '0');
}

export function segmentFileName(id: SegmentId): string {
  return `${hex(id.epoch, 8, MAX_EPOCH, 'epoch')}-${hex(id.writerIndex, 4, MAX_WRITER_INDEX, 'writer')}-${hex(id.segmentNo, 8, MAX_SEGMENT_NO, 'number')}.seg`;
}

/**
 * A segment id as its file name, or field by field when a field does not fit one (a crafted
 * header's writer is a u32 on disk, a u16 in names): for messages, so it never throws.
 */
export function describeSegmentId(id: SegmentId): string {
  if (id.writerIndex <= MAX_WRITER_INDEX) return segmentFileName(id);
  return `epoch ${id.epoch.toString(16)}, writer ${id.writerIndex.toString(16)}, segment ${id.segmentNo.toString(16)}`;
}

/**
 * The epoch a new open starts (docs/FORMAT.md §2): one more than the largest in MANIFEST or in any
 * segment name. Once that largest is the last u32 (a crafted or stray file: four billion opens never
 * happen), no epoch is left: ERR_CORRUPT names the file that holds it, rather than writing names of
 * nine hex digits that the next open refuses.
 */
export function nextEpoch(
  manifest: { epoch: number; path: string } | null,
  segments: ReadonlyArray<{ id: SegmentId; path: string }>,
): number {
  let epoch = manifest?.epoch ?? 0;
  let holder = manifest?.path;
  for (const s of segments) {
    if (s.id.epoch > epoch) {
      epoch = s.id.epoch;
      holder = s.path;
    }
  }
  if (epoch >= MAX_EPOCH) {
    throw WalError.corrupt(
      `${holder} has epoch ${epoch.toString(16)}, the last one there is: no new epoch can start ` +
        '(a file that does not belong to this log? move it away)',
      { path: holder },
    );
  }
  return epoch + 1;
}

export function parseSegmentFileName(name: string): SegmentId | null {
  const match = SEGMENT_NAME.exec(name);
  if (match === null) return null;
  return {
    epoch: Number.parseInt(match[1]!, 16),
    writerIndex: Number.parseInt(match[2]!, 16),
    segmentNo: Number.parseInt(match[3]!, 16),
  };
}

export function compareSegmentIds(a: SegmentId, b: SegmentId): number {
  return a.epoch - b.epoch || a.writerIndex - b.writerIndex || a.segmentNo - b.segmentNo;
}

export function sameSegmentId(a: SegmentId, b: SegmentId): boolean {
  return compareSegmentIds(a, b) === 0;
}

/**
 * Every segment file directly in `dir`, sorted; names that are not segment names and directories
 * are ignored, and a segment name on anything else that is not a regular file (a symlink, a FIFO, a
 * device) is damage: it is never opened.
 */
export function listSegments(io: FileIo, dir: string): Array<{ id: SegmentId; path: string }> {
  const found: Array<{ id: SegmentId; path: string }> = [];
  for (const name of io.readdir(dir)) {
    const id = parseSegmentFileName(name);
    if (id === null) continue;
    const filePath = path.join(dir, name);
    const kind = io.kind(filePath);
    if (kind === null || kind === 'dir') continue;
    if (kind !== 'file')
      throw WalError.corrupt(`${filePath} has a segment file's name but is not a regular file`, { path: filePath });
    found.push({ id, path: filePath });
  }
  return found.sort((a, b) => compareSegmentIds(a.id, b.id));
}

/**
 * Every segment file in `dir` with its size, sorted. A file deleted between the listing and the
 * sizing was reclaimed by a live WAL meanwhile and is left out; any other error is thrown.
 */
export function listSegmentSizes(io: FileIo, dir: string): Array<{ id: SegmentId; path: string; sizeBytes: number }> {
  const sized: Array<{ id: SegmentId; path: string; sizeBytes: number }> = [];
  for (const segment of listSegments(io, dir)) {
    try {
      sized.push({ ...segment, sizeBytes: fileSizeAt(io, segment.path) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return sized;
}

/** The bytes of every segment file in `dir` (what retention.maxBytes bounds). */
export function totalSegmentBytes(io: FileIo, dir: string): number {
  return listSegmentSizes(io, dir).reduce((n, f) => n + f.sizeBytes, 0);
}
