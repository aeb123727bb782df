/**
 * Which segments may be deleted (docs/FORMAT.md §9): sealed ones in which every topic's entries are
 * all below its durable cursor. Pinned segments are kept whatever the cursors say (see recover.ts).
 */
import type { SegmentSummary } from './recover.js';

export function deletableSegments(
  segments: SegmentSummary[],
  durableNextSeq: (topicId: number) => number,
  isSealed: (s: SegmentSummary) => boolean,
): SegmentSummary[] {
  return segments.filter(
    (s) => s.pinned !== true && isSealed(s) && s.topics.every(([topicId, lastSeq]) => durableNextSeq(topicId) > lastSeq),
  );
}
