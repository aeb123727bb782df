/**
 * The main thread reads entries itself. It keeps its own index of every topic — the runs recovery
 * found at open, then the runs each writer publishes in its run log (src/engine/shared/run-log.ts),
 * drained only when a read needs more than is known — and reads the segment files through its own
 * read-only descriptors with the storage core's PartitionReader: no round trip to a writer busy
 * writing, no copy through a transferred buffer.
 *
 * Payload checksums are not verified again here: every indexed frame was verified by the scan at
 * open or written by this process (docs/DURABILITY.md, what is verified when); frame headers are.
 *
 * Reads are synchronous positional reads of at most READ_CHUNK_BYTES of payload per call (hot, from
 * the page cache, well under a millisecond), so nothing can interleave with one: a segment the
 * reclaimer deletes is forgotten here first (`forgetSegments`), between reads.
 */
import * as path from 'node:path';
import { FdCache } from '../../storage/fd-cache.js';
import { nodeFileIo } from '../../storage/file-io.js';
import { PartitionReader, type ReadableTopic } from '../../storage/partition-reader.js';
import type { ReadHint } from '../../storage/read-hint.js';
import type { ReadBatch } from '../../storage/read-batch-builder.js';
import type { RecoveredTopic, TopicRun } from '../../storage/recover.js';
import { segmentFileName, type SegmentId } from '../../storage/segment-name.js';
import { DEFAULT_INDEX_INTERVAL_BYTES } from '../../storage/frame.js';
import {
  POINT_FIELDS,
  SparsePointsBuilder,
  lastPointBeforeTime,
  pointSeq,
  pointTime,
  pointsBelowSeq,
} from '../../storage/sparse-index.js';
import { loadSummaryPoints } from '../../storage/summary-files.js';
import { TopicIndex, type SegmentRef } from '../../storage/topic-index.js';
import type { WrittenRun } from '../shared/run-log.js';
import type { TopicGaps } from '../../storage/seq-gaps.js';
import type { WriterChannel } from './writer-channel.js';

/** Runs arrive without points: the writer's follow as point records (WrittenRun.count 0). */
const NO_POINTS = new Float64Array(0);
/** Payload bytes one synchronous read may return: bounds how long it holds the event loop. */
export const READ_CHUNK_BYTES = 1024 * 1024;
/**
 * Read windows (1 MiB each) the topics' readers share: consumers of topics whose frames
 * interleave read each stretch of a segment once while they stay within this many MiB of each
 * other, instead of once each (ReadWindow).
 */
const READ_WINDOWS = 8;

export interface SegmentReadsOptions {
  readonly dir: string;
  readonly epoch: number;
  readonly blockBytes: number;
  readonly channels: readonly WriterChannel[];
  readonly recovered: readonly RecoveredTopic[];
  /** MANIFEST.v1TimeMs: the time of every entry of a version-1 segment (docs/FORMAT.md §20.3). */
  readonly v1TimeMs?: number;
  /**
   * Segments whose content open took from a trusted summary's head: their payloads are checked on
   * every read, and their points are loaded from the summary when a read first needs them.
   */
  readonly unverified?: ReadonlySet<string>;
}

/** A topic as this thread indexes it (its index is replaced wholesale on a resync). */
interface IndexedTopic extends ReadableTopic {
  committedSeq: number;
  index: TopicIndex;
}

export class SegmentReads {
  readonly #o: SegmentReadsOptions;
  readonly #topics = new Map<number, IndexedTopic>();
  readonly #segments = new Map<string, SegmentRef>();
  /** Per segment, the end of the last frame any indexed run holds: known written. */
  readonly #writtenEnd = new Map<SegmentRef, number>();
  /** Per segment this open wrote to, the newest append time of its writes. */
  readonly #maxTimeMs = new Map<SegmentRef, number>();
  /** Points loaded from summaries (#loadPoints), per segment and topic: a resync's runs get them too. */
  readonly #summaryPoints = new Map<SegmentRef, Map<number, Float64Array[]>>();
  readonly #fds = new FdCache(nodeFileIo);
  readonly #reader: PartitionReader;
  /** Per writer: the resynchronisation in flight after its run log overflowed. */
  readonly #resyncs: Array<Promise<void> | null>;
  readonly #apply = (run: WrittenRun): void => this.#applyRun(run);
  #currentWriter = 0;
  /** Per writer, the segment its last applied run was in. */
  readonly #lastWritten: Array<SegmentRef | undefined> = [];

