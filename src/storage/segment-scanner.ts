/**
 * Scans one segment file of either format version (docs/FORMAT.md §3–§5 step 1, §13, §14.1):
 * validates the segment header, walks the frames in that file's layout, resynchronizes after
 * damage and groups committed entries into runs, with their times and sparse-index points. A pure
 * function of the file's bytes whose result is plain data, so it can run in a piscina task.
 *
 * Version 1 keeps §5 exactly: a frame that runs past the end of the file ends the scan, and a
 * resynchronisation looks no further than the damaged block. Version 2 frames are bound to their
 * segment's salt and offset, so a valid header is genuine and the scan resynchronizes after any
 * damage, to the end of the file if need be (§13.2: issue 12 defect 14).
 */
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { preadFull, type FileIo } from './file-io.js';
import {
  FLAG_BATCH,
  FLAG_BATCH_END,
  FRAME_ALIGN_BYTES,
  FRAME_HEADER_BYTES_V1,
  FRAME_VERSION_1,
  KIND_ENTRY,
  KIND_SEGMENT_HEADER,
  KIND_TOPIC_DEF,
  crc32Of,
  decodeFrameHeaderIn,
  decodeSegmentHeader,
  frameBytes,
  frameHeaderBytes,
  segmentHeaderFrameBytes,
  type FrameHeader,
  type FrameLayout,
} from './frame.js';
import { isValidBlockBytes, nextBlockBoundary, nextFrameOffset } from './block-layout.js';
import { describeSegmentId, parseSegmentFileName, sameSegmentId, type SegmentId } from './segment-name.js';
import { SparsePointsBuilder } from './sparse-index.js';

export interface DamageReport {
  path: string;
  offset: number;
  reason: string;
  topicId?: number;
  seq?: number;
}

/**
 * Committed entries [firstSeq, firstSeq + count) of one topic, in file order between startOffset and
 * endOffset (FORMAT §14.1): a maximal stretch with consecutive seqs, ended only by damage or by a
 * dropped batch. Valid frames of other topics may lie between its entries (a reader skips those,
 * starting from a point); damage never does.
 */
export interface ScannedRun {
  topicId: number;
  firstSeq: number;
  count: number;
  startOffset: number;
  endOffset: number;
  /** Append times of the run's first and last entries (0 in a version-1 segment, whose entries carry none). */
  firstTimeMs: number;
  lastTimeMs: number;
  /** The run's sparse index (sparse-index.ts): [offset, seq, timeMs] triples. */
  points: Float64Array;
}

export interface SegmentScan {
  path: string;
  id: SegmentId;
  /** 1 or 2, from the segment header (0 when the header is unreadable). */
  formatVersion: number;
  /** The salt of every header checksum of a version-2 segment (0 for version 1). */
  salt: number;
  blockBytes: number;
  indexIntervalBytes: number;
  createdAtMs: number;
  /** The largest time of any valid entry header, ignored frames included: a safe floor for new times (§13.3). */
  maxTimeMs: number;
  sizeBytes: number;
  topicNames: Array<[number, string]>;
  runs: ScannedRun[];
  damage: DamageReport[];
  validEndOffset: number;
  unreadable: boolean;
}

export const DEFAULT_SCAN_CHUNK_BYTES = 8 * 1024 * 1024;
/** The largest segment header frame (version 2's): the first read of a file covers it. */
const MAX_SEGMENT_HEADER_FRAME_BYTES = segmentHeaderFrameBytes(2);
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
    this.buf = new Uint8Array(Math.min(chunkBytes, Math.max(sizeBytes, MAX_SEGMENT_HEADER_FRAME_BYTES)));
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
  /** Offsets of the batch's frames: they are offered to the run's points only once the batch commits. */
  offsets: number[];
  timeMs: number[];
}

