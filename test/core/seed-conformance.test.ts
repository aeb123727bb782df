/**
 * The walrus-rust 0.2.0 test tables (reference §5.1, 5.2, 5.3, 5.5, 5.6, 5.7) that fit a
 * single-threaded store. Sizes are scaled down where the seed used tens of MiB, with small
 * blockBytes/segmentBytes so the same rollovers happen. A seed "restart" (drop + new instance,
 * no close) is a crash copy here; a clean restart is close + open.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES_V2 } from '../../src/storage/frame.js';
import { LogStore, type LogStoreOptions, type StoredEntry } from '../../src/storage/log-store.js';
import { sanitizeKey } from '../../src/storage/namespace.js';
import { findEntry, flipBit, overwrite, segmentPaths, zeroRange } from '../helpers/corrupt.js';
import { bytesOf, drain, patterned, peekAll, seqs, textOf, texts } from '../helpers/log-store-reads.js';
import { TmpDirs, crashCopy } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SMALL: Omit<LogStoreOptions, 'dir'> = { fsync: 'none', segmentBytes: 64 * KiB, blockBytes: 4 * KiB };

const tmp = new TmpDirs();
afterEach(() => tmp.removeAll());

function open(dir: string, extra: Omit<LogStoreOptions, 'dir'> = SMALL): LogStore {
  return LogStore.open({ dir, ...extra });
}

/** Close, then open the same directory again. */
function restart(store: LogStore, dir: string, extra?: Omit<LogStoreOptions, 'dir'>): LogStore {
  store.close();
  return open(dir, extra);
}

/** The seed's "drop without close, new instance": open a crash copy. */
function crashRestart(
  store: LogStore,
  dir: string,
  extra?: Omit<LogStoreOptions, 'dir'>,
): { store: LogStore; dir: string } {
  const copy = crashCopy(dir, tmp);
  store.close();
  return { store: open(copy, extra), dir: copy };
}

function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array | string): void {
  expect(actual).toBeDefined();
  const a = bytesOf(actual!);
  const e = bytesOf(expected);
  expect(a.byteLength).toBe(e.byteLength);
  expect(a.equals(e)).toBe(true);
}

const DATA_PATTERNS: Record<string, (size: number) => Buffer> = {
  zeros: (n) => Buffer.alloc(n, 0),
  ones: (n) => Buffer.alloc(n, 0xff),
  alternating: (n) => Buffer.from(Array.from({ length: n }, (_, i) => (i % 2 ? 0xaa : 0x55))),
  sequential: (n) => Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff)),
  reverse: (n) => Buffer.from(Array.from({ length: n }, (_, i) => 255 - (i & 0xff))),
  lcg: (n) => {
    let state = 12345;
    return Buffer.from(
      Array.from({ length: n }, () => {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        return state >>> 16;
      }),
    );
  },
};

