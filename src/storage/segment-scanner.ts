/**
 * Scans one segment file (docs/FORMAT.md §3–§5 step 1): validates the segment header, walks the
 * frames, resynchronizes after damage and groups committed entries into runs. A pure function of
 * the file's bytes whose result is plain data, so it can run in a piscina task.
 */
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { preadFull, type FileIo } from './file-io.js';
import {
  FLAG_BATCH,
  FLAG_BATCH_END,
  FRAME_VERSION_1,
  FRAME_ALIGN_BYTES,
  FRAME_HEADER_BYTES_V1,
  KIND_ENTRY,
  KIND_SEGMENT_HEADER,
  KIND_TOPIC_DEF,
  SEGMENT_HEADER_PAYLOAD_BYTES_V1,
  crc32Of,
  decodeFrameHeader,
  decodeSegmentHeaderPayload,
  frameBytes,
  type FrameHeader,
} from './frame.js';
import { isValidBlockBytes, nextBlockBoundary, nextFrameOffset } from './block-layout.js';
import { describeSegmentId, parseSegmentFileName, sameSegmentId, type SegmentId } from './segment-name.js';
import { mayExtendRun } from './topic-index.js';

export interface DamageReport {
  path: string;
  offset: number;
  reason: string;
  topicId?: number;
  seq?: number;
}

/**
 * Committed entries [firstSeq, firstSeq + count) of one topic, in file order between startOffset and
 * endOffset. A few valid frames of other topics may lie between them (a reader skips those, and
 * mayExtendRun bounds them); damage never does.
 */
export interface ScannedRun {
  topicId: number;
  firstSeq: number;
  count: number;
  startOffset: number;
  endOffset: number;
}

export interface SegmentScan {
  path: string;
  id: SegmentId;
  blockBytes: number;
  sizeBytes: number;
  topicNames: Array<[number, string]>;
  runs: ScannedRun[];
  damage: DamageReport[];
  validEndOffset: number;
  unreadable: boolean;
}

export const DEFAULT_SCAN_CHUNK_BYTES = 8 * 1024 * 1024;
const SEGMENT_HEADER_FRAME_BYTES = frameBytes(SEGMENT_HEADER_PAYLOAD_BYTES_V1, FRAME_HEADER_BYTES_V1);
const MAX_TOPIC_NAME_BYTES = 4096;
/** A TOPIC_DEF frame is decoded from one window, so the window must hold the longest one. */
const MIN_SCAN_CHUNK_BYTES = 8 * 1024;

export function scanSegment(io: FileIo, filePath: string, readChunkBytes = DEFAULT_SCAN_CHUNK_BYTES): SegmentScan {
  const id = parseSegmentFileName(path.basename(filePath));
  if (id === null) throw WalError.invalidArgument(`not a segment file name: ${filePath}`, { path: filePath });
  let fd: number;
  try {
    fd = io.open(filePath, 'read');
  } catch (err) {
    throw WalError.fromSystem(err, 'open segment', filePath);
  }
  try {
    const chunkBytes = Math.max(readChunkBytes, MIN_SCAN_CHUNK_BYTES);
    return new SegmentScanner(new ChunkReader(io, fd, filePath, io.fileSize(fd), chunkBytes), id).scan();
  } catch (err) {
    throw WalError.fromSystem(err, 'scan segment', filePath);
  } finally {
    io.close(fd);
  }
}

/** A sliding window over the file; frames larger than the window are checked piece by piece. */
class ChunkReader {
  readonly buf: Uint8Array;
  private start = 0;
  private length = 0;
  readonly io: FileIo;
  readonly fd: number;
  readonly path: string;
  readonly sizeBytes: number;

  constructor(io: FileIo, fd: number, filePath: string, sizeBytes: number, chunkBytes: number) {
    this.io = io;
    this.fd = fd;
    this.path = filePath;
    this.sizeBytes = sizeBytes;
    this.buf = new Uint8Array(Math.min(chunkBytes, Math.max(sizeBytes, SEGMENT_HEADER_FRAME_BYTES)));
  }