interface OpenRun {
  run: ScannedRun;
  points: SparsePointsBuilder;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

class SegmentScanner {
  private readonly reader: ChunkReader;
  private readonly result: SegmentScan;
  private readonly names = new Map<number, string>();
  private blockBytes = 0;
  private layout: FrameLayout = { version: FRAME_VERSION_1, salt: 0 };
  private headerBytes = FRAME_HEADER_BYTES_V1;
  /** Per topic, the run its next entry may extend. */
  private readonly openRuns = new Map<number, OpenRun>();
  /** Every run's points, in the order of result.runs. */
  private readonly points: SparsePointsBuilder[] = [];
  private batch: PendingBatch | null = null;

  constructor(reader: ChunkReader, id: SegmentId) {
    this.reader = reader;
    this.result = {
      path: reader.path,
      id,
      formatVersion: 0,
      salt: 0,
      blockBytes: 0,
      indexIntervalBytes: 0,
      createdAtMs: 0,
      maxTimeMs: 0,
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
    const first = segmentHeaderFrameBytes(this.layout.version);
    this.result.validEndOffset = first;
    let offset = first;
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
    this.result.runs.forEach((run, i) => (run.points = this.points[i]!.toArray()));
    return this.result;
  }

  /** Returns why the header is unusable, or null. Throws for a header of a newer format. */
  private readSegmentHeader(): string | null {
    const { reader } = this;
    const i = reader.load(0, Math.min(reader.sizeBytes, MAX_SEGMENT_HEADER_FRAME_BYTES));
    const info = decodeSegmentHeader(i === 0 ? reader.buf : reader.buf.subarray(i), reader.sizeBytes);
    if ('problem' in info) {
      if (info.unsupported) {
        throw new WalError('ERR_UNSUPPORTED_FORMAT', `${reader.path}: ${info.problem} at offset 0`, {
          path: reader.path,
          offset: 0,
        });
      }
      return info.problem;
    }
    if (!isValidBlockBytes(info.blockBytes)) return `invalid block size ${info.blockBytes}`;
    const named = { epoch: info.epoch, writerIndex: info.writerIndex, segmentNo: info.segmentNo };
    if (!sameSegmentId(named, this.result.id)) return `header belongs to ${describeSegmentId(named)}`;
    this.blockBytes = info.blockBytes;
    this.layout = { version: info.formatVersion, salt: info.salt };
    this.headerBytes = frameHeaderBytes(info.formatVersion);
    Object.assign(this.result, {
      formatVersion: info.formatVersion,
      salt: info.salt,
      blockBytes: info.blockBytes,
      indexIntervalBytes: info.indexIntervalBytes,
      createdAtMs: info.createdAtMs,
    });
    return null;
  }

  private get isV1(): boolean {
    return this.layout.version === FRAME_VERSION_1;
  }

  private refuseNewerFormat(problem: string, offset: number): void {
    if (problem === 'unsupported-version' || problem === 'reserved-flags') {
      throw new WalError('ERR_UNSUPPORTED_FORMAT', `${this.reader.path}: frame with ${problem} at offset ${offset}`, {
        path: this.reader.path,
        offset,
      });
    }
  }

  private decode(offset: number): FrameHeader | string {
    const i = this.reader.load(offset, this.headerBytes);
    return decodeFrameHeaderIn(this.layout, this.reader.buf, i, offset);
  }

  /** Handles whatever is at `offset`; returns where the next frame may start. */
  private step(offset: number): number {
    const { reader, headerBytes } = this;
    const size = reader.sizeBytes;
    if (size - offset < headerBytes) {
      if (!reader.isZero(offset, size)) this.damage(offset, 'torn tail: partial frame header at the end of the file');
      return size;
    }
    const header = this.decode(offset);
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
    const bytes = frameBytes(header.payloadBytes, headerBytes);
    const seq = header.kind === KIND_ENTRY ? header.seq : undefined;
    if (header.kind === KIND_ENTRY && header.timeMs > this.result.maxTimeMs) this.result.maxTimeMs = header.timeMs;
    if (offset + bytes > size) {
      this.damage(offset, 'torn tail: frame runs past the end of the file', header.topicId, seq);
      // Version 1: the bytes after may be the torn payload, which may hold frames (§5). Version 2:
      // frames of a payload cannot pass as frames of this file (§13.2), so the scan goes on.
      return this.isV1 ? size : this.resync(offset);
    }
    const payloadStart = offset + headerBytes;
    if (reader.crc(payloadStart, payloadStart + header.payloadBytes) !== header.payloadCrc) {
      this.damage(offset, 'payload checksum mismatch', header.topicId, seq);
    } else if (this.accept(header, offset, bytes)) {
      this.result.validEndOffset = offset + bytes;
    }
    return nextFrameOffset(offset, bytes, this.blockBytes);
  }

  /**
   * The next 8-aligned offset after `offset` holding a valid header (version 2: whose frame lies
   * inside the file). Version 1 looks no further than this block and resumes at the next boundary;
   * version 2 goes on to the end of the file (§13.2 rule 1).
   */
  private resync(offset: number): number {
    const { reader, headerBytes } = this;
    const size = reader.sizeBytes;
    const limit = this.isV1 ? Math.min(nextBlockBoundary(offset, this.blockBytes), size) : size;
    for (let at = offset + FRAME_ALIGN_BYTES; at + headerBytes <= limit; at += FRAME_ALIGN_BYTES) {
      const header = this.decode(at);
      if (typeof header !== 'object') continue;
      if (this.isV1 || at + frameBytes(header.payloadBytes, headerBytes) <= size) return at;
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
        batch.offsets.push(offset);
        batch.timeMs.push(header.timeMs);
        if (isBatchEnd) {
          this.batch = null;
          this.emit(batch, offset + bytes);
        }
        return true;
      }
      this.dropBatch(`interrupted by the frame at offset ${offset}`);
    }
    const pending: PendingBatch = {
      topicId: header.topicId,
      firstSeq: header.seq,
      count: 1,
      startOffset: offset,
      offsets: [offset],
      timeMs: [header.timeMs],
    };
    if (isBatch && !isBatchEnd) this.batch = pending;
    else this.emit(pending, offset + bytes);
    return true;
  }