describe('seed §5.1 tests/unit.rs', () => {
  it('large_entry_forces_block_seal: entries larger than a block read back in order, before and after restart', () => {
    const dir = tmp.make();
    let store = open(dir);
    const big = [0, 1, 2].map((i) => patterned(9 * KiB, i));
    for (const data of big) store.append('big', data);
    const check = (s: LogStore) => peekAll(s, 'big').forEach((e, i) => expectBytes(e.data, big[i]!));
    check(store);
    store = restart(store, dir);
    expect(peekAll(store, 'big')).toHaveLength(3);
    check(store);
    store.close();
  });

  it('basic_roundtrip_single_topic / multi_topic / topic_isolation', () => {
    const store = open(tmp.make());
    store.append('a', 'a1');
    store.append('b', 'b1');
    store.append('a', 'a2');
    expect(texts([store.readNext('a')!])).toEqual(['a1']);
    expect(texts(drain(store, 'b'))).toEqual(['b1']);
    expect(texts(drain(store, 'a'))).toEqual(['a2']);
    expect(store.readNext('a')).toBeNull();
    store.close();
  });

  it('persists_read_offsets_across_restart (strictly-at-once, read 1 of 2)', () => {
    const dir = tmp.make();
    const store = open(dir);
    store.append('t', 'first');
    store.append('t', 'second');
    expect(texts([store.readNext('t')!])).toEqual(['first']);
    const crashed = crashRestart(store, dir);
    expect(texts(drain(crashed.store, 't'))).toEqual(['second']);
    crashed.store.close();
  });

  it('checksum_corruption_is_detected_via_public_api: a flipped payload byte is never returned', () => {
    const dir = tmp.make();
    const store = open(dir);
    store.append('t', 'precious payload');
    store.close();
    const hit = findEntry(dir, 't', 0);
    flipBit(hit.path, hit.offset + FRAME_HEADER_BYTES_V2 + 3, 1);
    const again = open(dir);
    expect(again.readNext('t')).toBeNull();
    again.close();
  });

  it('read_next_without_checkpoint_does_not_advance', () => {
    const store = open(tmp.make());
    store.append('t', 'x');
    store.append('t', 'y');
    expect(texts([store.readNext('t', { checkpoint: false })!])).toEqual(['x']);
    expect(texts([store.readNext('t', { checkpoint: false })!])).toEqual(['x']);
    expect(texts([store.readNext('t')!, store.readNext('t')!])).toEqual(['x', 'y']);
    expect(store.readNext('t')).toBeNull();
    store.close();
  });

  it('stress_many_topics_with_validation: 1000 topics × 100 entries survive a restart exactly', () => {
    const dir = tmp.make();
    let store = open(dir, { fsync: 'none' });
    for (let i = 0; i < 100; i++) for (let t = 0; t < 1000; t++) store.append(`topic_${t}`, `t${t}:e${i}`);
    store = restart(store, dir, { fsync: 'none' });
    expect(store.topics()).toHaveLength(1000);
    for (let t = 0; t < 1000; t++) {
      const topic = `topic_${t}`;
      const entries = store.batchRead(topic, { maxBytes: 1 << 20 });
      expect(entries.length).toBe(100);
      for (let i = 0; i < 100; i++) {
        if (textOf(entries[i]!) !== `t${t}:e${i}` || entries[i]!.seq !== i)
          throw new Error(`${topic}[${i}] is ${textOf(entries[i]!)}`);
      }
      expect(store.readNext(topic)).toBeNull();
    }
    store.close();
  });

  it('stress_rapid_write_read_cycles: 10,000 alternating append/read cycles', () => {
    const store = open(tmp.make());
    for (let i = 0; i < 10_000; i++) {
      const data = patterned(i % 517, i);
      store.append('cycle', data);
      const entry = store.readNext('cycle');
      if (!entry || !bytesOf(entry.data).equals(data) || entry.seq !== i) throw new Error(`cycle ${i} read back wrong`);
    }
    expect(store.readNext('cycle')).toBeNull();
    store.close();
  });

  const BOUNDARY_SIZES = [0, 1, 63, 64, 65, 1023, 1024, 1025, 65535, 65536, 65537, MiB - 1, MiB, MiB + 1];

  for (const blockBytes of [MiB, 4 * KiB]) {
    it(`stress_boundary_conditions with blockBytes ${blockBytes}: sizes 0 … 1 MiB+1 round-trip, also after restart`, () => {
      const dir = tmp.make();
      const sizing = { fsync: 'none', blockBytes, segmentBytes: Math.max(64 * KiB, blockBytes) } as const;
      let store = open(dir, sizing);
      for (const size of BOUNDARY_SIZES) store.append(`size_${size}`, patterned(size, size));
      store.append('after', 'still here');
      for (const size of BOUNDARY_SIZES) expectBytes(peekAll(store, `size_${size}`)[0]?.data, patterned(size, size));
      store = restart(store, dir, sizing);
      for (const size of BOUNDARY_SIZES) {
        const entries = drain(store, `size_${size}`);
        expect(entries).toHaveLength(1);
        expectBytes(entries[0]!.data, patterned(size, size));
      }
      expect(texts(drain(store, 'after'))).toEqual(['still here']);
      store.close();
    });
  }

  it('stress_data_integrity_patterns: zeros, 0xFF, alternating, sequential, reverse, LCG (1000 B)', () => {
    const dir = tmp.make();
    let store = open(dir);
    for (const make of Object.values(DATA_PATTERNS)) store.append('patterns', make(1000));
    store = restart(store, dir);
    const entries = drain(store, 'patterns');
    Object.values(DATA_PATTERNS).forEach((make, i) => expectBytes(entries[i]?.data, make(1000)));
    store.close();
  });

  it('stress_concurrent_topic_validation: 50 topics × 200 interleaved rounds keep per-topic order', () => {
    const store = open(tmp.make());
    for (let round = 0; round < 200; round++) for (let t = 0; t < 50; t++) store.append(`ct_${t}`, `${t}/${round}`);
    for (let t = 0; t < 50; t++) {
      expect(texts(drain(store, `ct_${t}`))).toEqual(Array.from({ length: 200 }, (_, r) => `${t}/${r}`));
    }
    store.close();
  });

  it('stress_extreme_topic_names: dotted, dashed, unicode and long names all work (no tolerated errors)', () => {
    const names = [
      'a.b.c',
      'a-b-c',
      'with space',
      'ünïcødé',
      '日本語トピック',
      '🦀🐳',
      'x'.repeat(38),
      'slash/and\\back',
      '..',
      '.',
    ];
    const dir = tmp.make();
    let store = open(dir);
    names.forEach((name, i) => store.append(name, `entry ${i}`));
    store = restart(store, dir);
    names.forEach((name, i) => expect(texts(drain(store, name))).toEqual([`entry ${i}`]));
    expect([...store.topics()].sort()).toEqual([...names].sort());
    store.close();
  });

  it('walrus_empty_topic_read and nonexistent topics: null, and other topics undisturbed', () => {
    const store = open(tmp.make());
    expect(store.readNext('nope')).toBeNull();
    expect(store.batchRead('nope', { maxBytes: 100 })).toEqual([]);
    expect(store.count('nope')).toBe(0);
    store.append('real', 'r');
    expect(store.readNext('nope2')).toBeNull();
    expect(texts(drain(store, 'real'))).toEqual(['r']);
    store.close();
  });

  it('walrus_zero_length_entry: an empty payload is an empty entry followed by the next one', () => {
    const dir = tmp.make();
    let store = open(dir);
    store.append('z', new Uint8Array(0));
    store.append('z', '');
    store.append('z', 'next');
    store = restart(store, dir);
    const entries = drain(store, 'z');
    expect(entries.map((e) => e.data.byteLength)).toEqual([0, 0, 4]);
    expect(seqs(entries)).toEqual([0, 1, 2]);
    store.close();
  });

  it('walrus_concurrent_topics_different_patterns: 100 KiB entries and 1-byte entries stay independent', () => {
    const store = open(tmp.make());
    for (let i = 0; i < 10; i++) {
      store.append('huge', patterned(100 * KiB, i));
      store.append('tiny', Uint8Array.of(i));
    }
    drain(store, 'huge').forEach((e, i) => expectBytes(e.data, patterned(100 * KiB, i)));
    drain(store, 'tiny').forEach((e, i) => expectBytes(e.data, Uint8Array.of(i)));
    store.close();
  });

  it('walrus_handles_invalid_data_gracefully: 0xFFFF over a header does not break open or reads', () => {
    const dir = tmp.make();
    const store = open(dir);
    for (let i = 0; i < 5; i++) store.append('t', `e${i}`);
    store.close();
    const hit = findEntry(dir, 't', 2);
    overwrite(hit.path, hit.offset, Uint8Array.of(0xff, 0xff));
    const again = open(dir);
    expect(texts(drain(again, 't'))).toEqual(['e0', 'e1']);
    again.close();
  });

  it('walrus_many_small_entries: 1000 small entries in order, then null', () => {
    const store = open(tmp.make());
    for (let i = 0; i < 1000; i++) store.append('small', `s${i}`);
    expect(texts(drain(store, 'small'))).toEqual(Array.from({ length: 1000 }, (_, i) => `s${i}`));
    store.close();
  });
});

