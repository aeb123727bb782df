/**
 * One writer's share of the log (docs/FORMAT.md §2–§4): its topics (their next sequence numbers and
 * indexes), the segment files it knows and the descriptors it reads them through. The Partition
 * owns that state and composes the two paths over it:
 *   - writing (partition-writer.ts): the current segment, staging, one positional write per commit,
 *     roll-back of a failed write, sealing and fdatasync;
 *   - reading (partition-reader.ts, with read-window.ts and read-batch-builder.ts): a topic's
 *     entries from a seq on, checksums verified.
 * Synchronous, like the whole storage core.
 */
import { WalError } from '../errors.js';
import { isValidBlockBytes } from './block-layout.js';
import { FdCache } from './fd-cache.js';
import { crc32Of, type FrameLayout } from './frame.js';
import { PartitionReader } from './partition-reader.js';
import { PartitionWriter, type PartitionConfig, type WritableTopic } from './partition-writer.js';
import type { ReadBatch } from './read-batch-builder.js';
import type { RecoveredTopic, SegmentSummary, TopicRun } from './recover.js';
import type { SegmentId } from './segment-name.js';
import type { TopicGaps } from './seq-gaps.js';
import { TopicIndex, type SegmentRef } from './topic-index.js';

export { DEFAULT_MAX_WRITE_BYTES, type PartitionConfig } from './partition-writer.js';
export type { ReadBatch, ReadEntryRef } from './read-batch-builder.js';

const MAX_TOPIC_ID = 0xffff_ffff;

/** One topic's index as a snapshot: its runs and the seq after its last written entry. */
export interface TopicRunsSnapshot {
  id: number;
  committedSeq: number;
  runs: TopicRun[];
}

export class Partition {
  private readonly topics = new Map<number, WritableTopic>();
  private readonly segments = new Map<string, SegmentRef>();
  private readonly fds: FdCache;
  private readonly reader: PartitionReader;
  private readonly writer: PartitionWriter;
  private closed = false;

  constructor(config: PartitionConfig, topics: RecoveredTopic[]) {
    if (!isValidBlockBytes(config.blockBytes))
      throw WalError.invalidArgument(`invalid blockBytes ${config.blockBytes}`);
    if (!(config.segmentBytes > 0)) throw WalError.invalidArgument(`invalid segmentBytes ${config.segmentBytes}`);
    this.fds = new FdCache(config.io);
    this.reader = new PartitionReader(config.io, (segment) => this.fdOf(segment), { v1TimeMs: config.v1TimeMs });
    this.writer = new PartitionWriter(config, {
      topics: this.topics,
      fds: this.fds,
      segmentRef: (filePath, id, blockBytes, layout) => this.segmentRef(filePath, id, blockBytes, layout),
    });
    for (const topic of topics) {
      const state = this.addTopic(topic.id, topic.name, topic.nextSeq);
      for (const run of topic.runs) {
        state.index.appendRecovered(
          this.segmentRef(run.path, run.segment, 0),
          run.firstSeq,
          run.count,
          run.startOffset,
          run.endOffset,
          run.points,
        );
      }
    }
  }

  defineTopic(id: number, name: string, nextSeq = 0): void {
    this.assertOpen();
    if (this.topics.has(id)) return;
    if (!Number.isInteger(id) || id < 0 || id > MAX_TOPIC_ID) throw WalError.invalidArgument(`invalid topic id ${id}`);
    if (!Number.isSafeInteger(nextSeq) || nextSeq < 0) throw WalError.invalidArgument(`invalid next seq ${nextSeq}`);
    this.addTopic(id, name, nextSeq);
  }

  hasTopic(id: number): boolean {
    return this.topics.has(id);
  }

  nextSeq(id: number): number {
    return this.topicOf(id).nextSeq;
  }

  /**
   * Where 'earliest' starts: the first seq from which the topic's entries are all still indexed
   * (TopicIndex.firstOfContiguousTail; its committed end when nothing is).
   */
  firstStored(id: number, gaps?: TopicGaps): number {
    const topic = this.topicOf(id);
    return topic.index.firstOfContiguousTail(topic.committedSeq, gaps);
  }

  get stagedBytes(): number {
    return this.writer.stagedBytes;
  }

  get stagedEntries(): number {
    return this.writer.stagedEntries;
  }

  get currentSegment(): { id: SegmentId; path: string; sizeBytes: number } | null {
    return this.writer.currentSegment;
  }

  /**
   * Stages one entry and returns its seq (partition-writer.ts). `payloadCrc`: the CRC-32 of exactly
   * data[offset, offset + length) when the caller already has it (the writer worker gets it from the
   * ring, computed by the main thread); computed here otherwise.
   */
  stageEntry(
    topicId: number,
    data: Uint8Array,
    offset: number,
    length: number,
    codec: number,
    batchFlags: number,
    payloadCrc?: number,
  ): number {
    this.assertOpen();
    this.writer.assertWritable();
    return this.writer.stageEntry(this.topicOf(topicId), data, offset, length, codec, batchFlags, payloadCrc);
  }

