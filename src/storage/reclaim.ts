/**
 * Which segments may be deleted (docs/FORMAT.md §9): sealed ones in which every topic's entries are
 * all below its durable cursor. Frames an earlier recovery ignored do not count: MANIFEST fences
 * keep them void (see recover.ts).
 */
import type { SegmentSummary } from './recover.js';

export function deletableSegments(
  segments: SegmentSummary[],
  durableNextSeq: (topicId: number) => number,
  isSealed: (s: SegmentSummary) => boolean,
): SegmentSummary[] {
  return segments.filter(
    (s) => isSealed(s) && s.topics.every(([topicId, lastSeq]) => durableNextSeq(topicId) > lastSeq),
  );
}