describe('seed §5.2 tests/integration.rs', () => {
  it('integration_binary_data and utf8 strings on several topics', () => {
    const dir = tmp.make();
    let store = open(dir);
    const binary = Uint8Array.of(0, 127, 128, 255, 1, 254, 0, 0);
    const utf8 = ['héllo', 'Здравствуйте', '你好', '🙂 emoji', 'plain'];
    store.append('bin', binary);
    utf8.forEach((s, i) => store.append(`utf8_${i}`, s));
    store = restart(store, dir);
    expectBytes(store.readNext('bin')?.data, binary);
    utf8.forEach((s, i) => expect(texts(drain(store, `utf8_${i}`))).toEqual([s]));
    store.close();
  });

  it('integration_medium_sized_data and mixed_size_stress (1 B … 1 MB in ×10 steps)', () => {
    const dir = tmp.make();
    let store = open(dir);
    const sizes = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000];
    sizes.forEach((size) => store.append('mixed', patterned(size, size)));
    [KiB, 10 * KiB, 100 * KiB].forEach((size) => store.append(`medium_${size}`, patterned(size, 1)));
    store = restart(store, dir);
    drain(store, 'mixed').forEach((e, i) => expectBytes(e.data, patterned(sizes[i]!, sizes[i]!)));
    [KiB, 10 * KiB, 100 * KiB].forEach((size) =>
      expectBytes(store.readNext(`medium_${size}`)?.data, patterned(size, 1)),
    );
    store.close();
  });

  it('integration_interleaved_write_read: reads between later appends keep order', () => {
    const store = open(tmp.make());
    const got: string[] = [];
    for (let i = 0; i < 20; i++) {
      store.append('iw', `m${i}`);
      if (i % 3 === 2) got.push(...texts(drain(store, 'iw')));
    }
    got.push(...texts(drain(store, 'iw')));
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    store.close();
  });

  it('integration_persistence_stress_with_validation: 100 topics × 50, read 25 each, restart → the other 25', () => {
    const dir = tmp.make();
    let store = open(dir);
    for (let i = 0; i < 50; i++) for (let t = 0; t < 100; t++) store.append(`p_${t}`, `${t}:${i}`);
    for (let t = 0; t < 100; t++) for (let i = 0; i < 25; i++) store.readNext(`p_${t}`);
    const crashed = crashRestart(store, dir);
    store = crashed.store;
    for (let t = 0; t < 100; t++)
      expect(texts(drain(store, `p_${t}`))).toEqual(Array.from({ length: 25 }, (_, i) => `${t}:${25 + i}`));
    store.close();
  });

  it('exactly_once_delivery_guarantee: read 5 of 10, restart → exactly 5…9', () => {
    const dir = tmp.make();
    const store = open(dir, { ...SMALL, readConsistency: 'strictly-at-once' });
    for (let i = 0; i < 10; i++) store.append('eo', `m${i}`);
    for (let i = 0; i < 5; i++) store.readNext('eo');
    const crashed = crashRestart(store, dir, { ...SMALL, readConsistency: 'strictly-at-once' });
    expect(seqs(drain(crashed.store, 'eo'))).toEqual([5, 6, 7, 8, 9]);
    crashed.store.close();
  });

  it("integration_extreme_topic_count (scaled): 500 topics × 1 entry under fsync 'each', read in scrambled order", () => {
    const dir = tmp.make();
    let store = open(dir, { ...SMALL, fsync: 'each' });
    for (let t = 0; t < 500; t++) store.append(`x_${t}`, `v${t}`);
    store = restart(store, dir, { ...SMALL, fsync: 'each' });
    for (let k = 0; k < 500; k++) {
      const t = (k * 337) % 500;
      expect(texts(drain(store, `x_${t}`))).toEqual([`v${t}`]);
    }
    store.close();
  });

  it('integration_memory_pressure_test (scaled): 16 topics × 1 MiB patterned entries', () => {
    const dir = tmp.make();
    let store = open(dir, { fsync: 'none' });
    for (let t = 0; t < 16; t++) store.append(`mp_${t}`, patterned(MiB, t));
    store = restart(store, dir, { fsync: 'none' });
    for (let t = 0; t < 16; t++) expectBytes(store.readNext(`mp_${t}`)?.data, patterned(MiB, t));
    store.close();
  });

  it('integration_file_rollover_stress (scaled): entries larger than a segment each round-trip', () => {
    const dir = tmp.make();
    let store = open(dir);
    for (let i = 0; i < 5; i++) store.append('roll', patterned(100 * KiB, i));
    store.append('roll', 'small after');
    expect(segmentPaths(dir).length).toBeGreaterThanOrEqual(5);
    store = restart(store, dir);
    const entries = drain(store, 'roll');
    expect(entries).toHaveLength(6);
    for (let i = 0; i < 5; i++) expectBytes(entries[i]!.data, patterned(100 * KiB, i));
    expect(textOf(entries[5]!)).toBe('small after');
    store.close();
  });
});

