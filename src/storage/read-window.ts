/**
 * A window over one segment file, so a sequential reader issues one pread per window rather than
 * one per entry (the read path in partition-reader.ts reads frame headers and small payloads from
 * it). One buffer, allocated on first use and kept: the window moves, the memory does not.
 */
import { WalError } from '../errors.js';
import { preadFull, type FileIo } from './file-io.js';
import type { SegmentRef } from './topic-index.js';

export class ReadWindow {
  private readonly io: FileIo;
  readonly capacityBytes: number;
  private buf: Uint8Array | null = null;
  private segment: SegmentRef | null = null;
  private start = 0;
  private length = 0;

  constructor(io: FileIo, capacityBytes: number) {
    this.io = io;
    this.capacityBytes = capacityBytes;
  }

  get bytes(): Uint8Array {
    return this.buf!;
  }

  /** Makes [offset, offset + n) resident (n <= capacityBytes), reading ahead up to `limit`; returns its index. */
  load(fd: number, segment: SegmentRef, offset: number, n: number, limit: number): number {
    if (segment === this.segment && offset >= this.start && offset + n <= this.start + this.length)
      return offset - this.start;
    this.buf ??= new Uint8Array(this.capacityBytes);
    this.segment = segment;
    this.start = offset;
    this.length = preadFull(this.io, fd, this.buf, offset, Math.min(this.capacityBytes, Math.max(n, limit - offset)));
    if (this.length < n) throw corruptSegment(segment, offset, 'indexed entries run past the end of the file');
    return 0;
  }

  /** The segment is about to be deleted: never answer from its bytes again. */
  forget(segment: SegmentRef): void {
    if (this.segment === segment) this.segment = null;
  }
}

/** ERR_CORRUPT naming the file and the offset of the damage. */
export function corruptSegment(segment: SegmentRef, offset: number, message: string): WalError {
  return WalError.corrupt(`${message} at offset ${offset} of ${segment.path}`, { path: segment.path, offset });
}
