/**
 * The write path of a partition (docs/FORMAT.md §2–§4, §13): its current segment, rolled when full
 * and created exclusively, with a salt of its own; entries staged into one buffer as version-2
 * frames carrying the round's append time (append-clock.ts) and written with one positional write;
 * the topics' sparse-index points chosen as they are staged (sparse-index.ts's rule, so the index
 * equals a scan of the file); a failed write rolled back so that nothing of it is visible or reused
 * (points included); sealed segments handed to the partition's FdCache and fdatasynced on request. Staging an entry allocates nothing but one
 * view of the caller's bytes (copy and checksum need a range, and the ring the bytes come from is
 * shared). The topics, the segment refs and the descriptors belong to the Partition (partition.ts).
 */
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { frameStartOffset, nextFrameOffset } from './block-layout.js';
import type { FdCache } from './fd-cache.js';
import { pwriteAll, type FileIo } from './file-io.js';
import { AppendClock, type WallClock } from './append-clock.js';
import {
  CODEC_MSGPACK,
  CODEC_RAW,
  DEFAULT_INDEX_INTERVAL_BYTES,
  FLAG_BATCH,
  FLAG_BATCH_END,
  FRAME_HEADER_BYTES_V2,
  KIND_ENTRY,
  KIND_SEGMENT_HEADER,
  KIND_TOPIC_DEF,
  SEGMENT_HEADER_PAYLOAD_BYTES_V2,
  WRITTEN_FORMAT_VERSION,
  crc32Of,
  encodeFrameHeaderV2,
  encodeSegmentHeaderPayload,
  flagsWithCodec,
  frameBytes,
  isValidIndexIntervalBytes,
  segmentHeaderFrameBytes,
  type FrameLayout,
} from './frame.js';
import { randomInt } from 'node:crypto';
import type { SegmentSummary } from './recover.js';
import type { ScannedRun, SegmentScan } from './segment-scanner.js';
import { draftSummary } from './summary-files.js';
import { listSegments, segmentFileName, type SegmentId } from './segment-name.js';
import type { SegmentRef } from './topic-index.js';
import { byteView } from './byte-view.js';
import { zeroFillAhead } from './zero-fill-ahead.js';
import type { ReadableTopic } from './partition-reader.js';

export interface PartitionConfig {
  dir: string;
  io: FileIo;
  epoch: number;
  writerIndex: number;
  segmentBytes: number;
  blockBytes: number;
  /** Coalescing bound for wantsCommit(), default 1 MiB. */
  maxWriteBytes?: number;
  /** Sparse-index interval written into each segment header (FORMAT §14.2), default 32 KiB. */
  indexIntervalBytes?: number;
  /** The largest append time recovery saw (FORMAT §13.3): no entry of this partition gets an earlier one. */
  timeFloorMs?: number;
  /** The wall clock, read once per commit round (default Date.now; tests and golden fixtures fix it). */
  clock?: WallClock;
  /** Each new segment's salt (default: a random u32 per segment; golden fixtures make it deterministic). */
  saltSource?: () => number;
  /** MANIFEST.v1TimeMs: the time of every entry of a version-1 segment (FORMAT §20.3). */
  v1TimeMs?: number;
  /** After the file is created (the caller fsyncs the directory). */
  onSegmentCreated?: (id: SegmentId, path: string) => void;
  /** When the partition rolls past a segment. */
  onSegmentSealed?: (summary: SegmentSummary) => void;
  /**
   * Draft a summary file of each segment sealed (docs/FORMAT.md §15.3 a), for the caller to publish
   * once the segment is durable (summary-files.ts): 'synced' under fsync 'each' and intervals,
   * 'unsynced' under 'none'. Absent: no summaries.
   */
  summaryDrafts?: 'synced' | 'unsynced';
  /**
   * Zeros kept ahead of the data, in bytes (zero-fill-ahead.ts): under fsync 'each', so a round's
   * fdatasync does not also commit a new file size. Absent or 0: every write extends the file.
   */
  zeroFillAheadBytes?: number;
  /** After a write, once per topic it held: where that topic's entries of the write lie, and their time. */
  onRunWritten?: (
    topicId: number,
    segment: SegmentRef,
    firstSeq: number,
    count: number,
    startOffset: number,
    endOffset: number,
    timeMs: number,
    /** The run's sparse-index points chosen in this write ([offset, seq, timeMs] triples, §14.2). */
    points: Float64Array,
  ) => void;
}