describe('seed §5.3 tests/configuration.rs', () => {
  it('test_fsync_schedule_sync_each and intervalMs: appends read back in order', () => {
    for (const fsync of ['each', { intervalMs: 1000 }] as const) {
      const store = open(tmp.make(), { ...SMALL, fsync });
      ['1', '2', '3'].forEach((s) => store.append('f', s));
      expect(texts(drain(store, 'f'))).toEqual(['1', '2', '3']);
      store.close();
    }
  });

  it('test_constructors: every consistency/fsync combination accepts appends', () => {
    const consistencies = [
      'strictly-at-once',
      { atLeastOnce: { persistEvery: 5 } },
      { atLeastOnce: { persistEvery: 2 } },
    ] as const;
    const modes = ['each', 'none', { intervalMs: 3000 }] as const;
    for (const readConsistency of consistencies) {
      for (const fsync of modes) {
        const store = open(tmp.make(), { readConsistency, fsync });
        expect(store.append('c', 'ok')).toBe(0);
        store.close();
      }
    }
  });

  it('test_crash_recovery_strictly_at_once: read 2 of 5, restart → 3, 4, 5', () => {
    const dir = tmp.make();
    const store = open(dir);
    for (let i = 1; i <= 5; i++) store.append('s', `${i}`);
    store.readNext('s');
    store.readNext('s');
    const crashed = crashRestart(store, dir);
    expect(texts(drain(crashed.store, 's'))).toEqual(['3', '4', '5']);
    crashed.store.close();
  });

  it('test_crash_recovery_at_least_once: ALO{3}, read 2 of 7, restart → replays at most 3, then continues in order', () => {
    const alo = { ...SMALL, readConsistency: { atLeastOnce: { persistEvery: 3 } } } as const;
    const dir = tmp.make();
    let store = open(dir, alo);
    for (let i = 1; i <= 7; i++) store.append('alo', `${i}`);
    expect(texts([store.readNext('alo')!, store.readNext('alo')!])).toEqual(['1', '2']);
    const crashed = crashRestart(store, dir, alo);
    store = crashed.store;
    const replay = texts(drain(store, 'alo'));
    expect(replay.length).toBeGreaterThanOrEqual(5);
    expect(replay.length).toBeLessThanOrEqual(5 + 3);
    expect(replay).toEqual(['1', '2', '3', '4', '5', '6', '7'].slice(7 - replay.length));
    store = restart(store, crashed.dir, alo);
    expect(store.readNext('alo')).toBeNull();
    store.close();
  });

  it('test_multiple_topics_different_consistency_behavior: ALO{2}, one read on each of two topics, bounded replay on both', () => {
    const alo = { ...SMALL, readConsistency: { atLeastOnce: { persistEvery: 2 } } } as const;
    const dir = tmp.make();
    const store = open(dir, alo);
    for (const t of ['t1', 't2']) for (let i = 0; i < 3; i++) store.append(t, `${t}-${i}`);
    store.readNext('t1');
    store.readNext('t2');
    const crashed = crashRestart(store, dir, alo);
    for (const t of ['t1', 't2']) {
      const first = crashed.store.readNext(t)!.seq;
      expect(first === 0 || first === 1).toBe(true);
    }
    crashed.store.close();
  });

  it('test_persist_every_zero_clamping: ALO{0} behaves as persist-every-1', () => {
    const alo0 = { ...SMALL, readConsistency: { atLeastOnce: { persistEvery: 0 } } } as const;
    const dir = tmp.make();
    const store = open(dir, alo0);
    store.append('z', 'first');
    store.append('z', 'second');
    store.readNext('z');
    const crashed = crashRestart(store, dir, alo0);
    expect(texts(drain(crashed.store, 'z'))).toEqual(['second']);
    crashed.store.close();
  });

  it('test_file_state_tracking: reading does not by itself delete files; the rest reads in order', () => {
    const dir = tmp.make();
    const store = open(dir);
    for (let i = 0; i < 50; i++) store.append('fs', `${i}-${'f'.repeat(3000)}`);
    const files = segmentPaths(dir);
    expect(files.length).toBeGreaterThan(1);
    for (let i = 0; i < 25; i++) store.readNext('fs');
    expect(segmentPaths(dir)).toEqual(files);
    expect(seqs(drain(store, 'fs'))).toEqual(Array.from({ length: 25 }, (_, i) => 25 + i));
    store.close();
  });

  it('key_names_are_sanitized_for_directories (walrus rule)', () => {
    expect(sanitizeKey('prod/payments::v1')).toBe('prod_payments__v1');
    expect(sanitizeKey('abc-DEF_1.2')).toBe('abc-DEF_1.2');
    expect(sanitizeKey('a😀b')).toBe('a_b');
    expect(sanitizeKey('///')).toBe(`ns_${fnv1a64Hex('///')}`);
    expect(sanitizeKey('ü')).toBe(`ns_${fnv1a64Hex('ü')}`);
    expect(sanitizeKey('k'.repeat(200))).toBe('k'.repeat(200));
    for (const bad of ['', '.', '..', 'k'.repeat(201)]) expectWalError(() => sanitizeKey(bad), 'ERR_INVALID_ARGUMENT');
  });
});