  get chunkBytes(): number {
    return this.buf.byteLength;
  }

  /** Makes [offset, offset + n) resident (n <= chunkBytes, inside the file); returns its index in buf. */
  load(offset: number, n: number): number {
    if (offset >= this.start && offset + n <= this.start + this.length) return offset - this.start;
    const want = Math.min(this.buf.byteLength, this.sizeBytes - offset);
    this.length = preadFull(this.io, this.fd, this.buf, offset, want);
    this.start = offset;
    if (this.length < n) {
      throw new WalError('ERR_IO', `segment shrank while it was scanned (${this.length} of ${n} bytes at ${offset})`, {
        path: this.path,
        offset,
      });
    }
    return 0;
  }

  isZero(from: number, to: number): boolean {
    for (let at = from; at < to;) {
      const n = Math.min(this.chunkBytes, to - at);
      const i = this.load(at, n);
      for (let k = i; k < i + n; k++) if (this.buf[k] !== 0) return false;
      at += n;
    }
    return true;
  }

  crc(from: number, to: number): number {
    let crc = 0;
    for (let at = from; at < to;) {
      const n = Math.min(this.chunkBytes, to - at);
      const i = this.load(at, n);
      crc = crc32Of(this.buf, i, i + n, crc);
      at += n;
    }
    return crc;
  }
}

interface PendingBatch {
  topicId: number;
  firstSeq: number;
  count: number;
  startOffset: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

class SegmentScanner {
  private readonly reader: ChunkReader;
  private readonly result: SegmentScan;
  private readonly names = new Map<number, string>();
  private blockBytes = 0;
  /** Per topic, the run its next entry may extend. */
  private readonly openRuns = new Map<number, ScannedRun>();
  private batch: PendingBatch | null = null;

  constructor(reader: ChunkReader, id: SegmentId) {
    this.reader = reader;
    this.result = {
      path: reader.path,
      id,
      blockBytes: 0,
      sizeBytes: reader.sizeBytes,
      topicNames: [],
      runs: [],
      damage: [],
      validEndOffset: 0,
      unreadable: false,
    };
  }

  scan(): SegmentScan {
    const problem = this.readSegmentHeader();
    if (problem !== null) {
      this.result.unreadable = true;
      this.result.damage.push({ path: this.reader.path, offset: 0, reason: `unreadable segment header: ${problem}` });
      return this.result;
    }
    this.result.blockBytes = this.blockBytes;
    this.result.validEndOffset = SEGMENT_HEADER_FRAME_BYTES;
    let offset = SEGMENT_HEADER_FRAME_BYTES;
    while (offset < this.reader.sizeBytes) {
      const next = this.step(offset);
      // Every length is range-checked (decodeFrameHeader), so each step moves forward; should one
      // not, the scan must still end: a crafted file is damage, never an endless loop.
      if (!(next > offset))
        throw WalError.corrupt(`${this.reader.path}: scan stalled at offset ${offset}`, {
          path: this.reader.path,
          offset,
        });
      offset = next;
    }
    if (this.batch !== null) this.dropBatch('no BATCH_END frame before the end of the file');
    this.result.topicNames = [...this.names];
    return this.result;
  }

