import { describe, expect, it } from 'vitest';
import { median, medianMetrics } from '../metrics.js';
import { coalesce, entriesPerBuffer, makeBatches, makePayloads } from '../payloads.js';

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });

  it('takes each metric over the repetitions that reported it', () => {
    const m = medianMetrics([{ entriesPerSec: 10, p99Us: 5 }, { entriesPerSec: 30 }, { entriesPerSec: 20, p99Us: 7 }]);
    expect(m).toEqual({ entriesPerSec: 20, p99Us: 6 });
  });
});

describe('payloads', () => {
  it('are random, distinct, of the asked size, and cycle by index', () => {
    const p = makePayloads(100, 8);
    expect(p.pool).toHaveLength(8);
    expect(new Set(p.pool.map((b) => b.toString('hex'))).size).toBe(8);
    for (const b of p.pool) expect(b.length).toBe(100);
    expect(p.at(9)).toBe(p.pool[1]);
    expect(() => makePayloads(100, 6)).toThrow(RangeError);
  });

  it('coalesce lays whole entries end to end in one buffer', () => {
    const p = makePayloads(100, 4);
    const buf = coalesce(p, 1000);
    expect(entriesPerBuffer(100, 1000)).toBe(10);
    expect(buf.length).toBe(1000);
    expect(buf.subarray(0, 100).equals(p.at(0))).toBe(true);
    expect(buf.subarray(500, 600).equals(p.at(5))).toBe(true);
    expect(coalesce(p, 10).length).toBe(100);
  });

  it('makeBatches returns distinct batches of the asked size from the pool', () => {
    const p = makePayloads(10, 16);
    const batches = makeBatches(p, 5, 3);
    expect(batches.map((b) => b.length)).toEqual([5, 5, 5]);
    expect(batches[1]![0]).toBe(p.at(5));
  });
});