  /** Staged bytes reached maxWriteBytes or the segment's room; never inside an open batch. */
  wantsCommit(): boolean {
    return this.writer.wantsCommit();
  }

  /** Writes everything staged with one positional write, or rolls it all back and throws. */
  commit(): void {
    this.assertOpen();
    this.writer.commit();
  }

  discardStaged(): void {
    this.writer.discardStaged();
  }

  /** Entries of a topic from `fromSeq` on (partition-reader.ts says which and how many). */
  read(topicId: number, fromSeq: number, maxBytes: number, maxEntries: number): ReadBatch {
    this.assertOpen();
    return this.reader.read(this.topicOf(topicId), fromSeq, maxBytes, maxEntries);
  }

  /** Every topic's runs as indexed now (what a reader elsewhere rebuilds its index from). */
  runSnapshot(): TopicRunsSnapshot[] {
    this.assertOpen();
    const out: TopicRunsSnapshot[] = [];
    for (const topic of this.topics.values()) {
      const runs: TopicRun[] = [];
      for (let i = 0; i < topic.index.runCount; i++) {
        const run = topic.index.runAt(i);
        runs.push({
          path: run.segment.path,
          segment: run.segment.id,
          firstSeq: run.firstSeq,
          count: run.count,
          startOffset: run.startOffset,
          endOffset: run.endOffset,
          points: run.points.toArray(),
        });
      }
      out.push({ id: topic.id, committedSeq: topic.committedSeq, runs });
    }
    return out;
  }

  /** This partition's sealed segments of the current epoch. */
  segmentSummaries(): SegmentSummary[] {
    return this.writer.segmentSummaries();
  }

  /** Drops every run in these segments (about to be deleted) and closes their descriptors. */
  forgetSegments(paths: string[]): void {
    this.assertOpen();
    const gone = new Set(paths);
    this.writer.forgetSegments(gone);
    for (const topic of this.topics.values()) {
      topic.index.removeSegments(gone);
      if (topic.hintSegment !== null && gone.has(topic.hintSegment.path)) topic.hintSegment = null;
    }
    for (const p of gone) {
      const ref = this.segments.get(p);
      if (ref !== undefined) this.reader.forget(ref);
      this.segments.delete(p);
      this.fds.drop(p);
    }
  }

  /** Seals the segment being written, with its summary drafted (a clean close; PartitionWriter.sealCurrent). */
  sealCurrent(): void {
    this.assertOpen();
    this.writer.sealCurrent();
  }

  /** Segments whose summary was drafted since the last call, to publish once they are durable. */
  takeSummaryDrafts(): readonly string[] {
    return this.writer.takeSummaryDrafts();
  }

  /** fdatasync of the current segment, and of sealed ones written since the last call. */
  fdatasyncCurrent(): void {
    this.assertOpen();
    this.writer.fdatasyncCurrent();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.writer.close();
    } finally {
      this.fds.closeAll();
    }
  }

  /** The current segment is read through its write descriptor, sealed ones through the FdCache. */
  private fdOf(segment: SegmentRef): number {
    const fd = this.writer.currentFdOf(segment);
    return fd >= 0 ? fd : this.fds.get(segment.path);
  }

  private addTopic(id: number, name: string, nextSeq: number): WritableTopic {
    const nameBytes = new TextEncoder().encode(name);
    if (nameBytes.byteLength === 0) throw WalError.invalidArgument('a topic name cannot be empty');
    const state: WritableTopic = {
      id,
      name,
      nameBytes,
      nameCrc: crc32Of(nameBytes),
      nextSeq,
      committedSeq: nextSeq,
      definedIn: null,
      pointSegment: null,
      lastPointOffset: 0,
      index: new TopicIndex(),
      hintSegment: null,
      hintSeq: 0,
      hintOffset: 0,
      hintSparse: false,
    };
    this.topics.set(id, state);
    return state;
  }

  private segmentRef(
    filePath: string,
    id: SegmentId,
    blockBytes: number,
    layout: FrameLayout | null = null,
  ): SegmentRef {
    let ref = this.segments.get(filePath);
    if (ref === undefined) this.segments.set(filePath, (ref = { path: filePath, id, blockBytes, layout }));
    return ref;
  }

  private topicOf(id: number): WritableTopic {
    const topic = this.topics.get(id);
    if (topic === undefined) throw WalError.invalidArgument(`topic id ${id} is not defined in this partition`);
    return topic;
  }

  private assertOpen(): void {
    if (this.closed) throw WalError.closed();
  }
}