  /** Returns why the header is unusable, or null. Throws for a header of a newer format. */
  private readSegmentHeader(): string | null {
    const { reader } = this;
    if (reader.sizeBytes < SEGMENT_HEADER_FRAME_BYTES) return `file has only ${reader.sizeBytes} bytes`;
    const i = reader.load(0, SEGMENT_HEADER_FRAME_BYTES);
    const header = decodeFrameHeader(reader.buf, i);
    if (typeof header === 'string') {
      this.refuseNewerFormat(header, 0);
      return header;
    }
    if (header.kind !== KIND_SEGMENT_HEADER) return `first frame has kind ${header.kind}`;
    if (header.payloadBytes !== SEGMENT_HEADER_PAYLOAD_BYTES_V1) return `payload of ${header.payloadBytes} bytes`;
    const payloadStart = i + FRAME_HEADER_BYTES_V1;
    if (crc32Of(reader.buf, payloadStart, payloadStart + SEGMENT_HEADER_PAYLOAD_BYTES_V1) !== header.payloadCrc) {
      return 'payload checksum mismatch';
    }
    const info = decodeSegmentHeaderPayload(
      reader.buf.subarray(payloadStart, payloadStart + SEGMENT_HEADER_PAYLOAD_BYTES_V1),
    );
    if (info.formatVersion > FRAME_VERSION_1) {
      throw new WalError(
        'ERR_UNSUPPORTED_FORMAT',
        `${reader.path}: segment format version ${info.formatVersion} is not supported`,
        {
          path: reader.path,
          offset: 0,
        },
      );
    }
    if (info.formatVersion !== FRAME_VERSION_1) return `format version ${info.formatVersion}`;
    if (!isValidBlockBytes(info.blockBytes)) return `invalid block size ${info.blockBytes}`;
    const named = { epoch: info.epoch, writerIndex: info.writerIndex, segmentNo: info.segmentNo };
    if (!sameSegmentId(named, this.result.id)) return `header belongs to ${describeSegmentId(named)}`;
    this.blockBytes = info.blockBytes;
    return null;
  }

  private refuseNewerFormat(problem: string, offset: number): void {
    if (problem === 'unsupported-version' || problem === 'reserved-flags') {
      throw new WalError('ERR_UNSUPPORTED_FORMAT', `${this.reader.path}: frame with ${problem} at offset ${offset}`, {
        path: this.reader.path,
        offset,
      });
    }
  }

  /** Handles whatever is at `offset`; returns where the next frame may start. */
  private step(offset: number): number {
    const { reader } = this;
    const size = reader.sizeBytes;
    if (size - offset < FRAME_HEADER_BYTES_V1) {
      if (!reader.isZero(offset, size)) this.damage(offset, 'torn tail: partial frame header at the end of the file');
      return size;
    }
    const i = reader.load(offset, FRAME_HEADER_BYTES_V1);
    const header = decodeFrameHeader(reader.buf, i);
    if (header === 'zero') {
      const blockEnd = Math.min(nextBlockBoundary(offset, this.blockBytes), size);
      if (reader.isZero(offset, blockEnd)) return blockEnd;
      this.damage(offset, 'zeroed frame header');
      return this.resync(offset);
    }
    if (typeof header === 'string') {
      this.refuseNewerFormat(header, offset);
      this.damage(offset, `invalid frame header (${header})`);
      return this.resync(offset);
    }
    const bytes = frameBytes(header.payloadBytes, FRAME_HEADER_BYTES_V1);
    const seq = header.kind === KIND_ENTRY ? header.seq : undefined;
    if (offset + bytes > size) {
      this.damage(offset, 'torn tail: frame runs past the end of the file', header.topicId, seq);
      return size;
    }
    const payloadStart = offset + FRAME_HEADER_BYTES_V1;
    if (reader.crc(payloadStart, payloadStart + header.payloadBytes) !== header.payloadCrc) {
      this.damage(offset, 'payload checksum mismatch', header.topicId, seq);
    } else if (this.accept(header, offset, bytes)) {
      this.result.validEndOffset = offset + bytes;
    }
    return nextFrameOffset(offset, bytes, this.blockBytes);
  }

  /** Next 8-aligned offset in this block holding a valid header, else the next block boundary. */
  private resync(offset: number): number {
    const { reader } = this;
    const limit = Math.min(nextBlockBoundary(offset, this.blockBytes), reader.sizeBytes);
    for (let at = offset + FRAME_ALIGN_BYTES; at + FRAME_HEADER_BYTES_V1 <= limit; at += FRAME_ALIGN_BYTES) {
      const i = reader.load(at, FRAME_HEADER_BYTES_V1);
      if (typeof decodeFrameHeader(reader.buf, i) === 'object') return at;
    }
    return limit;
  }

