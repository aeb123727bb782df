import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BLOCK_BYTES,
  DEFAULT_MAX_BATCH_ENTRIES,
  DEFAULT_MAX_ENTRY_BYTES,
  DEFAULT_SEGMENT_BYTES,
  MAX_BATCH_PAYLOAD_BYTES,
  MAX_ENTRY_BYTES_LIMIT,
  MAX_TOPIC_BYTES,
  checkBatch,
  checkEntrySize,
  encodeTopic,
  toEntryBytes,
  validateSizing,
} from '../../src/storage/limits.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const MiB = 1024 * 1024;

describe('documented bounds (FORMAT §10)', () => {
  it('have the documented values', () => {
    expect(MAX_TOPIC_BYTES).toBe(4096);
    expect(DEFAULT_MAX_ENTRY_BYTES).toBe(64 * MiB);
    expect(MAX_ENTRY_BYTES_LIMIT).toBe(1024 * MiB);
    expect(DEFAULT_MAX_BATCH_ENTRIES).toBe(2000);
    expect(MAX_BATCH_PAYLOAD_BYTES).toBe(1024 * MiB);
    expect(DEFAULT_SEGMENT_BYTES).toBe(64 * MiB);
    expect(DEFAULT_BLOCK_BYTES).toBe(MiB);
  });
});

describe('encodeTopic', () => {
  it('returns the UTF-8 bytes of names from 1 to 4096 bytes', () => {
    expect([...encodeTopic('a')]).toEqual([0x61]);
    expect(Buffer.from(encodeTopic('é😀')).toString('utf8')).toBe('é😀');
    expect(encodeTopic('x'.repeat(4096))).toHaveLength(4096);
    expect(encodeTopic('é'.repeat(2048))).toHaveLength(4096);
    expect(encodeTopic('../../etc/passwd\0')).toHaveLength(17);
  });

  it('rejects non-strings, empty, over-long (in bytes) and ill-formed names with ERR_INVALID_ARGUMENT', () => {
    for (const bad of [
      undefined,
      null,
      1,
      {},
      Buffer.from('a'),
      '',
      'x'.repeat(4097),
      'é'.repeat(2049),
      '\ud800',
      'a\udc00b',
      '\udc00\ud800',
    ]) {
      expectWalError(() => encodeTopic(bad), 'ERR_INVALID_ARGUMENT');
    }
    expect(expectWalError(() => encodeTopic('é'.repeat(2049)), 'ERR_INVALID_ARGUMENT').details).toMatchObject({
      actual: 4098,
      limit: 4096,
    });
  });
});

describe('entries', () => {
  it('toEntryBytes passes Uint8Array and Buffer through and encodes strings as UTF-8', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(toEntryBytes(bytes)).toBe(bytes);
    const buf = Buffer.from('hey');
    expect(toEntryBytes(buf)).toBe(buf);
    expect(Buffer.from(toEntryBytes('héllo')).toString('utf8')).toBe('héllo');
    expect(toEntryBytes('')).toHaveLength(0);
    expect(toEntryBytes(new Uint8Array(0))).toHaveLength(0);
  });

  it('toEntryBytes rejects other types, ill-formed strings and detached buffers with ERR_INVALID_ARGUMENT', () => {
    for (const bad of [
      undefined,
      null,
      5,
      {},
      [1, 2],
      new ArrayBuffer(4),
      new Uint16Array(2),
      new DataView(new ArrayBuffer(2)),
      'a\ud800',
    ]) {
      expectWalError(() => toEntryBytes(bad), 'ERR_INVALID_ARGUMENT');
    }
    const detached = new Uint8Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expectWalError(() => toEntryBytes(detached), 'ERR_INVALID_ARGUMENT');
  });

  it('checkEntrySize throws ERR_TOO_LARGE above the maximum only', () => {
    expect(() => checkEntrySize(100, 100)).not.toThrow();
    expect(expectWalError(() => checkEntrySize(101, 100), 'ERR_TOO_LARGE').details).toMatchObject({
      actual: 101,
      limit: 100,
    });
  });

  it('checkBatch validates every entry and the entry count, returning the bytes', () => {
    expect(checkBatch([], 2)).toEqual([]);
    const out = checkBatch(['ab', Buffer.from([9])], 2);
    expect(out.map((b) => [...b])).toEqual([[0x61, 0x62], [9]]);
    expectWalError(() => checkBatch(['a', 'b', 'c'], 2), 'ERR_TOO_LARGE');
    expectWalError(() => checkBatch(['ok', 'way too long'], 5, 4), 'ERR_TOO_LARGE');
    for (const bad of ['abc', null, { length: 1 }, new Set(['a'])])
      expectWalError(() => checkBatch(bad, 5), 'ERR_INVALID_ARGUMENT');
    expectWalError(() => checkBatch(['a', 7], 5), 'ERR_INVALID_ARGUMENT');
  });

  it('checkBatch caps the total payload at 1 GiB', () => {
    // Views of one shared buffer: the limit is checked on lengths, not on copies.
    const shared = new Uint8Array(256 * MiB);
    expect(checkBatch([shared, shared, shared, shared], 10, MAX_ENTRY_BYTES_LIMIT)).toHaveLength(4);
    expectWalError(
      () => checkBatch([shared, shared, shared, shared, new Uint8Array(1)], 10, MAX_ENTRY_BYTES_LIMIT),
      'ERR_TOO_LARGE',
    );
  });
});

describe('validateSizing', () => {
  it('resolves omitted options to their defaults', () => {
    expect(validateSizing({})).toEqual({
      segmentBytes: DEFAULT_SEGMENT_BYTES,
      blockBytes: DEFAULT_BLOCK_BYTES,
      maxEntryBytes: DEFAULT_MAX_ENTRY_BYTES,
      maxBatchEntries: DEFAULT_MAX_BATCH_ENTRIES,
    });
  });

  it('accepts the ends of every range', () => {
    expect(validateSizing({ segmentBytes: 64 * 1024, blockBytes: 4096, maxEntryBytes: 0, maxBatchEntries: 1 })).toEqual(
      {
        segmentBytes: 64 * 1024,
        blockBytes: 4096,
        maxEntryBytes: 0,
        maxBatchEntries: 1,
      },
    );
    expect(
      validateSizing({ segmentBytes: 4 * 1024 * MiB, blockBytes: 64 * MiB, maxEntryBytes: 1024 * MiB }),
    ).toMatchObject({
      segmentBytes: 4 * 1024 * MiB,
      blockBytes: 64 * MiB,
      maxEntryBytes: 1024 * MiB,
    });
  });

  it('rejects NaN, non-integers, non-numbers and out-of-range values with ERR_INVALID_ARGUMENT', () => {
    const bad: Array<Record<string, unknown>> = [
      { segmentBytes: Number.NaN },
      { segmentBytes: 64 * 1024 - 1 },
      { segmentBytes: 4 * 1024 * MiB + 1 },
      { segmentBytes: '1048576' },
      { blockBytes: 4096 * 3 },
      { blockBytes: 2048 },
      { blockBytes: 128 * MiB },
      { blockBytes: 4096.5 },
      { blockBytes: Infinity },
      { segmentBytes: 64 * 1024, blockBytes: 128 * 1024 },
      { maxEntryBytes: -1 },
      { maxEntryBytes: 1024 * MiB + 1 },
      { maxEntryBytes: null },
      { maxBatchEntries: 0 },
      { maxBatchEntries: 2.5 },
      { maxBatchEntries: 10_000_000 },
    ];
    for (const options of bad) expectWalError(() => validateSizing(options), 'ERR_INVALID_ARGUMENT');
  });
});
