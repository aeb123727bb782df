/**
 * docs/DURABILITY.md, what is verified when: a read of a segment open did not verify checks its
 * payloads with one CRC-32 pass over the read's span (crc32-span.ts). The pass must agree with a
 * checksum of each payload on its own: pass when every one matches, fail when any does not.
 */
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/storage/crc32.js';
import { SpanCrcCheck, shiftZeros } from '../../src/storage/crc32-span.js';
import { xorshift32 } from '../helpers/xorshift.js';

/** The raw register (no inversions) after the bytes, one bit at a time: the definition. */
function rawBitwise(c: number, bytes: Uint8Array): number {
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return c >>> 0;
}

/** Uniform in [0, 1), deterministic, so a failure names its case. */
function rng(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 2 ** 32;
}

interface Layout {
  buf: Uint8Array;
  payloads: Array<{ at: number; length: number; crc: number }>;
}

/** Random payloads with random bytes between them, each with its true CRC-32. */
function layout(seed: number, count: number, maxLength: number, maxGap: number): Layout {
  const random = rng(seed);
  const pieces: Array<{ gap: number; length: number }> = [];
  let size = 0;
  for (let k = 0; k < count; k++) {
    const gap = Math.floor(random() * maxGap);
    const length = Math.floor(random() * maxLength);
    pieces.push({ gap, length });
    size += gap + length;
  }
  const buf = new Uint8Array(size + 16);
  for (let k = 0; k < buf.length; k++) buf[k] = Math.floor(random() * 256);
  const payloads: Layout['payloads'] = [];
  let at = 0;
  for (const { gap, length } of pieces) {
    at += gap;
    payloads.push({ at, length, crc: crc32(buf, at, at + length) });
    at += length;
  }
  return { buf, payloads };
}

/** The payloads as a reader's entries name them. */
function asRefs({ payloads }: Layout): Array<{ offset: number; length: number }> {
  return payloads.map((p) => ({ offset: p.at, length: p.length }));
}

function checkAll(check: SpanCrcCheck, { buf, payloads }: Layout): boolean {
  check.reset();
  for (const p of payloads) check.add(buf, p.at, p.length, p.crc);
  return check.matches(buf);
}

describe('what is verified when (docs/DURABILITY.md): one pass checks every payload of a read', () => {
  it('shifting by zero bytes is feeding that many zero bytes', () => {
    const random = rng(7);
    for (const bytes of [0, 1, 2, 3, 7, 8, 28, 100, 1024, 4099, 65536, 1_000_003]) {
      const c = Math.floor(random() * 2 ** 32) >>> 0;
      expect(shiftZeros(c, bytes)).toBe(rawBitwise(c, new Uint8Array(bytes)));
      expect(shiftZeros(c, bytes, false)).toBe(rawBitwise(c, new Uint8Array(bytes)));
    }
  });

  it('passes when every payload matches, whatever lies between them (zeroed, never a payload)', () => {
    const check = new SpanCrcCheck();
    for (let seed = 1; seed <= 40; seed++) {
      const l = layout(seed, 1 + (seed % 50), seed % 3 === 0 ? 3000 : 300, 64);
      const copies = l.payloads.map((p) => Buffer.from(l.buf.subarray(p.at, p.at + p.length)));
      expect(checkAll(check, l), `seed ${seed}`).toBe(true);
      expect(check.firstMismatch(l.buf, asRefs(l))).toBe(-1);
      l.payloads.forEach((p, k) => expect(Buffer.from(l.buf.subarray(p.at, p.at + p.length))).toEqual(copies[k]));
    }
  });

  it('fails when any payload has a flipped bit, and names the first that does', () => {
    const check = new SpanCrcCheck();
    for (let seed = 1; seed <= 40; seed++) {
      const l = layout(seed, 2 + (seed % 30), 500, 40);
      const random = rng(seed * 31);
      const candidates = l.payloads.map((p, k) => [p, k] as const).filter(([p]) => p.length > 0);
      const [victim, index] = candidates[Math.floor(random() * candidates.length)]!;
      l.buf[victim.at + Math.floor(random() * victim.length)] ^= 1 << Math.floor(random() * 8);
      expect(checkAll(check, l), `seed ${seed}`).toBe(false);
      expect(check.firstMismatch(l.buf, asRefs(l))).toBe(index);
    }
  });

  it('fails when a stored checksum is wrong, also past the lengths it keeps whole', () => {
    const check = new SpanCrcCheck();
    // Over 64 distinct strides: later ones compose from powers of two instead of a kept map.
    const l = layout(99, 400, 2000, 200);
    expect(checkAll(check, l)).toBe(true);
    l.payloads[350]!.crc ^= 0x80;
    expect(checkAll(check, l)).toBe(false);
    expect(check.firstMismatch(l.buf, asRefs(l))).toBe(350);
  });

  it('an empty check passes; empty payloads count as payloads', () => {
    const check = new SpanCrcCheck();
    check.reset();
    expect(check.matches(new Uint8Array(4))).toBe(true);
    const buf = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    check.add(buf, 2, 0, 0);
    check.add(buf, 5, 3, crc32(buf, 5, 8));
    expect(check.matches(buf)).toBe(true);
    check.reset();
    check.add(buf, 2, 0, 1); // an empty payload's CRC is 0
    expect(check.matches(buf)).toBe(false);
  });
});