export const DEFAULT_MAX_WRITE_BYTES = 1024 * 1024;
const SEGMENT_HEADER_FRAME_BYTES = segmentHeaderFrameBytes(WRITTEN_FORMAT_VERSION);
const HEADER_BYTES = FRAME_HEADER_BYTES_V2;
/**
 * Staged runs are kept as [topicId, firstSeq, count, startOffset, endOffset, first staged point,
 * staged points] in one growable array; staged points as [offset, seq, timeMs] in another.
 */
const RUN_FIELDS = 7;
const POINT_FIELDS = 3;

const NO_DRAFTS: readonly string[] = Object.freeze([]);

function randomSalt(): number {
  return randomInt(0x1_0000_0000);
}

/** A topic as the write path sees it; the read path's fields are ReadableTopic's. */
export interface WritableTopic extends ReadableTopic {
  readonly nameBytes: Uint8Array;
  readonly nameCrc: number;
  /** Next seq to stage. */
  nextSeq: number;
  committedSeq: number;
  /** The segment that holds (or will, once committed) this topic's TOPIC_DEF. */
  definedIn: SegmentRef | null;
  /** The segment of the topic's last point (staged or committed), and its offset: where the next point may be. */
  pointSegment: SegmentRef | null;
  lastPointOffset: number;
}

interface CurrentSegment {
  readonly ref: SegmentRef;
  fd: number;
  created: boolean;
  /** Bytes of data in the file (frames and padding). */
  sizeBytes: number;
  /** The file's length: sizeBytes, or more while zeros are kept ahead of the data. */
  fileBytes: number;
  /** A zero fill failed (a full disk): this segment's writes extend the file from now on. */
  zeroFillFailed: boolean;
  /** Where the next frame may start (past sizeBytes after a frame larger than a block). */
  tailOffset: number;
  /** Bound into every header checksum of the segment (FORMAT §13.2). */
  readonly salt: number;
  dirty: boolean;
  readonly lastSeqs: Map<number, number>;
  /** What a summary needs and the index does not hold: the header's time, the newest entry's, each topic's last. */
  createdAtMs: number;
  maxTimeMs: number;
  readonly lastTimes: Map<number, number>;
}

/** What the write path needs of the partition that owns it. */
export interface PartitionWriterOwner {
  readonly topics: ReadonlyMap<number, WritableTopic>;
  readonly fds: FdCache;
  segmentRef(filePath: string, id: SegmentId, blockBytes: number, layout: FrameLayout): SegmentRef;
}

export class PartitionWriter {
  private readonly config: PartitionConfig;
  private readonly io: FileIo;
  private readonly blockBytes: number;
  private readonly maxWriteBytes: number;
  private readonly indexIntervalBytes: number;
  private readonly clock: AppendClock;
  private readonly saltSource: () => number;
  /** The append time of the round being staged (one clock reading per round). */
  private roundTimeMs = 0;
  /** Staging capacity kept between writes; a bigger buffer grown for a large write is dropped after it. */
  private readonly stageBaseBytes: number;
  private readonly topics: ReadonlyMap<number, WritableTopic>;
  private readonly fds: FdCache;
  private readonly owner: PartitionWriterOwner;
  private readonly unsynced = new Set<string>();
  private sealed: SegmentSummary[] = [];
  private readonly drafted: string[] = [];
  private current: CurrentSegment | null = null;
  private nextSegmentNo: number;
  private failure: WalError | null = null;

  private stage: Uint8Array | null = null;
  private stageLength = 0;
  /** File offset of stage[0]. */
  private stageBase = 0;
  private stagedTail = 0;
  private stagedEntryCount = 0;
  private stagedRuns = new Float64Array(64 * RUN_FIELDS);
  private stagedRunCount = 0;
  private stagedPoints = new Float64Array(64 * POINT_FIELDS);
  private stagedPointCount = 0;
  private readonly stagedDefs: WritableTopic[] = [];
  private openBatchTopic = -1;