function fnv1a64Hex(key: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(key, 'utf8')) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash.toString(16);
}

describe('seed §5.5 tests/batch_writes.rs', () => {
  it('test_batch_write_basic / atomicity_with_reader / batch_then_regular / multiple_sequential_batches', () => {
    const store = open(tmp.make());
    store.append('b', 'before');
    expect(store.batchAppend('b', ['x', 'y', 'z'])).toEqual([1, 2, 3]);
    store.append('b', 'after');
    for (let k = 0; k < 4; k++) store.batchAppend('b', [`${k}.0`, `${k}.1`, `${k}.2`]);
    expect(texts(drain(store, 'b'))).toEqual([
      'before',
      'x',
      'y',
      'z',
      'after',
      ...[0, 1, 2, 3].flatMap((k) => [`${k}.0`, `${k}.1`, `${k}.2`]),
    ]);
    store.close();
  });

  it('test_batch_size_limit_enforcement: over maxBatchEntries or an oversized member → rejected, nothing written', () => {
    const dir = tmp.make();
    let store = open(dir, { ...SMALL, maxEntryBytes: 8 * KiB });
    store.append('lim', 'kept');
    expectWalError(
      () =>
        store.batchAppend(
          'lim',
          Array.from({ length: 2001 }, () => 'e'),
        ),
      'ERR_TOO_LARGE',
    );
    expectWalError(() => store.batchAppend('lim', ['ok', patterned(8 * KiB + 1), 'ok']), 'ERR_TOO_LARGE');
    expect(store.count('lim')).toBe(1);
    expect(store.batchAppend('lim', ['n1', 'n2'])).toEqual([1, 2]);
    store = restart(store, dir, { ...SMALL, maxEntryBytes: 8 * KiB });
    expect(texts(drain(store, 'lim'))).toEqual(['kept', 'n1', 'n2']);
    store.close();
  });

  it('test_empty_batch: ok, returns no sequence numbers, nothing readable', () => {
    const store = open(tmp.make());
    expect(store.batchAppend('empty', [])).toEqual([]);
    expect(store.readNext('empty')).toBeNull();
    expect(store.count('empty')).toBe(0);
    expect(store.append('empty', 'first')).toBe(0);
    store.close();
  });

  it('test_batch_spans_multiple_blocks / varying_entry_sizes / spanning_blocks_exact_data', () => {
    const dir = tmp.make();
    let store = open(dir);
    const batch1 = Array.from({ length: 100 }, (_, i) => patterned(5 * KiB, i));
    const batch2 = [100, 10 * KiB, 70 * KiB, 500, 3 * KiB].map((size, i) => patterned(size, 200 + i));
    store.batchAppend('span', batch1);
    store.batchAppend('span', batch2);
    store = restart(store, dir);
    const entries = drain(store, 'span');
    expect(entries).toHaveLength(105);
    [...batch1, ...batch2].forEach((data, i) => expectBytes(entries[i]!.data, data));
    store.close();
  });

  it('test_batch_single_entry and zero-length entries inside a batch keep their places', () => {
    const dir = tmp.make();
    let store = open(dir);
    store.batchAppend('one', ['only']);
    store.batchAppend('zl', ['a', '', new Uint8Array(0), 'b', '']);
    store = restart(store, dir);
    expect(texts(drain(store, 'one'))).toEqual(['only']);
    expect(texts(drain(store, 'zl'))).toEqual(['a', '', '', 'b', '']);
    store.close();
  });

  it('test_integrity_batch_write_sequential_numbers / random_patterns / multiple_batches_sequential', () => {
    const dir = tmp.make();
    let store = open(dir);
    const numbered = Array.from({ length: 64 }, (_, i) => {
      const b = Buffer.alloc(8 + 12);
      b.writeBigUInt64LE(BigInt(i));
      b.write(`entry-${String(i).padStart(6, '0')}`, 8);
      return b;
    });
    const random = Array.from({ length: 50 }, (_, i) => DATA_PATTERNS.lcg!(1000 + ((i * 137) % 5000)));
    store.batchAppend('num', numbered);
    store.batchAppend('rnd', random);
    for (let b = 0; b < 6; b++)
      store.batchAppend(
        'multi',
        Array.from({ length: 5 }, (_, e) => `${b}:${e}`),
      );
    store = restart(store, dir);
    drain(store, 'num').forEach((e, i) => {
      expect(bytesOf(e.data).readBigUInt64LE(0)).toBe(BigInt(i));
      expectBytes(e.data, numbered[i]!);
    });
    drain(store, 'rnd').forEach((e, i) => expectBytes(e.data, random[i]!));
    expect(texts(drain(store, 'multi'))).toEqual(Array.from({ length: 30 }, (_, k) => `${Math.floor(k / 5)}:${k % 5}`));
    store.close();
  });

  it('test_chaos_batch_write_crash_recovery / integrity_batch_after_crash_recovery', () => {
    const dir = tmp.make();
    const store = open(dir, { ...SMALL, fsync: 'each' });
    const magic = Buffer.from('deadbeefcafebabe', 'hex');
    const batch = Array.from({ length: 12 }, (_, i) => Buffer.concat([magic, patterned(4 * KiB - 8, i)]));
    store.batchAppend('crash', batch);
    const crashed = crashRestart(store, dir, { ...SMALL, fsync: 'each' });
    drain(crashed.store, 'crash').forEach((e, i) => expectBytes(e.data, batch[i]!));
    crashed.store.batchAppend('crash', ['n1', 'n2']);
    expect(texts(drain(crashed.store, 'crash'))).toEqual(['n1', 'n2']);
    crashed.store.close();
  });

  it('test_chaos_sequential_batches_with_crashes: 5 crashed instances each add a batch of 2', () => {
    let dir = tmp.make();
    for (let k = 0; k < 5; k++) {
      const store = open(dir);
      store.batchAppend('seq', [`${k}a`, `${k}b`]);
      const copy = crashCopy(dir, tmp);
      store.close();
      dir = copy;
    }
    const store = open(dir);
    expect(texts(drain(store, 'seq'))).toEqual([0, 1, 2, 3, 4].flatMap((k) => [`${k}a`, `${k}b`]));
    expect(store.readNext('seq')).toBeNull();
    store.close();
  });
});

