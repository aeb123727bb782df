/**
 * Walks the frames of one segment file in order (docs/FORMAT.md §3–4): what `dump` prints and how
 * `tail` and `stats` read the entries of the runs the scanner found. The segment scanner decides
 * what is valid; this walker only finds frames again (same padding and resynchronization rules) and
 * hands out their headers and, when asked, their checked payloads. Reads through a sliding window,
 * so walking many small frames costs few system calls.
 */
import { nodeFileIo, preadFull } from '../storage/file-io.js';
import { nextBlockBoundary, nextFrameOffset } from '../storage/block-layout.js';
import {
  FRAME_ALIGN_BYTES,
  FRAME_HEADER_BYTES_V1,
  crc32Of,
  decodeFrameHeader,
  frameBytes,
  type FrameHeader,
} from '../storage/frame.js';

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
    this.#window = new Uint8Array(Math.min(WINDOW_BYTES, Math.max(sizeBytes, FRAME_HEADER_BYTES_V1)));
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
   * appended since is not half-seen. `blockBytes` comes from the segment header (the scan has it).
   * With `withPayload`, each frame carries its payload.
   */
  *frames(from: number, to: number, blockBytes: number, withPayload: boolean): Generator<WalkItem> {
    const size = Math.min(to, this.sizeBytes);
    let offset = from;
    while (offset < size) {
      if (size - offset < FRAME_HEADER_BYTES_V1) {
        if (!this.#isZero(offset, size))
          yield { type: 'damage', offset, reason: 'torn tail: partial frame header at the end of the file' };
        return;
      }
      const header = decodeFrameHeader(this.#window, this.#load(offset, FRAME_HEADER_BYTES_V1));
      if (header === 'zero') {
        const blockEnd = Math.min(nextBlockBoundary(offset, blockBytes), size);
        if (this.#isZero(offset, blockEnd)) {
          offset = blockEnd;
          continue;
        }
        yield { type: 'damage', offset, reason: 'zeroed frame header' };
        offset = this.#resync(offset, blockBytes, size);
        continue;
      }
      if (typeof header === 'string') {
        yield { type: 'damage', offset, reason: `invalid frame header (${header})` };
        offset = this.#resync(offset, blockBytes, size);
        continue;
      }
      const bytes = frameBytes(header.payloadBytes, FRAME_HEADER_BYTES_V1);
      if (offset + bytes > size) {
        yield { type: 'damage', offset, reason: 'torn tail: frame runs past the end of the file', header };
        return;
      }
      const frame: WalkedFrame = { type: 'frame', offset, header, frameBytes: bytes };
      if (withPayload) {
        frame.payload = this.#read(offset + FRAME_HEADER_BYTES_V1, header.payloadBytes);
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

  /** As the scanner: the next 8-aligned valid header in this block, else the block boundary. */
  #resync(offset: number, blockBytes: number, size: number): number {
    const limit = Math.min(nextBlockBoundary(offset, blockBytes), size);
    for (let at = offset + FRAME_ALIGN_BYTES; at + FRAME_HEADER_BYTES_V1 <= limit; at += FRAME_ALIGN_BYTES) {
      if (typeof decodeFrameHeader(this.#window, this.#load(at, FRAME_HEADER_BYTES_V1)) === 'object') return at;
    }
    return limit;
  }
}