  private defineTopic(header: FrameHeader, offset: number): boolean {
    if (this.batch !== null) this.dropBatch('interrupted by a topic definition');
    const { reader, headerBytes } = this;
    let name: string | null = null;
    if (header.payloadBytes >= 1 && header.payloadBytes <= MAX_TOPIC_NAME_BYTES) {
      const i = reader.load(offset, headerBytes + header.payloadBytes) + headerBytes;
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

  /** Committed entries (one, or a whole batch) extend their topic's open run or start one. */
  private emit(entries: PendingBatch, endOffset: number): void {
    const { topicId, firstSeq, count } = entries;
    let open = this.openRuns.get(topicId);
    if (open === undefined || open.run.firstSeq + open.run.count !== firstSeq) {
      const run: ScannedRun = {
        topicId,
        firstSeq,
        count: 0,
        startOffset: entries.startOffset,
        endOffset,
        firstTimeMs: entries.timeMs[0]!,
        lastTimeMs: 0,
        points: EMPTY_POINTS,
      };
      open = { run, points: new SparsePointsBuilder(this.result.indexIntervalBytes) };
      this.openRuns.set(topicId, open);
      this.result.runs.push(run);
      this.points.push(open.points);
    }
    const { run, points } = open;
    for (let k = 0; k < count; k++) points.offer(entries.offsets[k]!, firstSeq + k, entries.timeMs[k]!);
    run.count += count;
    run.endOffset = endOffset;
    run.lastTimeMs = entries.timeMs[count - 1]!;
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

const EMPTY_POINTS = new Float64Array(0);
