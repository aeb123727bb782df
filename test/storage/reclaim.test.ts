import { describe, expect, it } from 'vitest';
import type { SegmentSummary } from '../../src/storage/recover.js';
import { DEFAULT_RETENTION, retentionRound } from '../../src/storage/retention.js';

/** Rule 12 without limits: retentionRound with the default policy. */
function deletableSegments(
  segments: SegmentSummary[],
  consumedBelow: (topicId: number) => number,
  isSealed: (s: SegmentSummary) => boolean,
): SegmentSummary[] {
  return retentionRound(segments, DEFAULT_RETENTION, { isSealed, consumedBelow, totalBytes: 0 }).doomed;
}

function summary(segmentNo: number, topics: Array<[number, number]>): SegmentSummary {
  return { path: `/wal/seg-${segmentNo}`, id: { epoch: 1, writerIndex: 0, segmentNo }, sizeBytes: 100, topics };
}

describe('rule 12. Without limits a sealed segment goes once every consumer consumed all of its entries', () => {
  const cursors = new Map<number, number>([
    [1, 10],
    [2, 5],
  ]);
  const durable = (topicId: number): number => cursors.get(topicId) ?? 0;
  const allSealed = (): boolean => true;

  it('deletes a sealed segment only when every topic in it is consumed past its last seq', () => {
    const segments = [
      summary(0, [[1, 9]]),
      summary(1, [[1, 10]]),
      summary(2, [
        [1, 3],
        [2, 4],
      ]),
      summary(3, [
        [1, 3],
        [2, 5],
      ]),
    ];
    expect(deletableSegments(segments, durable, allSealed).map((s) => s.id.segmentNo)).toEqual([0, 2]);
  });

  it('never deletes an unsealed segment', () => {
    const segments = [summary(0, [[1, 1]]), summary(1, [[1, 2]])];
    expect(deletableSegments(segments, durable, (s) => s.id.segmentNo === 1).map((s) => s.id.segmentNo)).toEqual([1]);
  });

  it('deletes a sealed segment without accepted entries, and a topic unknown to the cursors keeps its segment', () => {
    const segments = [summary(0, []), summary(1, [[3, 0]])];
    expect(deletableSegments(segments, durable, allSealed).map((s) => s.id.segmentNo)).toEqual([0]);
  });
});