  constructor(config: PartitionConfig, owner: PartitionWriterOwner) {
    this.config = config;
    this.io = config.io;
    this.owner = owner;
    this.topics = owner.topics;
    this.fds = owner.fds;
    this.blockBytes = config.blockBytes;
    this.maxWriteBytes = config.maxWriteBytes ?? DEFAULT_MAX_WRITE_BYTES;
    this.indexIntervalBytes = config.indexIntervalBytes ?? DEFAULT_INDEX_INTERVAL_BYTES;
    if (!isValidIndexIntervalBytes(this.indexIntervalBytes))
      throw WalError.invalidArgument(`invalid indexIntervalBytes ${this.indexIntervalBytes}`);
    this.clock = new AppendClock(config.timeFloorMs ?? 0, config.clock);
    this.saltSource = config.saltSource ?? randomSalt;
    this.stageBaseBytes = 2 * this.maxWriteBytes;
    this.nextSegmentNo = this.firstFreeSegmentNo();
  }

  get stagedBytes(): number {
    return this.stageLength;
  }

  get stagedEntries(): number {
    return this.stagedEntryCount;
  }

  /** How far the wall clock read below the last append time (FORMAT §13.3: `clock.behindMs`). */
  get clockBehindMs(): number {
    return this.clock.behindMs;
  }

  get currentSegment(): { id: SegmentId; path: string; sizeBytes: number } | null {
    const segment = this.current;
    if (segment === null || !segment.created) return null;
    return { id: segment.ref.id, path: segment.ref.path, sizeBytes: segment.sizeBytes };
  }

  /** The descriptor of `segment` if it is the one being written (the read path reads through it). */
  currentFdOf(segment: SegmentRef): number {
    const current = this.current;
    return current !== null && current.ref === segment ? current.fd : -1;
  }

  /**
   * `payloadCrc`: the CRC-32 of exactly data[offset, offset + length) when the caller already has it
   * (the writer gets it from the ring, computed by the main thread); computed here otherwise.
   */
  stageEntry(
    topic: WritableTopic,
    data: Uint8Array,
    offset: number,
    length: number,
    codec: number,
    batchFlags: number,
    payloadCrc?: number,
  ): number {
    const topicId = topic.id;
    this.checkEntry(topic, data, offset, length, codec, batchFlags);
    if (this.stageLength === 0) this.beginRound();
    const segment = this.current!;
    if (topic.definedIn !== segment.ref) this.stageTopicDef(topic, segment.ref);
    const seq = topic.nextSeq;
    const bytes = frameBytes(length, HEADER_BYTES);
    const at = this.reserve(bytes);
    const stage = this.stage!;
    const payload = byteView(data, offset, offset + length);
    stage.set(payload, at + HEADER_BYTES);
    stage.fill(0, at + HEADER_BYTES + length, at + bytes);
    const fileOffset = this.stageBase + at;
    encodeFrameHeaderV2(
      stage,
      at,
      KIND_ENTRY,
      flagsWithCodec(batchFlags, codec),
      length,
      topicId,
      seq,
      this.roundTimeMs,
      payloadCrc ?? crc32Of(payload),
      segment.salt,
      fileOffset,
    );
    topic.nextSeq = seq + 1;
    this.recordStagedEntry(topic, segment.ref, seq, fileOffset, fileOffset + bytes);
    this.stagedEntryCount++;
    this.openBatchTopic = batchFlags === FLAG_BATCH ? topicId : -1;
    return seq;
  }

  /** Staged bytes reached maxWriteBytes or the segment's room; never inside an open batch. */
  wantsCommit(): boolean {
    if (this.stageLength === 0 || this.openBatchTopic >= 0) return false;
    return this.stageLength >= this.maxWriteBytes || this.stageBase + this.stageLength >= this.config.segmentBytes;
  }

  /**
   * Writes everything staged with one positional write. On failure the file is truncated back,
   * every staged topic's next seq is restored and the staging is cleared, then the error is thrown.
   */
  commit(): void {
    this.assertWritable();
    if (this.openBatchTopic >= 0) throw WalError.invalidArgument('cannot commit in the middle of an atomic batch');
    if (this.stageLength === 0) return;
    const segment = this.current!;
    try {
      if (segment.fd < 0) this.createFile(segment);
      pwriteAll(this.io, segment.fd, this.stage!, this.stageBase, this.stageLength);
    } catch (err) {
      this.rollBack(segment);
      throw WalError.fromSystem(err, 'write', segment.ref.path);
    }
    segment.sizeBytes = this.stageBase + this.stageLength;
    segment.tailOffset = this.stagedTail;
    segment.dirty = true;
    if (segment.sizeBytes > segment.fileBytes) this.extended(segment);
    this.indexStagedRuns(segment);
    this.clearStaging();
  }

