/**
 * Walks the frames of one segment file in order (docs/FORMAT.md §3–4, §13 for version 2): what
 * `dump` prints and how `tail` and `stats` read the entries of the runs the scanner found. The
 * segment scanner decides what is valid; this walker only finds frames again (same padding and
 * resynchronization rules, in the file's own layout) and hands out their headers — with their
 * append time — and, when asked, their checked payloads. Reads through a sliding window,
 * so walking many small frames costs few system calls.
 */
import { nodeFileIo, preadFull } from '../storage/file-io.js';
import { nextBlockBoundary, nextFrameOffset } from '../storage/block-layout.js';
import {
  FRAME_ALIGN_BYTES,
  FRAME_HEADER_BYTES_V2,
  FRAME_VERSION_1,
  crc32Of,
  decodeFrameHeaderIn,
  frameBytes,
  frameHeaderBytes,
  type FrameHeader,
} from '../storage/frame.js';

/** What the walk needs of a segment's header (a SegmentScan has it). */
export interface WalkedSegment {
  readonly blockBytes: number;
  readonly formatVersion: number;
  readonly salt: number;
}

export interface WalkedFrame {
  type: 'frame';
  offset: number;
  header: FrameHeader;
  /** Bytes the frame occupies, padding included. */
  frameBytes: number;
  /** Present when payloads were asked for; a copy the caller may keep. */
  payload?: Uint8Array;
  /** Present with `payload`: whether its CRC-32 matches the header. */
  payloadOk?: boolean;
}

export interface WalkedDamage {
  type: 'damage';
  offset: number;
  reason: string;
  /** The header, when it was valid and only the frame's extent was not (a torn tail). */
  header?: FrameHeader;
}

export type WalkItem = WalkedFrame | WalkedDamage;

const WINDOW_BYTES = 1024 * 1024;

export class SegmentReader {
  readonly path: string;
  /** The size when opened: a live segment may grow, the walk stops where it was. */
  readonly sizeBytes: number;
  readonly #fd: number;
  readonly #window: Uint8Array;
  #windowStart = 0;
  #windowLength = 0;

  private constructor(filePath: string, fd: number, sizeBytes: number) {
    this.path = filePath;
    this.#fd = fd;
    this.sizeBytes = sizeBytes;
    this.#window = new Uint8Array(Math.min(WINDOW_BYTES, Math.max(sizeBytes, FRAME_HEADER_BYTES_V2)));
  }

