/**
 * A reader's place in a topic (partition-reader.ts): where its last read stopped, so the next one
 * neither walks its run again from an index point nor reads ahead when it jumped elsewhere.
 */
import { startOffsetFor, type IndexedRun, type SegmentRef } from './topic-index.js';

/**
 * Where a reader's last read of a topic stopped, so a sequential reader does not re-walk its run:
 * each consumer of a topic keeps its own (several at different places would otherwise take each
 * other's, and every read would start again from an index point).
 */
export interface ReadHint {
  hintSegment: SegmentRef | null;
  hintSeq: number;
  hintOffset: number;
  /**
   * Whether the last read found this topic's frames sparse where it stopped (over half of the bytes
   * it walked other topics' frames): then the next read goes through the shared window, which reads each stretch of
   * a segment once for every topic interleaved in it, rather than into a buffer of its own.
   */
  hintSparse: boolean;
}

/** A hint that knows nothing yet. */
export function newReadHint(): ReadHint {
  return { hintSegment: null, hintSeq: 0, hintOffset: 0, hintSparse: false };
}

/** Whether the hint lies in `run`, at or before `seq` (so a walk to `seq` may start there). */
export function hintApplies(hint: ReadHint, run: IndexedRun, seq: number): boolean {
  return (
    hint.hintSegment === run.segment &&
    hint.hintSeq <= seq &&
    hint.hintSeq >= run.firstSeq &&
    hint.hintOffset >= run.startOffset
  );
}

/** Where a walk to `seq` in `run` starts: the later of the hint (if it applies) and the index point. */
export function walkStartOf(run: IndexedRun, seq: number, hint: ReadHint): number {
  const pointStart = startOffsetFor(run, seq);
  return hintApplies(hint, run, seq) ? Math.max(hint.hintOffset, pointStart) : pointStart;
}

/** Whether a read of `seq` in `segment` goes on exactly where the hint's reader stopped (a sequential reader). */
export function continuesAt(hint: ReadHint, segment: SegmentRef, seq: number): boolean {
  return hint.hintSegment === segment && hint.hintSeq === seq;
}

/** Where a read stopped: the next read of this reader starts from here. */
export function leaveHint(hint: ReadHint, segment: SegmentRef, seq: number, offset: number, sparse: boolean): void {
  hint.hintSegment = segment;
  hint.hintSeq = seq;
  hint.hintOffset = offset;
  hint.hintSparse = sparse;
}
