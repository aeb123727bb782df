/**
 * A window over segment files, so a sequential reader issues one pread per window rather than
 * one per entry (the read path in partition-reader.ts reads frame headers and small payloads from
 * it). Its buffers are allocated on first use and kept: the window moves, the memory does not.
 *
 * With one slot (the default) the window starts where a read asks and reads ahead from there.
 * With several, it keeps that many windows aligned to multiples of its capacity (a multiple of
 * the segment's block size, so a frame that fits in a block lies inside one window: docs/FORMAT.md
 * §3) and extends a window in place as more of it is known written. Readers of topics whose
 * frames interleave in one segment then share the windows instead of each reading the whole
 * stretch again for its own frames (16 topics: 16 times the bytes). Memory: slots × capacity.
 */
import { WalError } from '../errors.js';
import { preadFull, type FileIo } from './file-io.js';
import type { SegmentRef } from './topic-index.js';

interface Slot {
  buf: Uint8Array;
  segment: SegmentRef | null;
  start: number;
  length: number;
  /** Whether `start` is a multiple of the capacity (extended in place rather than moved). */
  aligned: boolean;
  usedAt: number;
}

export class ReadWindow {
  private readonly io: FileIo;
  readonly capacityBytes: number;
  private readonly maxSlots: number;
  private readonly slots: Slot[] = [];
  private current: Slot | null = null;
  private clock = 0;

  constructor(io: FileIo, capacityBytes: number, slots = 1) {
    this.io = io;
    this.capacityBytes = capacityBytes;
    this.maxSlots = Math.max(1, slots);
  }

  /** The bytes of the window the last load answered from. */
  get bytes(): Uint8Array {
    return this.current!.buf;
  }

  /** Makes [offset, offset + n) resident (n <= capacityBytes), reading ahead up to `limit`; returns its index. */
  load(fd: number, segment: SegmentRef, offset: number, n: number, limit: number): number {
    const last = this.current;
    if (last !== null && last.segment === segment && offset >= last.start && offset + n <= last.start + last.length)
      return offset - last.start;
    const end = Math.max(offset + n, limit);
    const capacity = this.capacityBytes;
    const blockBytes = segment.blockBytes;
    if (this.maxSlots > 1 && blockBytes > 0 && capacity % blockBytes === 0) {
      const start = offset - (offset % capacity);
      // A read landing far into an aligned window nobody loaded (a get, a seek) would read the
      // window's whole front for nothing: it reads from where it lands instead.
      const useful = offset - start <= end - offset || this.alignedSlot(segment, start) !== undefined;
      if (useful && offset + n <= start + capacity) return this.loadAligned(fd, segment, start, offset, n, end);
    }
    return this.loadAt(fd, segment, offset, n, end);
  }

  /** The segment is about to be deleted: never answer from its bytes again. */
  forget(segment: SegmentRef): void {
    for (const slot of this.slots) if (slot.segment === segment) slot.segment = null;
  }

  private alignedSlot(segment: SegmentRef, start: number): Slot | undefined {
    return this.slots.find((s) => s.aligned && s.segment === segment && s.start === start);
  }

  /** The aligned window at `start` holding [offset, offset + n), extended up to `end` if short. */
  private loadAligned(fd: number, segment: SegmentRef, start: number, offset: number, n: number, end: number): number {
    let slot = this.alignedSlot(segment, start);
    if (slot === undefined) {
      slot = this.claim();
      slot.segment = segment;
      slot.start = start;
      slot.length = 0;
      slot.aligned = true;
    }
    const want = Math.min(this.capacityBytes, end - start);
    if (slot.length < offset + n - start) {
      // Bytes already read never change (a segment is written front to back): read only the rest.
      const got = preadFull(this.io, fd, slot.buf, start + slot.length, want - slot.length, slot.length);
      slot.length += got;
      if (slot.length < offset + n - start) {
        slot.segment = null;
        throw corruptSegment(segment, offset, 'indexed entries run past the end of the file');
      }
    }
    return this.use(slot, offset);
  }

  /** A window starting at `offset` (the one-slot behaviour, and what does not fit an aligned window). */
  private loadAt(fd: number, segment: SegmentRef, offset: number, n: number, end: number): number {
    const slot = this.slots.find((s) => !s.aligned) ?? this.claim();
    slot.segment = segment;
    slot.start = offset;
    slot.aligned = false;
    slot.length = preadFull(this.io, fd, slot.buf, offset, Math.min(this.capacityBytes, end - offset));
    if (slot.length < n) {
      slot.segment = null;
      throw corruptSegment(segment, offset, 'indexed entries run past the end of the file');
    }
    return this.use(slot, offset);
  }

  private use(slot: Slot, offset: number): number {
    slot.usedAt = ++this.clock;
    this.current = slot;
    return offset - slot.start;
  }

  /** A new slot while there are fewer than maxSlots, else the least recently used one. */
  private claim(): Slot {
    if (this.slots.length < this.maxSlots) {
      const slot: Slot = {
        buf: new Uint8Array(this.capacityBytes),
        segment: null,
        start: 0,
        length: 0,
        aligned: false,
        usedAt: 0,
      };
      this.slots.push(slot);
      return slot;
    }
    let oldest = this.slots[0]!;
    for (const s of this.slots) if (s.usedAt < oldest.usedAt) oldest = s;
    return oldest;
  }
}

/** ERR_CORRUPT naming the file and the offset of the damage. */
export function corruptSegment(segment: SegmentRef, offset: number, message: string): WalError {
  return WalError.corrupt(`${message} at offset ${offset} of ${segment.path}`, { path: segment.path, offset });
}
