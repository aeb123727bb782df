/**
 * The arithmetic of recorded gaps (src/storage/seq-gaps.ts; docs/SEMANTICS.md rule D4): which
 * missing seqs a gap explains to recovery, where a reader goes on, and what a count leaves out.
 */
import { describe, expect, it } from 'vitest';
import { afterGap, explainedUpTo, gapsByTopic, unreadCount } from '../../src/storage/seq-gaps.js';

describe('rule D4. Sequence numbers: a recorded gap explains missing seqs, readers skip it, counts leave it out', () => {
  const gaps = gapsByTopic([
    { topicId: 2, fromSeq: 50, toSeq: 60 },
    { topicId: 1, fromSeq: 10, toSeq: 20 },
    { topicId: 1, fromSeq: 15, toSeq: 25 },
    { topicId: 1, fromSeq: 25, toSeq: 30 },
    { topicId: 1, fromSeq: 40, toSeq: 41 },
  ]);

  it('groups by topic, sorted, merging gaps that overlap or touch', () => {
    expect(gaps.get(1)).toEqual([
      { topicId: 1, fromSeq: 10, toSeq: 30 },
      { topicId: 1, fromSeq: 40, toSeq: 41 },
    ]);
    expect(gaps.get(2)).toEqual([{ topicId: 2, fromSeq: 50, toSeq: 60 }]);
  });

  it('explains missing seqs through gaps and what every consumer passed, alternating, and no further', () => {
    expect(explainedUpTo(gaps.get(1), 10, 0)).toBe(30);
    expect(explainedUpTo(gaps.get(1), 12, 0)).toBe(30);
    expect(explainedUpTo(gaps.get(1), 9, 0)).toBe(9);
    // 30..39 passed by every consumer (reclaimable), then the gap at 40: explained up to 41.
    expect(explainedUpTo(gaps.get(1), 10, 40)).toBe(41);
    expect(explainedUpTo(gaps.get(1), 10, 35)).toBe(35);
    expect(explainedUpTo(undefined, 3, 7)).toBe(7);
    expect(explainedUpTo(undefined, 8, 7)).toBe(8);
  });

  it('moves a reader inside a gap to its end, and leaves one outside where it is', () => {
    expect(afterGap(gaps.get(1), 10)).toBe(30);
    expect(afterGap(gaps.get(1), 29)).toBe(30);
    expect(afterGap(gaps.get(1), 30)).toBe(30);
    expect(afterGap(gaps.get(1), 9)).toBe(9);
    expect(afterGap(undefined, 5)).toBe(5);
  });

  it('counts the seqs between a position and the next seq, less those in gaps', () => {
    expect(unreadCount(gaps.get(1), 0, 50)).toBe(50 - 20 - 1);
    expect(unreadCount(gaps.get(1), 15, 35)).toBe(5);
    expect(unreadCount(gaps.get(1), 40, 41)).toBe(0);
    expect(unreadCount(undefined, 3, 7)).toBe(4);
    expect(unreadCount(gaps.get(1), 7, 3)).toBe(0);
  });
});
