/**
 * Where a topic's entries are: an ordered list of runs (consecutive seqs in one segment, FORMAT
 * §14.1), each with sparse-index points (sparse-index.ts) a reader starts from. A run may contain
 * frames of other topics between its own; readers skip them, from the greatest point at or before
 * the seq they want, so a run is never split to bound a walk.
 */
import { DEFAULT_INDEX_INTERVAL_BYTES, type FrameLayout } from './frame.js';
import type { SegmentId } from './segment-name.js';
import { POINT_FIELDS, SparsePointsBuilder, floorPointBySeq } from './sparse-index.js';
import { explainedUpTo, type TopicGaps } from './seq-gaps.js';
import { WriteExtents } from './write-extents.js';

export interface SegmentRef {
  readonly path: string;
  readonly id: SegmentId;
  /** Block size from the segment header; 0 until the segment is first read. */
  blockBytes: number;
  /** Version and salt from the segment header; null until the segment is first read. */
  layout: FrameLayout | null;
  /**
   * Its content came from a trusted summary (docs/FORMAT.md §15.4), so this process never checked
   * its frames: every read checks each payload's checksum, even a reader that otherwise trusts them.
   */
  readonly unverified?: boolean;
  /**
   * Its runs hold only their first point so far: open read just its summary's head, and the rest
   * of its points are loaded when a read first positions in it (PartitionReader's `loadPoints`).
   */
  pointsPending?: boolean;
}

export interface IndexedRun {
  readonly segment: SegmentRef;
  readonly firstSeq: number;
  count: number;
  readonly startOffset: number;
  /** Bounds the run's frames; exact for runs this process wrote. */
  endOffset: number;
  /** Entries a read may start at, in file order (replaced once when a summary's points are loaded). */
  points: SparsePointsBuilder;
  /**
   * Where this process's writes of the run lie, once one did not follow the previous one
   * (write-extents.ts); null for a recovered run, whose frames interleave unknown ways, and in an
   * index that tracks none.
   */
  extents: WriteExtents | null;
  /** Whether every write of the run went through append() in an index that tracks extents. */
  readonly written: boolean;
}

export class TopicIndex {
  private runs: IndexedRun[] = [];
  /** firstOfContiguousTail's answer while no run was added or removed (only the last run grows). */
  private tailMemo: { runCount: number; first: IndexedRun; seq: number } | null = null;
  /** Whether runs keep their writes' extents: the main thread's index, which readers jump with. */
  private readonly tracksExtents: boolean;

  constructor(options: { tracksExtents?: boolean } = {}) {
    this.tracksExtents = options.tracksExtents ?? false;
  }

  get runCount(): number {
    return this.runs.length;
  }

  runAt(index: number): IndexedRun {
    return this.runs[index]!;
  }

  get lastRun(): IndexedRun | undefined {
    return this.runs.at(-1);
  }

  /**
   * The first seq from which the runs hold every entry up to the last (seqs in a recorded gap count
   * as held: readers skip them); `end` when there are no runs. Where 'earliest' starts: reclaiming
   * deletes a segment once every consumer passed what it holds, so below every position a topic may
   * keep runs with a hole between them (a segment kept for another topic's unread entries, the next
   * deleted). A consumer starting before such a hole would meet missing entries, and the next open
   * would take the hole above its position for damage.
   */
  firstOfContiguousTail(end: number, gaps?: TopicGaps): number {
    const runs = this.runs;
    if (runs.length === 0) return end;
    const memo = this.tailMemo;
    if (memo !== null && memo.runCount === runs.length && memo.first === runs[0]) return memo.seq;
    let seq = runs[runs.length - 1]!.firstSeq;
    for (let i = runs.length - 2; i >= 0; i--) {
      const run = runs[i]!;
      const runEnd = run.firstSeq + run.count;
      if (runEnd < seq && explainedUpTo(gaps, runEnd, 0) < seq) break;
      seq = Math.min(seq, run.firstSeq);
    }
    this.tailMemo = { runCount: runs.length, first: runs[0]!, seq };
    return seq;
  }

  /**
   * Adds a recovered run. Kept apart from the others (never merged): recovered runs may have damage
   * between them, and each has the points the scan chose.
   */
  appendRecovered(
    segment: SegmentRef,
    firstSeq: number,
    count: number,
    startOffset: number,
    endOffset: number,
    points: Float64Array,
  ): void {
    const builder =
      points.length >= POINT_FIELDS
        ? SparsePointsBuilder.adopt(DEFAULT_INDEX_INTERVAL_BYTES, points)
        : new SparsePointsBuilder(DEFAULT_INDEX_INTERVAL_BYTES, 1);
    if (builder.count === 0) builder.push(startOffset, firstSeq, 0);
    this.runs.push({
      segment,
      firstSeq,
      count,
      startOffset,
      endOffset,
      points: builder,
      extents: null,
      written: false,
    });
  }

  /**
   * Adds entries [firstSeq, firstSeq + count) written by this process after every indexed entry:
   * they extend the last run when they continue it in the same segment. `points` are the write's
   * points as the writer chose them ([offset, seq, timeMs] triples, §14.2); without them (a reader
   * that only learns where each write lies) the write's first entry is offered to the rule, which
   * keeps the points valid places to start, if sparser than a scan's.
   */
  append(
    segment: SegmentRef,
    firstSeq: number,
    count: number,
    startOffset: number,
    endOffset: number,
    timeMs: number,
    points?: Float64Array,
    intervalBytes = DEFAULT_INDEX_INTERVAL_BYTES,
  ): void {
    let run = this.runs.at(-1);
    if (run !== undefined && run.segment === segment && run.firstSeq + run.count === firstSeq) {
      if (run.written && startOffset > run.endOffset) {
        if (run.extents === null) (run.extents = new WriteExtents()).push(run.startOffset, run.firstSeq);
        run.extents.push(startOffset, firstSeq);
      }
      run.count += count;
      run.endOffset = endOffset;
    } else {
      const points = new SparsePointsBuilder(intervalBytes);
      run = { segment, firstSeq, count, startOffset, endOffset, points, extents: null, written: this.tracksExtents };
      this.runs.push(run);
    }
    if (points === undefined) {
      run.points.offer(startOffset, firstSeq, timeMs);
      return;
    }
    for (let i = 0; i < points.length; i += POINT_FIELDS) run.points.push(points[i]!, points[i + 1]!, points[i + 2]!);
  }

  /** Index of the run holding `seq`, or -1. */
  find(seq: number): number {
    let lo = 0;
    let hi = this.runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const run = this.runs[mid]!;
      if (seq < run.firstSeq) hi = mid - 1;
      else if (seq >= run.firstSeq + run.count) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  removeSegments(paths: ReadonlySet<string>): void {
    this.runs = this.runs.filter((run) => !paths.has(run.segment.path));
    // A removed run in the middle with one appended since keeps the count and the first run.
    this.tailMemo = null;
  }
}

/** Where a walk to `seq` (inside `run`) may start: the greatest point at or before it. */
export function startOffsetFor(run: IndexedRun, seq: number): number {
  const points = run.points;
  const data = points.toArrayView();
  const i = floorPointBySeq(data, points.count, seq);
  return i < 0 ? run.startOffset : data[i * POINT_FIELDS]!;
}