  discardStaged(): void {
    this.restoreStagedTopics();
    this.clearStaging();
  }

  /** This partition's sealed segments of the current epoch. */
  segmentSummaries(): SegmentSummary[] {
    return [...this.sealed];
  }

  /** These sealed segments are about to be deleted: no longer owed an fdatasync nor a summary. */
  forgetSegments(gone: ReadonlySet<string>): void {
    if (this.current !== null && gone.has(this.current.ref.path)) {
      throw WalError.invalidArgument(`cannot forget the current segment ${this.current.ref.path}`, {
        path: this.current.ref.path,
      });
    }
    for (const p of gone) this.unsynced.delete(p);
    this.sealed = this.sealed.filter((s) => !gone.has(s.path));
  }

  /** fdatasync of the current segment, and of sealed ones written since the last call. */
  fdatasyncCurrent(): void {
    for (const p of this.unsynced) {
      this.fdatasync(this.fds.get(p), p);
      this.unsynced.delete(p);
    }
    const segment = this.current;
    if (segment !== null && segment.dirty) {
      this.fdatasync(segment.fd, segment.ref.path);
      segment.dirty = false;
    }
  }

  /** Closes the current segment's descriptor (the sealed ones are the FdCache's). */
  close(): void {
    this.clearStaging();
    const segment = this.current;
    this.current = null;
    try {
      if (segment !== null && segment.fd >= 0) this.io.close(segment.fd);
    } catch (err) {
      throw WalError.fromSystem(err, 'close', segment!.ref.path);
    }
  }

  /** Refuses every write after a failed write could not be rolled back. */
  assertWritable(): void {
    if (this.failure !== null) throw this.failure;
  }

