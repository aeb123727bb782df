/**
 * The read path of a partition (docs/FORMAT.md §3): a topic's entries from a seq on, found through
 * its index of runs, read through one ReadWindow, every header and payload checksum verified. It
 * owns no descriptors: the partition lends the one of each segment (its current segment's write
 * descriptor, or the FdCache's for sealed ones).
 */
import { WalError } from '../errors.js';
import { isValidBlockBytes, nextBlockBoundary, nextFrameOffset } from './block-layout.js';
import { preadFull, type FileIo } from './file-io.js';
import {
  FRAME_HEADER_BYTES,
  KIND_ENTRY,
  SEGMENT_HEADER_PAYLOAD_BYTES,
  codecOfFlags,
  crc32Of,
  decodeFrameHeader,
  decodeSegmentHeaderPayload,
  frameBytes,
  type FrameHeader,
} from './frame.js';
import { ReadBatchBuilder, type ReadBatch } from './read-batch-builder.js';
import { ReadWindow, corruptSegment } from './read-window.js';
import type { IndexedRun, SegmentRef, TopicIndex } from './topic-index.js';
import { byteView } from './byte-view.js';

const READ_WINDOW_BYTES = 1024 * 1024;
const SEGMENT_HEADER_FRAME_BYTES = frameBytes(SEGMENT_HEADER_PAYLOAD_BYTES);

/** What the read path needs of a topic; the hint fields are its own (where the last read stopped). */
export interface ReadableTopic {
  readonly id: number;
  readonly name: string;
  /** Seq after the last entry written to the file. */
  readonly committedSeq: number;
  readonly index: TopicIndex;
  /** Where the last read stopped, so a sequential reader does not re-walk its run. */
  hintSegment: SegmentRef | null;
  hintSeq: number;
  hintOffset: number;
}

export class PartitionReader {
  private readonly io: FileIo;
  private readonly fdOf: (segment: SegmentRef) => number;
  private readonly window: ReadWindow;

  constructor(io: FileIo, fdOf: (segment: SegmentRef) => number) {
    this.io = io;
    this.fdOf = fdOf;
    this.window = new ReadWindow(io, READ_WINDOW_BYTES);
  }

  /**
   * Entries of a topic from `fromSeq` on, in seq order: at least one if any exists (even one
   * larger than maxBytes), at most maxEntries, otherwise a payload total of at most maxBytes.
   * Header and payload checksums are verified.
   */
  read(topic: ReadableTopic, fromSeq: number, maxBytes: number, maxEntries: number): ReadBatch {
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) throw WalError.invalidArgument(`invalid seq ${fromSeq}`);
    if (!(maxBytes >= 0)) throw WalError.invalidArgument(`invalid maxBytes ${maxBytes}`);
    if (!(maxEntries >= 1)) throw WalError.invalidArgument(`invalid maxEntries ${maxEntries}`);
    const batch = new ReadBatchBuilder(maxBytes, maxEntries);
    if (fromSeq >= topic.committedSeq) return batch.finish();
    const index = topic.index;
    let runIndex = index.find(fromSeq);
    if (runIndex < 0) {
      throw WalError.invalidArgument(`entry ${fromSeq} of topic ${JSON.stringify(topic.name)} is no longer stored`, {
        topic: topic.name,
      });
    }
    let seq = fromSeq;
    for (; runIndex < index.runCount; runIndex++) {
      const run = index.runAt(runIndex);
      if (run.firstSeq > seq) break;
      seq = this.readRun(topic, run, seq, batch);
      if (seq < run.firstSeq + run.count) break;
    }
    return batch.finish();
  }

  /** The segment is about to be deleted. */
  forget(segment: SegmentRef): void {
    this.window.forget(segment);
  }

  /** Reads entries of one run from `seq` on into the batch; returns the seq after the last one read. */
  private readRun(topic: ReadableTopic, run: IndexedRun, fromSeq: number, batch: ReadBatchBuilder): number {
    const segment = run.segment;
    const fd = this.fdOf(segment);
    const blockBytes = this.blockBytesOf(segment, fd);
    const endSeq = run.firstSeq + run.count;
    const limit = run.endOffset;
    let seq = fromSeq;
    const hinted =
      topic.hintSegment === segment &&
      topic.hintSeq <= seq &&
      topic.hintSeq >= run.firstSeq &&
      topic.hintOffset >= run.startOffset;
    let offset = hinted ? topic.hintOffset : run.startOffset;
    try {
      while (seq < endSeq && !batch.full) {
        const i = this.window.load(fd, segment, offset, FRAME_HEADER_BYTES, limit);
        const header = decodeFrameHeader(this.window.bytes, i);
        if (header === 'zero') {
          offset = nextBlockBoundary(offset, blockBytes);
          continue;
        }
        if (typeof header === 'string') throw corruptSegment(segment, offset, `invalid frame header (${header})`);
        const bytes = frameBytes(header.payloadBytes);
        if (header.kind === KIND_ENTRY && header.topicId === topic.id && header.seq >= seq) {
          if (header.seq !== seq)
            throw corruptSegment(segment, offset, `expected entry ${seq} of topic ${topic.id}, found ${header.seq}`);
          if (!batch.wants(header.payloadBytes)) break;
          this.copyPayload(fd, segment, offset, header, limit, batch);
          seq++;
        }
        offset = nextFrameOffset(offset, bytes, blockBytes);
      }
    } catch (err) {
      throw WalError.fromSystem(err, 'read', segment.path);
    }
    topic.hintSegment = segment;
    topic.hintSeq = seq;
    topic.hintOffset = offset;
    return seq;
  }

  private copyPayload(
    fd: number,
    segment: SegmentRef,
    offset: number,
    header: FrameHeader,
    limit: number,
    batch: ReadBatchBuilder,
  ): void {
    const length = header.payloadBytes;
    const into = batch.reserve(length, limit - offset);
    const at = batch.usedBytes;
    if (FRAME_HEADER_BYTES + length <= this.window.capacityBytes) {
      const i = this.window.load(fd, segment, offset, FRAME_HEADER_BYTES + length, limit) + FRAME_HEADER_BYTES;
      into.set(byteView(this.window.bytes, i, i + length), at);
    } else if (preadFull(this.io, fd, into, offset + FRAME_HEADER_BYTES, length, at) !== length) {
      throw corruptSegment(segment, offset, 'entry runs past the end of the file');
    }
    if (crc32Of(into, at, at + length) !== header.payloadCrc)
      throw corruptSegment(segment, offset, 'payload checksum mismatch');
    batch.add(header.seq, codecOfFlags(header.flags), length);
  }

  /** Segments of earlier epochs may have another block size: it is read from their header once. */
  private blockBytesOf(segment: SegmentRef, fd: number): number {
    if (segment.blockBytes !== 0) return segment.blockBytes;
    const header = new Uint8Array(SEGMENT_HEADER_FRAME_BYTES);
    let problem: string | null = null;
    try {
      if (preadFull(this.io, fd, header, 0) !== SEGMENT_HEADER_FRAME_BYTES) problem = 'file too short';
    } catch (err) {
      throw WalError.fromSystem(err, 'read', segment.path);
    }
    const blockBytes =
      problem === null ? decodeSegmentHeaderPayload(header.subarray(FRAME_HEADER_BYTES)).blockBytes : 0;
    if (!isValidBlockBytes(blockBytes))
      throw corruptSegment(segment, 0, `unreadable segment header (${problem ?? `block size ${blockBytes}`})`);
    segment.blockBytes = blockBytes;
    return blockBytes;
  }
}
