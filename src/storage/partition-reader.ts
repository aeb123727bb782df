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
  DEFAULT_INDEX_INTERVAL_BYTES,
  FRAME_VERSION_1,
  KIND_ENTRY,
  codecOfFlags,
  crc32Of,
  decodeFrameHeaderIn,
  decodeSegmentHeader,
  entryCodecAt,
  entryPayloadCrcAt,
  entryTimeMsAt,
  followingEntryPayloadBytes,
  frameBytes,
  frameHeaderBytes,
  otherTopicFrameBytes,
  segmentHeaderFrameBytes,
  type FrameHeader,
  type FrameLayout,
} from './frame.js';
import { ReadBatchBuilder, type ReadBatch, type ReadEntryRef } from './read-batch-builder.js';
import { ReadWindow, corruptSegment } from './read-window.js';
import { continuesAt, hintApplies, leaveHint, walkStartOf, type ReadHint } from './read-hint.js';
import type { IndexedRun, SegmentRef, TopicIndex } from './topic-index.js';
import { byteView } from './byte-view.js';
import { SpanCrcCheck } from './crc32-span.js';

const READ_WINDOW_BYTES = 1024 * 1024;
/** What an in-place read takes beyond its payload budget, for the frames' headers and padding. */
const IN_PLACE_SLACK_BYTES = 4096;
/** Runs shorter than this are read through the window rather than in place. */
const IN_PLACE_MIN_SPAN_BYTES = 64 * 1024;
const MAX_SEGMENT_HEADER_FRAME_BYTES = segmentHeaderFrameBytes(2);
/** In-place reads of at most this span use the reader's scratch buffer (then copy their entries out). */
const SCRATCH_BYTES = 64 * 1024;

/** What the read path needs of a topic; its hint is for readers that bring none of their own. */
export interface ReadableTopic extends ReadHint {
  readonly id: number;
  readonly name: string;
  /** Seq after the last entry written to the file. */
  readonly committedSeq: number;
  readonly index: TopicIndex;
}

export class PartitionReader {
  private readonly io: FileIo;
  private readonly fdOf: (segment: SegmentRef) => number;
  private readonly window: ReadWindow;
  private readonly verifyPayloads: boolean;
  private readonly writtenEnd: (segment: SegmentRef) => number;
  private readonly v1TimeMs: number;
  private readonly loadPoints: (segment: SegmentRef) => void;
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  /** Payload checks of an in-place read of a segment open did not verify (reused from read to read). */
  private readonly spanCheck = new SpanCrcCheck();

  /**
   * `verifyPayloads: false` is for a reader whose index only holds frames already verified (by the
   * scan at open, or because this process wrote them: docs/DURABILITY.md says what is verified when);
   * frame headers are still checked, so a wrong index is damage, never wrong data. `writtenEnd`:
   * how far a segment is known to hold written frames, so the window may read ahead past a run
   * into the next ones (a sparse topic among busy ones has a run per entry); a run's end otherwise.
   * `windows`: how many aligned read windows readers of interleaved topics share (ReadWindow).
   * `v1TimeMs`: the time of every entry of a version-1 segment, whose frames carry none
   * (FORMAT §20.3: MANIFEST.v1TimeMs).
   */
  constructor(
    io: FileIo,
    fdOf: (segment: SegmentRef) => number,
    options: {
      verifyPayloads?: boolean;
      writtenEnd?: (segment: SegmentRef) => number;
      windows?: number;
      v1TimeMs?: number;
      /** Loads the points of a segment whose runs have only their first (SegmentRef.pointsPending). */
      loadPoints?: (segment: SegmentRef) => void;
    } = {},
  ) {
    this.io = io;
    this.fdOf = fdOf;
    this.window = new ReadWindow(io, READ_WINDOW_BYTES, options.windows ?? 1);
    this.verifyPayloads = options.verifyPayloads ?? true;
    this.writtenEnd = options.writtenEnd ?? (() => 0);
    this.v1TimeMs = options.v1TimeMs ?? 0;
    this.loadPoints =
      options.loadPoints ??
      ((segment) => {
        segment.pointsPending = false;
      });
  }

