/**
 * docs/SEMANTICS.md rule D19 in the storage core: TopicIndex.firstOfContiguousTail, where 'earliest'
 * starts, follows the runs as reclaiming removes them and writes add them.
 */
import { describe, expect, it } from 'vitest';
import { TopicIndex, type SegmentRef } from '../../src/storage/topic-index.js';

const segment = (n: number): SegmentRef => ({
  path: `/log/${n}.seg`,
  id: { epoch: 1, writerIndex: 0, segmentNo: n },
  blockBytes: 0,
  layout: null,
});

describe("rule D19. 'earliest' starts where a topic's retained entries are whole up to its end", () => {
  it('a run removed from the middle, then one appended (the same count, the same first run): the tail starts after the hole', () => {
    const index = new TopicIndex();
    index.appendRecovered(segment(1), 0, 3, 0, 300, new Float64Array(0));
    index.appendRecovered(segment(2), 3, 11, 0, 1100, new Float64Array(0));
    index.appendRecovered(segment(3), 14, 3, 0, 300, new Float64Array(0));
    expect(index.firstOfContiguousTail(17)).toBe(0);
    // Segment 2 was consumed and reclaimed; segment 1 stays for another topic's unread entries.
    index.removeSegments(new Set([segment(2).path]));
    index.appendRecovered(segment(4), 17, 2, 0, 200, new Float64Array(0));
    expect(index.runCount).toBe(3);
    // Before the fix the memo of the first answer (0) was returned: a consumer registered at
    // 'earliest' got position 0 over deleted entries, and the next open took the hole for damage.
    expect(index.firstOfContiguousTail(19)).toBe(14);
  });
});