describe('seed §5.6 tests/batch_read.rs', () => {
  it('test_batch_read_exact_budget_boundary: 100-byte entries, budgets 300→3, 500→5, 1→1, 350→3', () => {
    const store = open(tmp.make());
    for (let i = 0; i < 20; i++) store.append('bb', patterned(100, i));
    for (const [budget, expected] of [
      [300, 3],
      [500, 5],
      [1, 1],
      [350, 3],
    ] as const) {
      expect(store.batchRead('bb', { maxBytes: budget, checkpoint: false })).toHaveLength(expected);
      expect(store.batchRead('bb', { maxBytes: budget })).toHaveLength(expected);
    }
    expect(seqs(store.batchRead('bb', { maxBytes: 10_000 }))).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
    store.close();
  });

  it('test_batch_read_stops_mid_block: 100 × 10 B with maxBytes 100 → 10 per call', () => {
    const store = open(tmp.make());
    for (let i = 0; i < 100; i++) store.append('mid', `e${String(i).padStart(9, '0')}`);
    for (let call = 0; call < 10; call++) {
      expect(seqs(store.batchRead('mid', { maxBytes: 100 }))).toEqual(
        Array.from({ length: 10 }, (_, i) => call * 10 + i),
      );
    }
    expect(store.batchRead('mid', { maxBytes: 100 })).toEqual([]);
    store.close();
  });

  it('test_batch_read_spans_multiple_blocks / crosses_sealed_to_tail: one call returns sealed and tail entries', () => {
    const dir = tmp.make();
    let store = open(dir);
    for (let i = 0; i < 3; i++) store.append('sp', patterned(40 * KiB, i));
    store = restart(store, dir);
    for (let i = 0; i < 10; i++) store.append('sp', `tail${i}`);
    const got = store.batchRead('sp', { maxBytes: 10 * MiB });
    expect(got).toHaveLength(13);
    for (let i = 0; i < 3; i++) expectBytes(got[i]!.data, patterned(40 * KiB, i));
    expect(texts(got.slice(3))).toEqual(Array.from({ length: 10 }, (_, i) => `tail${i}`));
    expect(store.batchRead('sp', { maxBytes: 10 * MiB })).toEqual([]);
    store.close();
  });

  it('test_batch_read_without_checkpoint: two peeks return the same 3, a checkpointed read returns them, then empty', () => {
    const store = open(tmp.make());
    ['p', 'q', 'r'].forEach((s) => store.append('nc', s));
    expect(texts(store.batchRead('nc', { maxBytes: 100, checkpoint: false }))).toEqual(['p', 'q', 'r']);
    expect(texts(store.batchRead('nc', { maxBytes: 100, checkpoint: false }))).toEqual(['p', 'q', 'r']);
    expect(texts(store.batchRead('nc', { maxBytes: 100 }))).toEqual(['p', 'q', 'r']);
    expect(store.batchRead('nc', { maxBytes: 100 })).toEqual([]);
    store.close();
  });

  it('test_batch_read_mixed_entry_sizes: 5 B … 200 KiB with a 60 KiB budget cover everything in order', () => {
    const store = open(tmp.make());
    const sizes = Array.from({ length: 20 }, (_, i) => [5, 500, 5 * KiB, 50 * KiB, 200 * KiB][i % 5]!);
    sizes.forEach((size, i) => store.append('mx', patterned(size, i)));
    const got: StoredEntry[] = [];
    for (let calls = 0; calls < 100 && got.length < 20; calls++) {
      const batch = store.batchRead('mx', { maxBytes: 60 * KiB });
      expect(batch.length).toBeGreaterThan(0);
      const total = batch.reduce((sum, e) => sum + e.data.byteLength, 0);
      if (batch.length > 1) expect(total).toBeLessThanOrEqual(60 * KiB);
      got.push(...batch);
    }
    got.forEach((e, i) => expectBytes(e.data, patterned(sizes[i]!, i)));
    expect(got).toHaveLength(20);
    store.close();
  });

  it('test_batch_read_recovery_mid_read: read ≥ 20 of 50 with budget 300, restart → exactly the remainder', () => {
    const dir = tmp.make();
    const store = open(dir);
    for (let i = 0; i < 50; i++) store.append('rm', `rm_${String(i).padStart(4, '0')}-${'m'.repeat(40)}`);
    let read = 0;
    while (read < 20) read += store.batchRead('rm', { maxBytes: 300 }).length;
    const crashed = crashRestart(store, dir);
    expect(seqs(drain(crashed.store, 'rm'))).toEqual(Array.from({ length: 50 - read }, (_, i) => read + i));
    crashed.store.close();
  });

  it('test_batch_read_at_least_once_duplicates: ALO{5}, read ≥ 8 of 25, crash → bounded replay ending at alo_0024', () => {
    const alo = { ...SMALL, readConsistency: { atLeastOnce: { persistEvery: 5 } } } as const;
    const dir = tmp.make();
    const store = open(dir, alo);
    for (let i = 0; i < 25; i++) store.append('alo', `alo_${String(i).padStart(4, '0')}`);
    let read = 0;
    while (read < 8) read += store.batchRead('alo', { maxBytes: 24 }).length;
    const crashed = crashRestart(store, dir, alo);
    const rest = texts(drain(crashed.store, 'alo'));
    expect(read + rest.length).toBeGreaterThanOrEqual(25);
    expect(read + rest.length).toBeLessThanOrEqual(25 + 5);
    expect(rest.at(-1)).toBe('alo_0024');
    crashed.store.close();
  });

  it('test_batch_read_with_zeroed_headers: 384 zeroed bytes at entry 10 of 20 → exactly entries 0…9', () => {
    const dir = tmp.make();
    const store = open(dir);
    for (let i = 0; i < 20; i++) store.append('zh', `zh-${i}-${'z'.repeat(12)}`);
    store.close();
    const hit = findEntry(dir, 'zh', 10);
    zeroRange(hit.path, hit.offset, 384);
    const again = open(dir);
    expect(seqs(again.batchRead('zh', { maxBytes: 1 << 20 }))).toEqual(Array.from({ length: 10 }, (_, i) => i));
    again.close();
  });

  it('test_interleaved_single_and_batch_reads: budget-150 batches and 5 × readNext share one cursor over 100', () => {
    const store = open(tmp.make());
    for (let i = 0; i < 100; i++) store.append('il', `il${String(i).padStart(3, '0')}-${'i'.repeat(20)}`);
    const got: number[] = [];
    while (got.length < 100) {
      got.push(...seqs(store.batchRead('il', { maxBytes: 150 })));
      for (let k = 0; k < 5; k++) {
        const e = store.readNext('il');
        if (e) got.push(e.seq);
      }
    }
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    store.close();
  });

  it('test_rapid_fire_batch_reads: ALO{50}, 1000 entries with budget 64 → exactly 1000 over > 10 calls', () => {
    const store = open(tmp.make(), { ...SMALL, readConsistency: { atLeastOnce: { persistEvery: 50 } } });
    for (let i = 0; i < 1000; i++) store.append('rf', `rf_${String(i).padStart(4, '0')}`);
    let total = 0;
    let calls = 0;
    for (
      let batch = store.batchRead('rf', { maxBytes: 64 });
      batch.length > 0;
      batch = store.batchRead('rf', { maxBytes: 64 })
    ) {
      expect(batch[0]!.seq).toBe(total);
      total += batch.length;
      calls++;
    }
    expect(total).toBe(1000);
    expect(calls).toBeGreaterThan(10);
    store.close();
  });

  it('test_batch_read_respects_entry_cap: two batches of 2000 → reads of 2000, 2000, then 0', () => {
    const dir = tmp.make();
    let store = open(dir);
    for (let b = 0; b < 2; b++)
      store.batchAppend(
        'cap',
        Array.from({ length: 2000 }, (_, i) => `${b}-${i}`),
      );
    store = restart(store, dir);
    const first = store.batchRead('cap', { maxBytes: 1 << 30 });
    const second = store.batchRead('cap', { maxBytes: 1 << 30 });
    expect(first).toHaveLength(2000);
    expect(second).toHaveLength(2000);
    expect(textOf(first[0]!)).toBe('0-0');
    expect(textOf(second[1999]!)).toBe('1-1999');
    expect(store.batchRead('cap', { maxBytes: 1 << 30 })).toEqual([]);
    store.close();
  });
});

