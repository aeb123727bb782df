import { describe, expect, it } from 'vitest';
import {
  SparsePointsBuilder,
  floorPointBySeq,
  lastPointBeforeTime,
  pointCount,
  pointOffset,
  pointSeq,
  pointsBelowSeq,
} from '../../src/storage/sparse-index.js';

const INTERVAL = 4096;

/** Entries of `bytes` each, one after another from offset 80, one time per 10 entries. */
function build(entries: number, bytes: number, firstSeq = 0): SparsePointsBuilder {
  const b = new SparsePointsBuilder(INTERVAL);
  for (let i = 0; i < entries; i++) b.offer(80 + i * bytes, firstSeq + i, 1000 + Math.floor(i / 10));
  return b;
}

describe('sparse index points (FORMAT §14.2)', () => {
  it('the first entry is a point; a later one when it is an interval past the previous point', () => {
    const points = build(100, 1000).toArray();
    const offsets = Array.from({ length: pointCount(points) }, (_, i) => pointOffset(points, i));
    // 80, then the first entry at least 4096 past it: 80 + 5 * 1000, and so on.
    expect(offsets.slice(0, 4)).toEqual([80, 5080, 10080, 15080]);
    expect(pointCount(points)).toBe(20);
  });

  it('walk bound: every entry lies less than an interval after the greatest point at or before it', () => {
    for (const bytes of [40, 1000, 4095, 4096, 9000]) {
      const n = 200;
      const points = build(n, bytes).toArray();
      for (let seq = 0; seq < n; seq++) {
        const p = floorPointBySeq(points, pointCount(points), seq);
        expect(pointSeq(points, p)).toBeLessThanOrEqual(seq);
        const gap = 80 + seq * bytes - pointOffset(points, p);
        // An entry an interval or more past its point would itself be a point.
        expect(gap === 0 || gap < INTERVAL).toBe(true);
      }
    }
  });

  it('size bound: at most min(count, ceil(span / interval) + 1) points', () => {
    for (const bytes of [40, 1000, 4096, 9000]) {
      const n = 300;
      const span = n * bytes;
      expect(pointCount(build(n, bytes).toArray())).toBeLessThanOrEqual(Math.min(n, Math.ceil(span / INTERVAL) + 1));
    }
  });

  it('a truncated builder chooses again from its last kept point (a dropped batch goes with its points)', () => {
    const b = build(30, 1000);
    const kept = b.count;
    b.offer(80 + 30 * 1000, 30, 1003);
    b.offer(80 + 35 * 1000, 31, 1003);
    b.truncate(kept);
    b.offer(80 + 30 * 1000, 30, 1003);
    expect(b.toArray()).toEqual(build(31, 1000).toArray());
  });

  it('finds the point to start from by seq and by time, and cuts points back with a run', () => {
    const points = build(100, 1000, 50).toArray();
    expect(floorPointBySeq(points, pointCount(points), 49)).toBe(-1);
    expect(pointSeq(points, floorPointBySeq(points, pointCount(points), 57))).toBe(55);
    expect(pointSeq(points, floorPointBySeq(points, pointCount(points), 10_000))).toBe(145);
    // Times 1000 + floor(i / 10): the entries of time ≥ 1003 start at seq 80.
    const before = lastPointBeforeTime(points, 1003);
    expect(pointSeq(points, before)).toBeLessThan(80);
    expect(pointSeq(points, before + 1)).toBeGreaterThanOrEqual(80);
    expect(lastPointBeforeTime(points, 0)).toBe(-1);
    const cut = pointsBelowSeq(points, 60);
    expect(Array.from({ length: pointCount(cut) }, (_, i) => pointSeq(cut, i))).toEqual([50, 55]);
    expect(pointsBelowSeq(points, 1000)).toBe(points);
  });

  it("by time over a builder's own buffer, which holds more slots than points (count given)", () => {
    const b = build(100, 1000, 50);
    const view = b.toArrayView();
    expect(pointCount(view)).toBeGreaterThan(b.count); // the spare slots are zeros: time 0
    const before = lastPointBeforeTime(view, 1003, b.count);
    expect(before).toBe(lastPointBeforeTime(b.toArray(), 1003));
    expect(pointSeq(view, before)).toBeLessThan(80);
  });
});