  constructor(options: SegmentReadsOptions) {
    this.#o = options;
    this.#resyncs = options.channels.map(() => null);
    this.#reader = new PartitionReader(nodeFileIo, (segment) => this.#fds.get(segment.path), {
      verifyPayloads: false,
      writtenEnd: (segment) => this.#writtenEnd.get(segment) ?? 0,
      windows: READ_WINDOWS,
      v1TimeMs: options.v1TimeMs,
      loadPoints: (segment) => this.#loadPoints(segment),
    });
    for (const t of options.recovered) {
      const topic = this.#topic(t.id, t.name);
      this.#replaceRuns(topic, t.runs, t.nextSeq);
    }
  }

  /** The topic's next sequence number as far as this thread knows (drains its writer's run log). */
  knownEnd(topicId: number, writer: number): number | Promise<void> {
    const caughtUp = this.#catchUp(writer);
    if (caughtUp !== null) return caughtUp;
    return this.#topics.get(topicId)?.committedSeq ?? 0;
  }

  /**
   * Entries of a topic from `fromSeq` on (PartitionReader.read says which), read from where `hint`
   * (the reader's own, else the topic's) says the last read stopped, or — rarely, after
   * its writer's run log overflowed — a promise to wait on before asking again.
   */
  read(
    topicId: number,
    name: string,
    writer: number,
    fromSeq: number,
    maxBytes: number,
    maxEntries: number,
    hint?: ReadHint,
  ): ReadBatch | Promise<void> {
    const caughtUp = this.#catchUp(writer);
    if (caughtUp !== null) return caughtUp;
    const topic = this.#topic(topicId, name);
    return this.#reader.readInPlace(topic, fromSeq, Math.min(maxBytes, READ_CHUNK_BYTES), maxEntries, hint ?? topic);
  }

  /**
   * The first seq from which a topic's entries are all still indexed (its committed end when
   * nothing is; TopicIndex.firstOfContiguousTail): where 'earliest' starts and `offsets().first`
   * comes from, read from the index, never from the files.
   */
  firstIndexed(topicId: number, gaps?: TopicGaps): number {
    const topic = this.#topics.get(topicId);
    if (topic === undefined) return 0;
    return topic.index.firstOfContiguousTail(topic.committedSeq, gaps);
  }

  /**
   * Where a seek by time starts walking (FORMAT §19.1): the seq of the greatest index point whose
   * time is below `timeMs` (the first indexed seq when none is), after applying the writer's run
   * log; a promise to wait on while a resync is pending.
   */
  seqBeforeTime(topicId: number, writer: number, timeMs: number): number | Promise<void> {
    const caughtUp = this.#catchUp(writer);
    if (caughtUp !== null) return caughtUp;
    const topic = this.#topics.get(topicId);
    if (topic === undefined) return 0;
    const index = topic.index;
    let lo = 0;
    let hi = index.runCount - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const points = index.runAt(mid).points;
      if (points.count > 0 && pointTime(points.toArrayView(), 0) < timeMs) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return index.runCount > 0 ? index.runAt(0).firstSeq : topic.committedSeq;
    const run = index.runAt(found);
    if (run.segment.pointsPending === true) this.#loadPoints(run.segment);
    // The view is the builder's whole buffer: only its first `count` points are points.
    const points = run.points.toArrayView();
    const at = lastPointBeforeTime(points, timeMs, run.points.count);
    return at < 0 ? run.firstSeq : pointSeq(points, at);
  }

  /** The newest append time known of a segment this open wrote to (undefined: none known). */
  segmentMaxTimeMs(filePath: string): number | undefined {
    const ref = this.#segments.get(filePath);
    return ref === undefined ? undefined : this.#maxTimeMs.get(ref);
  }

  /** Whether `seq` of the topic is in an indexed run (the index as it is now). */
  holds(topicId: number, seq: number): boolean {
    const topic = this.#topics.get(topicId);
    return topic !== undefined && seq < topic.committedSeq && topic.index.find(seq) >= 0;
  }

  /** The topic's next seq as far as the index knows now, without waiting for a resync. */
  indexedEnd(topicId: number): number {
    return this.#topics.get(topicId)?.committedSeq ?? 0;
  }

  /** These segments are about to be deleted: drop their runs and descriptors. */
  forgetSegments(paths: readonly string[]): void {
    const gone = new Set(paths);
    for (const topic of this.#topics.values()) {
      topic.index.removeSegments(gone);
      if (topic.hintSegment !== null && gone.has(topic.hintSegment.path)) topic.hintSegment = null;
    }
    for (const p of gone) {
      const ref = this.#segments.get(p);
      if (ref !== undefined) this.#reader.forget(ref);
      if (ref !== undefined) this.#writtenEnd.delete(ref);
      if (ref !== undefined) this.#maxTimeMs.delete(ref);
      if (ref !== undefined) this.#summaryPoints.delete(ref);
      this.#segments.delete(p);
      this.#fds.drop(p);
    }
  }

  close(): void {
    this.#fds.closeAll();
  }

  /** Applies what the writer published; null when the index is current, else the resync to await. */
  #catchUp(writer: number): Promise<void> | null {
    const resync = this.#resyncs[writer];
    if (resync) return resync;
    const log = this.#o.channels[writer]!.runLog;
    if (!log.pending && !log.overflowed) return null;
    this.#currentWriter = writer;
    if (log.drain(this.#apply) >= 0) return null;
    return (this.#resyncs[writer] = this.#resync(writer));
  }

  /** Rebuilds the index of a writer's topics from its snapshot, then follows its log from there. */
  async #resync(writer: number): Promise<void> {
    const channel = this.#o.channels[writer]!;
    try {
      const snapshot = await channel.control.call('runSnapshot');
      for (const t of snapshot.topics) {
        const topic = this.#topics.get(t.id);
        if (topic !== undefined) this.#replaceRuns(topic, t.runs, t.committedSeq);
      }
      channel.runLog.skipTo(snapshot.position);
    } finally {
      this.#resyncs[writer] = null;
    }
  }

  #applyRun(run: WrittenRun): void {
    const topic = this.#topics.get(run.topicId);
    // Every topic is known here before its first append reaches a writer (topic-table.ts).
    if (topic === undefined) return;
    const segment = this.#writtenSegment(this.#currentWriter, run.segmentNo);
    if (run.count === 0) {
      // A point of the run just applied (RunLogProducer.publishRun): the writer's own §14.2 choice.
      const last = topic.index.lastRun;
      if (last !== undefined && last.segment === segment && run.startOffset > last.points.lastOffset)
        last.points.push(run.startOffset, run.firstSeq, run.timeMs);
      return;
    }
    topic.index.append(segment, run.firstSeq, run.count, run.startOffset, run.endOffset, run.timeMs, NO_POINTS);
    // Every entry of one write has its time (FORMAT §13.3): the newest of a segment, for maxAgeMs.
    if (run.timeMs > (this.#maxTimeMs.get(segment) ?? 0)) this.#maxTimeMs.set(segment, run.timeMs);
    this.#noteWritten(segment, run.endOffset);
    topic.committedSeq = run.firstSeq + run.count;
  }

  /** Registers a topic (recovered, or created by a first append) so its runs can be applied. */
  addTopic(id: number, name: string): void {
    this.#topic(id, name);
  }

  #topic(id: number, name: string): IndexedTopic {
    let topic = this.#topics.get(id);
    if (topic === undefined) {
      topic = {
        id,
        name,
        committedSeq: 0,
        index: new TopicIndex({ tracksExtents: true }),
        hintSegment: null,
        hintSeq: 0,
        hintOffset: 0,
        hintSparse: false,
      };
      this.#topics.set(id, topic);
    }
    return topic;
  }

  #replaceRuns(topic: IndexedTopic, runs: readonly TopicRun[], committedSeq: number): void {
    const index = new TopicIndex({ tracksExtents: true });
    // Kept apart (no merging): recovered runs may have damage between them (topic-index.ts).
    for (const r of runs) {
      const segment = this.#segmentRef(r.path, r.segment, 0);
      index.appendRecovered(segment, r.firstSeq, r.count, r.startOffset, r.endOffset, r.points);
      this.#noteWritten(segment, r.endOffset);
    }
    // A writer's snapshot (a resync) has only the first point of runs open took from summaries.
    for (const [segment, loaded] of this.#summaryPoints) applySummaryPoints(index, segment, loaded.get(topic.id));
    topic.index = index;
    topic.committedSeq = committedSeq;
    topic.hintSegment = null;
  }

  /** A read first positions in a segment open took from a summary's head: its runs get all their points. */
  #loadPoints(segment: SegmentRef): void {
    segment.pointsPending = false;
    const loaded = loadSummaryPoints(nodeFileIo, segment.path);
    // Not loadable (damaged or changed since open): reads start from each run's first entry.
    if (typeof loaded === 'string') return;
    this.#summaryPoints.set(segment, loaded);
    for (const topic of this.#topics.values()) applySummaryPoints(topic.index, segment, loaded.get(topic.id));
  }

  /** The segment `segmentNo` of this epoch's `writer` (the one it last wrote, most of the time). */
  #writtenSegment(writer: number, segmentNo: number): SegmentRef {
    const last = this.#lastWritten[writer];
    if (last !== undefined && last.id.segmentNo === segmentNo && this.#segments.get(last.path) === last) return last;
    const id: SegmentId = { epoch: this.#o.epoch, writerIndex: writer, segmentNo };
    const segment = this.#segmentRef(path.join(this.#o.dir, segmentFileName(id)), id, this.#o.blockBytes);
    this.#lastWritten[writer] = segment;
    return segment;
  }

  #noteWritten(segment: SegmentRef, endOffset: number): void {
    if (endOffset > (this.#writtenEnd.get(segment) ?? 0)) this.#writtenEnd.set(segment, endOffset);
  }

  #segmentRef(filePath: string, id: SegmentId, blockBytes: number): SegmentRef {
    let ref = this.#segments.get(filePath);
    // The version and salt are read from the segment's header on first use.
    if (ref === undefined) {
      const unverified = this.#o.unverified?.has(filePath) === true;
      const pointsPending = unverified;
      this.#segments.set(filePath, (ref = { path: filePath, id, blockBytes, layout: null, unverified, pointsPending }));
    }
    return ref;
  }
}

/**
 * Gives each run of `segment` in `index` the points the summary holds for it: those of the
 * summary's run that starts where it starts, below its end (recovery may have accepted only a
 * prefix of that run).
 */
function applySummaryPoints(index: TopicIndex, segment: SegmentRef, lists: Float64Array[] | undefined): void {
  if (lists === undefined) return;
  for (let i = 0; i < index.runCount; i++) {
    const run = index.runAt(i);
    if (run.segment !== segment) continue;
    const points = lists.find((p) => p.length >= POINT_FIELDS && p[0] === run.startOffset && p[1] === run.firstSeq);
    if (points !== undefined)
      run.points = SparsePointsBuilder.adopt(
        DEFAULT_INDEX_INTERVAL_BYTES,
        pointsBelowSeq(points, run.firstSeq + run.count),
      );
  }
}
