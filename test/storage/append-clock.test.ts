import { describe, expect, it } from 'vitest';
import { AppendClock } from '../../src/storage/append-clock.js';
import { MAX_TIME_MS } from '../../src/storage/frame.js';

function scripted(readings: number[]): () => number {
  let i = 0;
  return () => readings[Math.min(i++, readings.length - 1)]!;
}

describe('append time is non-decreasing per writer (FORMAT §13.3)', () => {
  it('follows the clock while it moves forward, one reading per round', () => {
    let reads = 0;
    const clock = new AppendClock(0, () => (reads++, 1000 + reads * 10));
    expect([clock.next(), clock.next(), clock.next()]).toEqual([1010, 1020, 1030]);
    expect(reads).toBe(3);
    expect(clock.behindMs).toBe(0);
  });

  it('a clock stepped back pins the time at the last one, and says how far behind it is', () => {
    const clock = new AppendClock(0, scripted([5000, 4000, 4500, 5000, 6000]));
    expect(clock.next()).toBe(5000);
    expect(clock.next()).toBe(5000);
    expect(clock.behindMs).toBe(1000);
    expect(clock.next()).toBe(5000);
    expect(clock.behindMs).toBe(500);
    expect(clock.next()).toBe(5000);
    expect(clock.behindMs).toBe(0);
    expect(clock.next()).toBe(6000);
  });

  it('starts at the floor recovery found: a clock below it never yields an earlier time', () => {
    const clock = new AppendClock(9000, scripted([7000, 9500]));
    expect(clock.lastTimeMs).toBe(9000);
    expect(clock.next()).toBe(9000);
    expect(clock.behindMs).toBe(2000);
    expect(clock.next()).toBe(9500);
  });

  it('whole milliseconds within 0 … 2^53 - 1, whatever the clock reads', () => {
    const clock = new AppendClock(0, scripted([12.9, Number.NaN, 2 ** 60, -5]));
    expect(clock.next()).toBe(12);
    expect(clock.next()).toBe(12);
    expect(clock.next()).toBe(MAX_TIME_MS);
    expect(clock.next()).toBe(MAX_TIME_MS);
  });

  it('refuses a floor no frame may carry', () => {
    expect(() => new AppendClock(-1)).toThrow(/time floor/);
    expect(() => new AppendClock(1.5)).toThrow(/time floor/);
    expect(() => new AppendClock(MAX_TIME_MS + 1)).toThrow(/time floor/);
  });
});