  /**
   * Entries of a topic from `fromSeq` on, in seq order: at least one if any exists (even one
   * larger than maxBytes), at most maxEntries, otherwise a payload total of at most maxBytes.
   * Header and payload checksums are verified.
   */
  read(topic: ReadableTopic, fromSeq: number, maxBytes: number, maxEntries: number, hint: ReadHint = topic): ReadBatch {
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) throw WalError.invalidArgument(`invalid seq ${fromSeq}`);
    if (!(maxBytes >= 0)) throw WalError.invalidArgument(`invalid maxBytes ${maxBytes}`);
    if (!(maxEntries >= 1)) throw WalError.invalidArgument(`invalid maxEntries ${maxEntries}`);
    // Bounded by what the topic holds: the builder sizes its buffer from the entries that may follow.
    const batch = new ReadBatchBuilder(maxBytes, Math.min(maxEntries, Math.max(1, topic.committedSeq - fromSeq)));
    if (fromSeq >= topic.committedSeq) return batch.finish();
    const index = topic.index;
    let runIndex = index.find(fromSeq);
    if (runIndex < 0) {
      throw WalError.invalidArgument(`entry ${fromSeq} of topic ${JSON.stringify(topic.name)} is no longer stored`, {
        topic: topic.name,
      });
    }
    let seq = fromSeq;
    // Reading ahead pays for a reader that goes on where it stopped. A read positioned afresh (a
    // get, a seek's step, a first read) reads what it can use — an index interval to walk and its
    // byte budget — instead of a whole window: a random get read 1 MiB for one entry.
    let aheadBytes = continuesAt(hint, index.runAt(runIndex).segment, fromSeq)
      ? Infinity
      : DEFAULT_INDEX_INTERVAL_BYTES + maxBytes + IN_PLACE_SLACK_BYTES;
    for (; runIndex < index.runCount; runIndex++) {
      const run = index.runAt(runIndex);
      if (run.firstSeq > seq) break;
      seq = this.readRun(topic, run, seq, batch, hint, aheadBytes);
      aheadBytes = Infinity;
      if (seq < run.firstSeq + run.count) break;
    }
    return batch.finish();
  }

  /**
   * What read() answers, but from the one run holding `fromSeq` and without copying: the bytes of
   * the run are read into a buffer of their own with one positional read of about `maxBytes`, and
   * the entries are where they lie in it (headers and other topics' frames in between). A sparse
   * read (less than half of it this topic's payload) is compacted into a buffer of just the
   * payloads, so a batch never holds much more memory than it returns. Whatever this cannot
   * answer in place (an entry larger than the read, damage) goes through read().
   */
  readInPlace(
    topic: ReadableTopic,
    fromSeq: number,
    maxBytes: number,
    maxEntries: number,
    hint: ReadHint = topic,
  ): ReadBatch {
    // In place, payloads are not checksummed (only headers): that is for readers that trust them.
    const usable = !this.verifyPayloads && Number.isSafeInteger(fromSeq) && fromSeq >= 0 && maxEntries >= 1;
    if (!usable || fromSeq >= topic.committedSeq) return this.read(topic, fromSeq, maxBytes, maxEntries, hint);
    const runIndex = topic.index.find(fromSeq);
    if (runIndex < 0) return this.read(topic, fromSeq, maxBytes, maxEntries, hint);
    const run = topic.index.runAt(runIndex);
    const segment = run.segment;
    if (segment.pointsPending === true) this.loadPoints(segment);
    // A segment open took from its summary was not verified by this process: each payload taken is
    // checked here, in place (a mismatch ends the batch; read() then reports it as ERR_CORRUPT).
    const checkPayloads = segment.unverified === true;
    const hinted = hintApplies(hint, run, fromSeq);
    if (hinted && hint.hintSparse) return this.read(topic, fromSeq, maxBytes, maxEntries, hint);
    const start = walkStartOf(run, fromSeq, hint);
    // From a point (not where the last read stopped) the entry lies up to an index interval further.
    const walkBytes = hinted && start === hint.hintOffset ? 0 : DEFAULT_INDEX_INTERVAL_BYTES;
    // The entry cap binds small entries (2,000 of 100 B are a fifth of a 1 MiB budget): the span is
    // also bounded by what that many entries take on average in this run, other topics' frames in
    // between included (a guess short of the cap only costs a second read; the slack covers a
    // single entry larger than the average).
    const strideBytes = (run.endOffset - run.startOffset) / run.count;
    const endSeq = run.firstSeq + run.count;
    const wantedEntries = Math.min(maxEntries, endSeq - fromSeq);
    const capBytes = Math.ceil(wantedEntries * strideBytes * 1.125);
    const spanBytes = Math.min(
      run.endOffset - start,
      Math.min(maxBytes + (maxBytes >>> 3), capBytes) + IN_PLACE_SLACK_BYTES + walkBytes,
    );
    // A short run (a sparse topic among busy ones) is read through the window, which reads ahead
    // into the runs after it: one positional read per entry would cost more than the copy.
    if (spanBytes < IN_PLACE_MIN_SPAN_BYTES && spanBytes < maxBytes)
      return this.read(topic, fromSeq, maxBytes, maxEntries, hint);
    // A short read (a get, a seek's step) reads into the reader's scratch buffer and copies its
    // entries out: allocating its span each time cost more than the read.
    const scratch = spanBytes <= SCRATCH_BYTES;
    const buf = scratch ? this.scratch : new Uint8Array(Buffer.allocUnsafeSlow(spanBytes).buffer, 0, spanBytes);
    const entries: ReadEntryRef[] = [];
    let used = 0;
    let seq = fromSeq;
    let i = 0;
    /** Bytes of other topics' frames stepped or jumped over: over half of the walk makes the topic sparse. */
    let otherBytes = 0;
    const check = this.spanCheck;
    check.reset();
    let headerBytes = 0;
    try {
      const fd = this.fdOf(segment);
      const blockBytes = this.blockBytesOf(segment, fd);
      const layout = segment.layout!;
      headerBytes = frameHeaderBytes(layout.version);
      const n = preadFull(this.io, fd, buf, start, spanBytes);
      const version = layout.version;
      const timeOfV1 = version === FRAME_VERSION_1 ? this.v1TimeMs : -1;
      // The seq the frame at i must have when it follows (or is) a frame of this topic whose
      // header was checked, else -1: that frame is where the checked header's length says, and
      // its own checksum is not checked again (a dense topic checks one header per read instead of
      // one per entry; followingEntryPayloadBytes says why).
      let followingSeq = -1;
      while (seq < endSeq && entries.length < maxEntries && i + headerBytes <= n) {
        if (followingSeq >= 0) {
          const length = followingEntryPayloadBytes(buf, i, version, topic.id, followingSeq);
          if (length >= 0) {
            // An entry before the one wanted (the walk started at a point) is stepped over.
            if (followingSeq === seq) {
              if (i + headerBytes + length > n || (entries.length > 0 && used + length > maxBytes)) break;
              const payloadAt = i + headerBytes;
              const timeMs = timeOfV1 >= 0 ? timeOfV1 : entryTimeMsAt(buf, i);
              entries.push({ seq, codec: entryCodecAt(buf, i), offset: payloadAt, length, timeMs });
              // Last: it zeroes the bytes before the payload, this frame's header included.
              if (checkPayloads) check.add(buf, payloadAt, length, entryPayloadCrcAt(buf, i, version));
              used += length;
              seq++;
            }
            followingSeq++;
            i = nextFrameOffset(start + i, frameBytes(length, headerBytes), blockBytes) - start;
            continue;
          }
          followingSeq = -1;
        }
        const skip = otherTopicFrameBytes(buf, i, topic.id, headerBytes);
        if (skip > 0) {
          const jump = run.extents?.startOf(seq) ?? -1;
          const next = (jump > start + i ? jump : nextFrameOffset(start + i, skip, blockBytes)) - start;
          otherBytes += next - i;
          i = next;
          continue;
        }
        const header = decodeFrameHeaderIn(layout, buf, i, start + i);
        if (header === 'zero') {
          i = nextBlockBoundary(start + i, blockBytes) - start;
          continue;
        }
        if (typeof header === 'string') break; // read() reports the damage
        if (header.kind === KIND_ENTRY && header.topicId === topic.id) {
          if (header.seq > seq) break; // read() reports the gap
          // Checked: the branch above takes this frame (its checked fields pass there) and those after it.
          followingSeq = header.seq;
          continue;
        }
        i = nextFrameOffset(start + i, frameBytes(header.payloadBytes, headerBytes), blockBytes) - start;
      }
    } catch (err) {
      throw WalError.fromSystem(err, 'read', segment.path);
    }
    // Some payload is damaged: the batch ends before the first that is (read() reports it). Each is
    // checked on its own to find it, so the span's check only ever saves work.
    const bad = checkPayloads && !check.matches(buf) ? check.firstMismatch(buf, entries) : -1;
    if (bad >= 0) {
      seq = entries[bad]!.seq;
      i = entries[bad]!.offset - headerBytes;
      entries.length = bad;
      used = 0;
      for (const e of entries) used += e.length;
    }
    if (entries.length === 0) return this.read(topic, fromSeq, maxBytes, maxEntries, hint);
    leaveHint(hint, segment, seq, start + i, otherBytes * 2 > i);
    if (!scratch && used * 2 >= spanBytes) return { data: buf, entries };
    const compact = new Uint8Array(used);
    let at = 0;
    for (const e of entries) {
      compact.set(byteView(buf, e.offset, e.offset + e.length), at);
      e.offset = at;
      at += e.length;
    }
    return { data: compact, entries };
  }

  /** The segment is about to be deleted. */
  forget(segment: SegmentRef): void {
    this.window.forget(segment);
  }

  /** Reads entries of one run from `seq` on into the batch; returns the seq after the last one read. */
  private readRun(
    topic: ReadableTopic,
    run: IndexedRun,
    fromSeq: number,
    batch: ReadBatchBuilder,
    hint: ReadHint,
    aheadBytes: number,
  ): number {
    const segment = run.segment;
    if (segment.pointsPending === true) this.loadPoints(segment);
    const fd = this.fdOf(segment);
    const blockBytes = this.blockBytesOf(segment, fd);
    const layout = segment.layout!;
    const headerBytes = frameHeaderBytes(layout.version);
    const endSeq = run.firstSeq + run.count;
    const limit = run.endOffset;
    // Frames after the run may be read too (the window reads ahead), up to what is known written.
    let seq = fromSeq;
    let offset = walkStartOf(run, seq, hint);
    const knownEnd = Math.max(limit, this.writtenEnd(segment));
    const walkStart = offset;
    let otherBytes = 0;
    try {
      while (seq < endSeq && !batch.full) {
        // Each load reads ahead at most aheadBytes from where it lands, so a capped walk that goes
        // past its first window still reads a window, not a header, at a time.
        const readAhead = Math.min(knownEnd, offset + aheadBytes);
        const i = this.window.load(fd, segment, offset, headerBytes, readAhead);
        const skip = otherTopicFrameBytes(this.window.bytes, i, topic.id, headerBytes);
        if (skip > 0) {
          // Another topic's frame: the write holding `seq` starts where the extents say, if they
          // know (a reader the extents cannot place steps frame by frame).
          const jump = run.extents?.startOf(seq) ?? -1;
          const next = jump > offset ? jump : nextFrameOffset(offset, skip, blockBytes);
          otherBytes += next - offset;
          offset = next;
          continue;
        }
        const header = decodeFrameHeaderIn(layout, this.window.bytes, i, offset);
        if (header === 'zero') {
          offset = nextBlockBoundary(offset, blockBytes);
          continue;
        }
        if (typeof header === 'string') throw corruptSegment(segment, offset, `invalid frame header (${header})`);
        const bytes = frameBytes(header.payloadBytes, headerBytes);
        if (header.kind === KIND_ENTRY && header.topicId === topic.id && header.seq >= seq) {
          if (header.seq !== seq)
            throw corruptSegment(segment, offset, `expected entry ${seq} of topic ${topic.id}, found ${header.seq}`);
          if (!batch.wants(header.payloadBytes)) break;
          this.copyPayload(fd, segment, offset, header, headerBytes, readAhead, batch);
          seq++;
        }
        offset = nextFrameOffset(offset, bytes, blockBytes);
      }
    } catch (err) {
      throw WalError.fromSystem(err, 'read', segment.path);
    }
    leaveHint(hint, segment, seq, offset, otherBytes * 2 > offset - walkStart);
    return seq;
  }

  private copyPayload(
    fd: number,
    segment: SegmentRef,
    offset: number,
    header: FrameHeader,
    headerBytes: number,
    readAhead: number,
    batch: ReadBatchBuilder,
  ): void {
    const length = header.payloadBytes;
    const into = batch.reserve(length);
    const at = batch.usedBytes;
    if (headerBytes + length <= this.window.capacityBytes) {
      const i = this.window.load(fd, segment, offset, headerBytes + length, readAhead) + headerBytes;
      into.set(byteView(this.window.bytes, i, i + length), at);
    } else if (preadFull(this.io, fd, into, offset + headerBytes, length, at) !== length) {
      throw corruptSegment(segment, offset, 'entry runs past the end of the file');
    }
    if ((this.verifyPayloads || segment.unverified === true) && crc32Of(into, at, at + length) !== header.payloadCrc)
      throw corruptSegment(segment, offset, 'payload checksum mismatch');
    batch.add(header.seq, codecOfFlags(header.flags), length, this.timeOf(segment.layout!, header));
  }

  /** An entry's append time: its frame's, or MANIFEST.v1TimeMs for a version-1 frame, which has none. */
  private timeOf(layout: FrameLayout, header: FrameHeader): number {
    return layout.version === FRAME_VERSION_1 ? this.v1TimeMs : header.timeMs;
  }

  /**
   * Segments of earlier epochs may have another block size, and only the header of a segment says
   * its version and salt: they are read from it once (the writer sets them on its own segments).
   */
  private blockBytesOf(segment: SegmentRef, fd: number): number {
    if (segment.blockBytes !== 0 && segment.layout !== null) return segment.blockBytes;
    const header = new Uint8Array(MAX_SEGMENT_HEADER_FRAME_BYTES);
    let length: number;
    try {
      length = preadFull(this.io, fd, header, 0);
    } catch (err) {
      throw WalError.fromSystem(err, 'read', segment.path);
    }
    const info = decodeSegmentHeader(header, length);
    if ('problem' in info) throw corruptSegment(segment, 0, `unreadable segment header (${info.problem})`);
    if (!isValidBlockBytes(info.blockBytes))
      throw corruptSegment(segment, 0, `unreadable segment header (block size ${info.blockBytes})`);
    segment.blockBytes = info.blockBytes;
    segment.layout = { version: info.formatVersion, salt: info.salt };
    return info.blockBytes;
  }
}