  /** Opens a segment read-only; null when it no longer exists (reclaimed by a live service). */
  static open(filePath: string): SegmentReader | null {
    let fd: number;
    try {
      fd = nodeFileIo.open(filePath, 'read');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return new SegmentReader(filePath, fd, nodeFileIo.fileSize(fd));
  }

  close(): void {
    nodeFileIo.close(this.#fd);
  }

  /**
   * Frames and damage between `from` (a frame start) and `to`, in file order. `to` counts as the
   * end of the file (for a whole segment: its size when it was scanned), so a frame a live writer
   * appended since is not half-seen. `segment` (block size, version, salt) comes from the segment
   * header (the scan has it). With `withPayload`, each frame carries its payload.
   */
  *frames(from: number, to: number, segment: WalkedSegment, withPayload: boolean): Generator<WalkItem> {
    const size = Math.min(to, this.sizeBytes);
    const { blockBytes } = segment;
    const layout = { version: segment.formatVersion, salt: segment.salt };
    const headerBytes = frameHeaderBytes(layout.version);
    let offset = from;
    while (offset < size) {
      if (size - offset < headerBytes) {
        if (!this.#isZero(offset, size))
          yield { type: 'damage', offset, reason: 'torn tail: partial frame header at the end of the file' };
        return;
      }
      const header = decodeFrameHeaderIn(layout, this.#window, this.#load(offset, headerBytes), offset);
      if (header === 'zero') {
        const blockEnd = Math.min(nextBlockBoundary(offset, blockBytes), size);
        if (this.#isZero(offset, blockEnd)) {
          offset = blockEnd;
          continue;
        }
        yield { type: 'damage', offset, reason: 'zeroed frame header' };
        offset = this.#resync(offset, segment, size);
        continue;
      }
      if (typeof header === 'string') {
        yield { type: 'damage', offset, reason: `invalid frame header (${header})` };
        offset = this.#resync(offset, segment, size);
        continue;
      }
      const bytes = frameBytes(header.payloadBytes, headerBytes);
      if (offset + bytes > size) {
        yield { type: 'damage', offset, reason: 'torn tail: frame runs past the end of the file', header };
        // Version 2 goes on after a torn frame, as the scanner does (§13.2); version 1 ends here (§5).
        if (layout.version === FRAME_VERSION_1) return;
        offset = this.#resync(offset, segment, size);
        continue;
      }
      const frame: WalkedFrame = { type: 'frame', offset, header, frameBytes: bytes };
      if (withPayload) {
        frame.payload = this.#read(offset + headerBytes, header.payloadBytes);
        frame.payloadOk = crc32Of(frame.payload) === header.payloadCrc;
      }
      yield frame;
      const next = nextFrameOffset(offset, bytes, blockBytes);
      // As in the scanner: lengths are range-checked, but a walk must end whatever the bytes say.
      if (!(next > offset)) throw new Error(`${this.path}: walk stalled at offset ${offset}`);
      offset = next;
    }
  }

  /** Makes [offset, offset + n) resident (n ≤ window size); returns its index in the window. */
  #load(offset: number, n: number): number {
    if (offset >= this.#windowStart && offset + n <= this.#windowStart + this.#windowLength)
      return offset - this.#windowStart;
    const want = Math.min(this.#window.byteLength, this.sizeBytes - offset);
    this.#windowLength = preadFull(nodeFileIo, this.#fd, this.#window, offset, want);
    this.#windowStart = offset;
    if (this.#windowLength < n)
      throw new Error(`${this.path} shrank while it was read (${this.#windowLength} of ${n} bytes at ${offset})`);
    return 0;
  }

  /** A copy of [offset, offset + n): from the window when it fits, else read directly. */
  #read(offset: number, n: number): Uint8Array {
    if (n <= this.#window.byteLength) {
      const i = this.#load(offset, n);
      return this.#window.slice(i, i + n);
    }
    const out = new Uint8Array(n);
    if (preadFull(nodeFileIo, this.#fd, out, offset, n) < n)
      throw new Error(`${this.path} shrank while it was read (at ${offset})`);
    return out;
  }

  #isZero(from: number, to: number): boolean {
    for (let at = from; at < to;) {
      const n = Math.min(this.#window.byteLength, to - at);
      const i = this.#load(at, n);
      for (let k = i; k < i + n; k++) if (this.#window[k] !== 0) return false;
      at += n;
    }
    return true;
  }

  /**
   * As the scanner: the next 8-aligned valid header — version 1 in this block, else the block
   * boundary; version 2 up to the end of the file, its frame inside it.
   */
  #resync(offset: number, segment: WalkedSegment, size: number): number {
    const layout = { version: segment.formatVersion, salt: segment.salt };
    const v1 = layout.version === FRAME_VERSION_1;
    const headerBytes = frameHeaderBytes(layout.version);
    const limit = v1 ? Math.min(nextBlockBoundary(offset, segment.blockBytes), size) : size;
    for (let at = offset + FRAME_ALIGN_BYTES; at + headerBytes <= limit; at += FRAME_ALIGN_BYTES) {
      const header = decodeFrameHeaderIn(layout, this.#window, this.#load(at, headerBytes), at);
      if (typeof header !== 'object') continue;
      if (v1 || at + frameBytes(header.payloadBytes, headerBytes) <= size) return at;
    }
    return limit;
  }
}
