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

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}

export function segmentFileName(id: SegmentId): string {
  return `${hex(id.epoch, 8)}-${hex(id.writerIndex, 4)}-${hex(id.segmentNo, 8)}.seg`;
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
