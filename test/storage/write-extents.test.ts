import { describe, expect, it } from 'vitest';
import { MAX_EXTENTS, WriteExtents } from '../../src/storage/write-extents.js';

describe("rule 1 (docs/SEMANTICS.md): a reader finds its topic's writes among other topics' (write-extents.ts)", () => {
  it('names the start of the write holding a seq: the greatest first seq at or below it', () => {
    const extents = new WriteExtents();
    extents.push(100, 0);
    extents.push(5000, 3);
    extents.push(9000, 10);
    expect(extents.startOf(0)).toBe(100);
    expect(extents.startOf(2)).toBe(100);
    expect(extents.startOf(3)).toBe(5000);
    expect(extents.startOf(9)).toBe(5000);
    expect(extents.startOf(10)).toBe(9000);
    expect(extents.startOf(1_000_000)).toBe(9000);
  });

  it('knows nothing before its first write', () => {
    const extents = new WriteExtents();
    expect(extents.startOf(0)).toBe(-1);
    extents.push(64, 5);
    expect(extents.startOf(4)).toBe(-1);
  });

  it(`keeps the newest ${MAX_EXTENTS} writes as it grows and wraps: older seqs are unknown, never misplaced`, () => {
    const extents = new WriteExtents();
    const writes = MAX_EXTENTS * 3 + 17;
    for (let i = 0; i < writes; i++) {
      extents.push(i * 1000, i * 2);
      // Spot checks while it grows and after every wrap.
      if (i % 997 === 0 || i === writes - 1) {
        const oldest = Math.max(0, i - MAX_EXTENTS + 1);
        expect(extents.startOf(i * 2 + 1)).toBe(i * 1000);
        expect(extents.startOf(oldest * 2)).toBe(oldest * 1000);
        if (oldest > 0) expect(extents.startOf(oldest * 2 - 1)).toBe(-1);
      }
    }
  });
});