  private checkEntry(
    topic: WritableTopic,
    data: Uint8Array,
    offset: number,
    length: number,
    codec: number,
    batchFlags: number,
  ): void {
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > data.byteLength
    ) {
      throw WalError.invalidArgument(
        `entry bytes [${offset}, ${offset + length}) are outside the ${data.byteLength}-byte buffer`,
      );
    }
    if (codec !== CODEC_RAW && codec !== CODEC_MSGPACK) throw WalError.invalidArgument(`unknown codec ${codec}`);
    if (batchFlags !== 0 && batchFlags !== FLAG_BATCH && batchFlags !== (FLAG_BATCH | FLAG_BATCH_END)) {
      throw WalError.invalidArgument(`invalid batch flags ${batchFlags}`);
    }
    if (this.openBatchTopic >= 0 && (topic.id !== this.openBatchTopic || batchFlags === 0)) {
      throw WalError.invalidArgument('an atomic batch is open: only its next entries may be staged');
    }
    const seq = topic.nextSeq;
    if (seq >= Number.MAX_SAFE_INTEGER) throw WalError.tooLarge('sequence number', seq, Number.MAX_SAFE_INTEGER - 1);
  }

  /** Rolls to a new segment when the current one is full; a new segment starts with its header. */
  private beginRound(): void {
    let segment = this.current;
    if (segment !== null && segment.sizeBytes >= this.config.segmentBytes) {
      this.seal(segment);
      segment = null;
    }
    if (segment === null) segment = this.current = this.newSegment();
    this.roundTimeMs = this.clock.next();
    this.stageBase = segment.sizeBytes;
    this.stagedTail = segment.tailOffset;
    if (segment.sizeBytes === 0) this.stageSegmentHeader(segment);
  }

  private newSegment(): CurrentSegment {
    const id: SegmentId = {
      epoch: this.config.epoch,
      writerIndex: this.config.writerIndex,
      segmentNo: this.nextSegmentNo++,
    };
    const salt = this.saltSource() >>> 0;
    const layout: FrameLayout = { version: WRITTEN_FORMAT_VERSION, salt };
    const ref = this.owner.segmentRef(path.join(this.config.dir, segmentFileName(id)), id, this.blockBytes, layout);
    return {
      ...{ ref, fd: -1, created: false, sizeBytes: 0, fileBytes: 0, zeroFillFailed: false, tailOffset: 0, salt },
      ...{ dirty: false, lastSeqs: new Map() },
      ...{ createdAtMs: 0, maxTimeMs: 0, lastTimes: new Map() },
    };
  }

  /** Created exclusively (a name is never reused), then reopened read-write for writes and reads. */
  private createFile(segment: CurrentSegment): void {
    const { path: filePath, id } = segment.ref;
    if (!segment.created) {
      this.io.close(this.io.open(filePath, 'create-exclusive'));
      segment.created = true;
      this.config.onSegmentCreated?.(id, filePath);
    }
    segment.fd = this.io.open(filePath, 'write');
  }

  /**
   * Seals the segment being written (a clean close): it gets its summary like a rolled one, and
   * nothing more is written to it. Not after a write that could not be rolled back.
   */
  sealCurrent(): void {
    const segment = this.current;
    if (segment === null || !segment.created || segment.sizeBytes === 0 || this.failure !== null) return;
    this.clearStaging();
    if (segment.fileBytes > segment.sizeBytes) {
      // A summary's sizeBytes is the file's length (FORMAT §15.1): the zeros ahead go first.
      try {
        this.io.ftruncate(segment.fd, segment.sizeBytes);
      } catch (err) {
        throw WalError.fromSystem(err, 'truncating the zeros ahead of the data', segment.ref.path);
      }
      segment.fileBytes = segment.sizeBytes;
    }
    this.seal(segment);
  }

  /** A write extended the file: zeros ahead again, so the next rounds' fdatasyncs commit no new size. */
  private extended(segment: CurrentSegment): void {
    segment.fileBytes = segment.sizeBytes;
    const aheadBytes = this.config.zeroFillAheadBytes ?? 0;
    if (aheadBytes <= 0 || segment.zeroFillFailed) return;
    const fill = zeroFillAhead(this.io, segment.fd, segment.sizeBytes, this.config.segmentBytes, aheadBytes);
    segment.fileBytes = fill.endOffset;
    segment.zeroFillFailed = fill.failed;
  }

  /** Segments whose summary was drafted since the last call (the caller publishes them). */
  takeSummaryDrafts(): readonly string[] {
    return this.drafted.length === 0 ? NO_DRAFTS : this.drafted.splice(0);
  }

  private seal(segment: CurrentSegment): void {
    const mode = this.config.summaryDrafts;
    if (mode !== undefined && draftSummary(this.io, this.contentOf(segment), 'writer', mode === 'synced'))
      this.drafted.push(segment.ref.path);
    const summary = this.summaryOf(segment);
    this.sealed.push(summary);
    if (segment.dirty) this.unsynced.add(segment.ref.path);
    this.fds.adopt(segment.ref.path, segment.fd);
    this.current = null;
    this.config.onSegmentSealed?.(summary);
  }

  /** The segment's content as a scan of its file would find it (FORMAT §14.1), from this writer's index. */
  private contentOf(segment: CurrentSegment): SegmentScan {
    const { ref } = segment;
    const runs: ScannedRun[] = [];
    const topicNames: Array<[number, string]> = [];
    for (const topicId of segment.lastSeqs.keys()) {
      const topic = this.topics.get(topicId)!;
      topicNames.push([topicId, topic.name]);
      const index = topic.index;
      let first = index.runCount;
      while (first > 0 && index.runAt(first - 1).segment === ref) first--;
      for (let i = first; i < index.runCount; i++) {
        const run = index.runAt(i);
        const points = run.points.toArray();
        const lastTimeMs = i === index.runCount - 1 ? segment.lastTimes.get(topicId)! : points[points.length - 1]!;
        runs.push({
          ...{ topicId, firstSeq: run.firstSeq, count: run.count, startOffset: run.startOffset },
          ...{ endOffset: run.endOffset, firstTimeMs: points[2]!, lastTimeMs, points },
        });
      }
    }
    runs.sort((a, b) => a.startOffset - b.startOffset);
    return {
      ...{ path: ref.path, id: ref.id, formatVersion: WRITTEN_FORMAT_VERSION, salt: segment.salt },
      ...{ blockBytes: this.blockBytes, indexIntervalBytes: this.indexIntervalBytes },
      ...{ createdAtMs: segment.createdAtMs, maxTimeMs: segment.maxTimeMs, sizeBytes: segment.sizeBytes },
      ...{ topicNames, runs, damage: [], validEndOffset: segment.sizeBytes, unreadable: false },
    };
  }

  private summaryOf(segment: CurrentSegment): SegmentSummary {
    const topics = [...segment.lastSeqs].sort((a, b) => a[0] - b[0]);
    const summary: SegmentSummary = {
      path: segment.ref.path,
      id: segment.ref.id,
      sizeBytes: segment.sizeBytes,
      topics,
    };
    // retention.maxAgeMs: the newest entry's time, known only once the segment holds an entry.
    if (topics.length > 0) summary.maxTimeMs = segment.maxTimeMs;
    return summary;
  }

  /** The segment header is checked with salt 0 at offset 0: a reader learns the salt from it (FORMAT §13.1.1). */
  private stageSegmentHeader(segment: CurrentSegment): void {
    const { ref } = segment;
    const payload = encodeSegmentHeaderPayload({
      formatVersion: WRITTEN_FORMAT_VERSION,
      blockBytes: this.blockBytes,
      epoch: ref.id.epoch,
      writerIndex: ref.id.writerIndex,
      segmentNo: ref.id.segmentNo,
      createdAtMs: (segment.createdAtMs = this.roundTimeMs),
      salt: segment.salt,
      indexIntervalBytes: this.indexIntervalBytes,
    });
    const at = this.reserve(SEGMENT_HEADER_FRAME_BYTES);
    this.stage!.set(payload, at + HEADER_BYTES);
    const crc = crc32Of(payload);
    encodeFrameHeaderV2(this.stage!, at, KIND_SEGMENT_HEADER, 0, SEGMENT_HEADER_PAYLOAD_BYTES_V2, 0, 0, 0, crc, 0, 0);
  }

  private stageTopicDef(topic: WritableTopic, ref: SegmentRef): void {
    const length = topic.nameBytes.byteLength;
    const bytes = frameBytes(length, HEADER_BYTES);
    const at = this.reserve(bytes);
    const stage = this.stage!;
    stage.set(topic.nameBytes, at + HEADER_BYTES);
    stage.fill(0, at + HEADER_BYTES + length, at + bytes);
    const salt = this.current!.salt;
    encodeFrameHeaderV2(stage, at, KIND_TOPIC_DEF, 0, length, topic.id, 0, 0, topic.nameCrc, salt, this.stageBase + at);
    topic.definedIn = ref;
    this.stagedDefs.push(topic);
  }

  /** Places a frame of `bytes` per the block rules, zero-filling any padding; returns its index in the stage. */
  private reserve(bytes: number): number {
    const start = frameStartOffset(this.stagedTail, bytes, this.blockBytes);
    const at = start - this.stageBase;
    this.ensureStageBytes(at + bytes);
    if (at > this.stageLength) this.stage!.fill(0, this.stageLength, at);
    this.stageLength = at + bytes;
    this.stagedTail = nextFrameOffset(start, bytes, this.blockBytes);
    return at;
  }

  private ensureStageBytes(needed: number): void {
    const stage = this.stage;
    if (stage !== null && stage.byteLength >= needed) return;
    const current = stage?.byteLength ?? 0;
    const grown = new Uint8Array(Math.max(needed, this.stageBaseBytes, current + (current >>> 1)));
    if (stage !== null) grown.set(stage.subarray(0, this.stageLength));
    this.stage = grown;
  }

  /**
   * Adds an entry to the staged runs, and to the staged points when §14.2's rule makes it one (its
   * topic's first entry in the segment, or an interval past the topic's last point there).
   */
  private recordStagedEntry(
    topic: WritableTopic,
    segment: SegmentRef,
    seq: number,
    startOffset: number,
    endOffset: number,
  ): void {
    const topicId = topic.id;
    const isPoint = topic.pointSegment !== segment || startOffset - topic.lastPointOffset >= this.indexIntervalBytes;
    let runs = this.stagedRuns;
    const count = this.stagedRunCount;
    let at = (count - 1) * RUN_FIELDS;
    if (count > 0 && runs[at] === topicId && runs[at + 1]! + runs[at + 2]! === seq) {
      runs[at + 2]!++;
      runs[at + 4] = endOffset;
    } else {
      if ((count + 1) * RUN_FIELDS > runs.length) {
        runs = new Float64Array(runs.length * 2);
        runs.set(this.stagedRuns);
        this.stagedRuns = runs;
      }
      at = count * RUN_FIELDS;
      runs[at] = topicId;
      runs[at + 1] = seq;
      runs[at + 2] = 1;
      runs[at + 3] = startOffset;
      runs[at + 4] = endOffset;
      runs[at + 5] = this.stagedPointCount;
      runs[at + 6] = 0;
      this.stagedRunCount = count + 1;
    }
    if (!isPoint) return;
    let points = this.stagedPoints;
    const p = this.stagedPointCount * POINT_FIELDS;
    if (p + POINT_FIELDS > points.length) {
      points = new Float64Array(points.length * 2);
      points.set(this.stagedPoints);
      this.stagedPoints = points;
    }
    points[p] = startOffset;
    points[p + 1] = seq;
    points[p + 2] = this.roundTimeMs;
    this.stagedPointCount++;
    runs[at + 6]!++;
    topic.pointSegment = segment;
    topic.lastPointOffset = startOffset;
  }

  private indexStagedRuns(segment: CurrentSegment): void {
    const runs = this.stagedRuns;
    const onRunWritten = this.config.onRunWritten;
    const timeMs = this.roundTimeMs;
    for (let at = 0; at < this.stagedRunCount * RUN_FIELDS; at += RUN_FIELDS) {
      const topicId = runs[at]!;
      const firstSeq = runs[at + 1]!;
      const count = runs[at + 2]!;
      const firstPoint = runs[at + 5]!;
      const points = this.stagedPoints.subarray(firstPoint * POINT_FIELDS, (firstPoint + runs[at + 6]!) * POINT_FIELDS);
      const topic = this.topics.get(topicId)!;
      topic.index.append(segment.ref, firstSeq, count, runs[at + 3]!, runs[at + 4]!, timeMs, points);
      topic.committedSeq = firstSeq + count;
      onRunWritten?.(topicId, segment.ref, firstSeq, count, runs[at + 3]!, runs[at + 4]!, timeMs, points);
      segment.lastSeqs.set(topicId, firstSeq + count - 1);
      segment.lastTimes.set(topicId, timeMs);
      segment.maxTimeMs = timeMs;
    }
  }

  private rollBack(segment: CurrentSegment): void {
    this.discardStaged();
    if (segment.fd < 0) return;
    try {
      this.io.ftruncate(segment.fd, segment.sizeBytes);
      segment.fileBytes = segment.sizeBytes;
    } catch (err) {
      // Bytes of the failed write may remain after the committed end and would be read back as
      // entries whose appends were rejected; refuse every further write instead.
      this.failure = WalError.fromSystem(err, 'truncating after a failed write', segment.ref.path);
    }
  }

  /** A discarded round leaves no trace: next seqs, topic definitions and the point state as committed. */
  private restoreStagedTopics(): void {
    const runs = this.stagedRuns;
    for (let at = (this.stagedRunCount - 1) * RUN_FIELDS; at >= 0; at -= RUN_FIELDS) {
      const topic = this.topics.get(runs[at]!)!;
      topic.nextSeq = runs[at + 1]!;
      const last = topic.index.lastRun;
      const current = this.current?.ref ?? null;
      if (last !== undefined && last.segment === current && last.points.count > 0) {
        topic.pointSegment = current;
        topic.lastPointOffset = last.points.lastOffset;
      } else {
        topic.pointSegment = null;
      }
    }
    for (const topic of this.stagedDefs) topic.definedIn = null;
  }

  private clearStaging(): void {
    this.stageLength = 0;
    this.stagedEntryCount = 0;
    this.stagedRunCount = 0;
    this.stagedPointCount = 0;
    this.stagedDefs.length = 0;
    this.openBatchTopic = -1;
    if (this.stage !== null && this.stage.byteLength > this.stageBaseBytes) this.stage = null;
  }

  private fdatasync(fd: number, filePath: string): void {
    try {
      this.io.fdatasync(fd);
    } catch (err) {
      const sys = err as NodeJS.ErrnoException;
      throw new WalError(
        'ERR_FSYNC_FAILED',
        `fdatasync failed: ${sys.message}`,
        { path: filePath, errno: sys.code, syscall: 'fdatasync' },
        { cause: err },
      );
    }
  }

  /** A partition restarted within its epoch must not reuse a segment name. */
  private firstFreeSegmentNo(): number {
    let next = 0;
    let found: ReturnType<typeof listSegments>;
    try {
      found = listSegments(this.io, this.config.dir);
    } catch (err) {
      throw WalError.fromSystem(err, 'listing segments', this.config.dir);
    }
    for (const { id } of found) {
      if (id.epoch === this.config.epoch && id.writerIndex === this.config.writerIndex)
        next = Math.max(next, id.segmentNo + 1);
    }
    return next;
  }
}
