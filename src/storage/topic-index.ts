/**
 * Where a topic's entries are: an ordered list of runs (consecutive seqs in one segment). A run may
 * contain frames of other topics between its own; readers skip them. Runs are bounded in span and
 * in gaps (see mayExtendRun) so that a reader never walks much more than it returns.
 */
import type { SegmentId } from './segment-name.js';

export interface SegmentRef {
  readonly path: string;
  readonly id: SegmentId;
  /** Block size from the segment header; 0 until the segment is first read. */
  blockBytes: number;
}

export interface IndexedRun {
  readonly segment: SegmentRef;
  readonly firstSeq: number;
  count: number;
  readonly startOffset: number;
  /** Bounds the run's frames; exact for runs this process wrote. */
  endOffset: number;
}

/** Longest stretch of file a run may cover, so finding a seq inside one walks at most this much. */
export const MAX_RUN_SPAN_BYTES = 1024 * 1024;
/**
 * Most bytes of other frames a run may skip between two of its entries: a sparse topic among busy
 * ones gets a run per entry (read directly) rather than runs a reader must walk frame by frame.
 */
export const MAX_RUN_GAP_BYTES = 4 * 1024;

/** Whether entries at [startOffset, endOffset) may extend a run that ends at `run.endOffset`. */
export function mayExtendRun(
  run: { startOffset: number; endOffset: number },
  startOffset: number,
  endOffset: number,
): boolean {
  return startOffset - run.endOffset <= MAX_RUN_GAP_BYTES && endOffset - run.startOffset <= MAX_RUN_SPAN_BYTES;
}

export class TopicIndex {
  private runs: IndexedRun[] = [];

  get runCount(): number {
    return this.runs.length;
  }

  runAt(index: number): IndexedRun {
    return this.runs[index]!;
  }

  /**
   * Adds entries [firstSeq, firstSeq + count) that follow every indexed entry. `mayMerge` says the
   * bytes since the previous run are known-valid frames (written by this process); recovered runs
   * may have damage between them and must stay apart, since a reader walks a run frame by frame.
   */
  append(
    segment: SegmentRef,
    firstSeq: number,
    count: number,
    startOffset: number,
    endOffset: number,
    mayMerge = true,
  ): void {
    const last = this.runs.at(-1);
    if (
      mayMerge &&
      last !== undefined &&
      last.segment === segment &&
      last.firstSeq + last.count === firstSeq &&
      mayExtendRun(last, startOffset, endOffset)
    ) {
      last.count += count;
      last.endOffset = endOffset;
      return;
    }
    this.runs.push({ segment, firstSeq, count, startOffset, endOffset });
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
  }
}