  /** Applies a frame whose header and payload are valid; returns false when it is damage. */
  private accept(header: FrameHeader, offset: number, bytes: number): boolean {
    if (header.kind === KIND_TOPIC_DEF) return this.defineTopic(header, offset);
    if (header.kind === KIND_SEGMENT_HEADER) {
      this.damage(offset, 'segment header frame after the start of the segment');
      return false;
    }
    const isBatch = (header.flags & FLAG_BATCH) !== 0;
    const isBatchEnd = (header.flags & FLAG_BATCH_END) !== 0;
    if (isBatchEnd && !isBatch) {
      this.damage(offset, 'BATCH_END without BATCH', header.topicId, header.seq);
      return false;
    }
    const batch = this.batch;
    if (batch !== null) {
      if (isBatch && header.topicId === batch.topicId && header.seq === batch.firstSeq + batch.count) {
        batch.count++;
        if (isBatchEnd) {
          this.batch = null;
          this.emit(batch.topicId, batch.firstSeq, batch.count, batch.startOffset, offset + bytes);
        }
        return true;
      }
      this.dropBatch(`interrupted by the frame at offset ${offset}`);
    }
    if (isBatch && !isBatchEnd) {
      this.batch = { topicId: header.topicId, firstSeq: header.seq, count: 1, startOffset: offset };
    } else {
      this.emit(header.topicId, header.seq, 1, offset, offset + bytes);
    }
    return true;
  }

  private defineTopic(header: FrameHeader, offset: number): boolean {
    if (this.batch !== null) this.dropBatch('interrupted by a topic definition');
    const { reader } = this;
    let name: string | null = null;
    if (header.payloadBytes >= 1 && header.payloadBytes <= MAX_TOPIC_NAME_BYTES) {
      const i = reader.load(offset, FRAME_HEADER_BYTES_V1 + header.payloadBytes) + FRAME_HEADER_BYTES_V1;
      try {
        name = utf8.decode(reader.buf.subarray(i, i + header.payloadBytes));
      } catch {
        name = null;
      }
    }
    if (name === null) {
      this.damage(offset, 'topic name is not 1 to 4096 bytes of well-formed UTF-8', header.topicId);
      return false;
    }
    const known = this.names.get(header.topicId);
    if (known !== undefined && known !== name) {
      this.damage(offset, `topic id ${header.topicId} is already named ${JSON.stringify(known)}`, header.topicId);
      return false;
    }
    this.names.set(header.topicId, name);
    return true;
  }

  private emit(topicId: number, firstSeq: number, count: number, startOffset: number, endOffset: number): void {
    const run = this.openRuns.get(topicId);
    if (run !== undefined && run.firstSeq + run.count === firstSeq && mayExtendRun(run, startOffset, endOffset)) {
      run.count += count;
      run.endOffset = endOffset;
      return;
    }
    const fresh = { topicId, firstSeq, count, startOffset, endOffset };
    this.openRuns.set(topicId, fresh);
    this.result.runs.push(fresh);
  }

  /** Damage ends every run (it may have been a frame of any topic) and any pending batch. */
  private interrupt(): void {
    this.openRuns.clear();
    if (this.batch !== null) this.dropBatch('interrupted by damage');
  }

  /** The dropped frames are valid entries of the topic, so its run must not span them. */
  private dropBatch(why: string): void {
    const batch = this.batch!;
    this.batch = null;
    this.openRuns.delete(batch.topicId);
    this.result.damage.push({
      path: this.reader.path,
      offset: batch.startOffset,
      reason: `incomplete batch of ${batch.count} entries: ${why}`,
      topicId: batch.topicId,
      seq: batch.firstSeq,
    });
  }

  private damage(offset: number, reason: string, topicId?: number, seq?: number): void {
    this.interrupt();
    const report: DamageReport = { path: this.reader.path, offset, reason };
    if (topicId !== undefined) report.topicId = topicId;
    if (seq !== undefined) report.seq = seq;
    this.result.damage.push(report);
  }
}