describe('seed §5.7 tests/rollback_recovery.rs', () => {
  it('test_zeroed_header_stops_block_scanning: entry 2 zeroed → 0 and 1, then null; new appends readable', () => {
    const dir = tmp.make();
    let store = open(dir);
    for (let i = 0; i < 5; i++) store.append('zb', `zb${i}`);
    store.close();
    expect(segmentPaths(dir)).toHaveLength(1);
    const hit = findEntry(dir, 'zb', 2);
    zeroRange(hit.path, hit.offset, FRAME_HEADER_BYTES_V2);
    store = open(dir);
    expect(texts(drain(store, 'zb'))).toEqual(['zb0', 'zb1']);
    store.append('zb', 'new');
    expect(texts(drain(store, 'zb'))).toEqual(['new']);
    store.close();
  });

  it('test_recovery_preserves_data_before_zeroed_headers: a big entry zeroed → only small_1, new appends work', () => {
    const dir = tmp.make();
    let store = open(dir);
    store.append('zp', 'small_1');
    store.append('zp', patterned(200 * KiB));
    store.append('zp', 'small_2');
    store.close();
    const hit = findEntry(dir, 'zp', 1);
    zeroRange(hit.path, hit.offset, FRAME_HEADER_BYTES_V2);
    store = open(dir);
    expect(texts(drain(store, 'zp'))).toEqual(['small_1']);
    store.append('zp', 'small_3');
    store = restart(store, dir);
    expect(texts(drain(store, 'zp'))).toEqual(['small_3']);
    store.close();
  });
});
