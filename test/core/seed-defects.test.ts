/**
 * Regression tests for the walrus-rust 0.2.0 defects that concern the storage core (reference
 * §7). Each test sets up the situation that triggered the defect in the seed and proves that it
 * does not happen here.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES_V2 } from '../../src/storage/frame.js';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import { LogStore, type LogStoreOptions, type StoredEntry } from '../../src/storage/log-store.js';
import { sanitizeKey } from '../../src/storage/namespace.js';
import { findEntry, flipBit, garbage, locateEntries, segmentPaths, truncateTo } from '../helpers/corrupt.js';
import { bytesOf, drain, patterned, peekAll, seqs, texts } from '../helpers/log-store-reads.js';
import { TmpDirs, crashCopy } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const KiB = 1024;
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SMALL: Omit<LogStoreOptions, 'dir'> = { fsync: 'none', segmentBytes: 64 * KiB, blockBytes: 4 * KiB };

const tmp = new TmpDirs();
afterEach(() => tmp.removeAll());

function open(dir: string, extra: Omit<LogStoreOptions, 'dir'> = SMALL): LogStore {
  return LogStore.open({ dir, ...extra });
}

function crashRestart(
  store: LogStore,
  dir: string,
  extra?: Omit<LogStoreOptions, 'dir'>,
): { store: LogStore; dir: string } {
  const copy = crashCopy(dir, tmp);
  store.close();
  return { store: open(copy, extra), dir: copy };
}

/** A FileIo that fails on demand: writes after `writeBudgetBytes` more bytes, and fsyncs. */
class FaultyIo {
  writeFault: { code: string; writeBudgetBytes: number } | null = null;
  syncFault: string | null = null;
  readonly io: FileIo;

  constructor() {
    const fail = (code: string, syscall: string) =>
      Object.assign(new Error(`${code}: injected by the test`), { code, syscall });
    this.io = {
      ...nodeFileIo,
      pwrite: (fd, data, offset, length, position) => {
        const fault = this.writeFault;
        if (!fault) return nodeFileIo.pwrite(fd, data, offset, length, position);
        if (fault.writeBudgetBytes === 0) throw fail(fault.code, 'write');
        const n = nodeFileIo.pwrite(fd, data, offset, Math.min(length, fault.writeBudgetBytes), position);
        fault.writeBudgetBytes -= n;
        return n;
      },
      fsync: (fd) => {
        if (this.syncFault) throw fail(this.syncFault, 'fsync');
        nodeFileIo.fsync(fd);
      },
      fdatasync: (fd) => {
        if (this.syncFault) throw fail(this.syncFault, 'fdatasync');
        nodeFileIo.fdatasync(fd);
      },
    };
  }
}

describe('seed defects (reference §7) are not reproducible', () => {
  it('B1: polling a caught-up topic with checkpoint, then crashing, does not replay the active segment', () => {
    const dir = tmp.make();
    const store = open(dir);
    for (let i = 0; i < 10; i++) store.append('t', `m${i}`);
    expect(drain(store, 't')).toHaveLength(10);
    for (let i = 0; i < 3; i++) expect(store.readNext('t')).toBeNull();
    expect(store.batchRead('t', { maxBytes: 100 })).toEqual([]);
    const crashed = crashRestart(store, dir);
    expect(crashed.store.count('t')).toBe(0);
    expect(crashed.store.readNext('t')).toBeNull();
    crashed.store.close();
  });

  it('B1: at-least-once (n > 1) tail reads do advance the durable cursor past the block start', () => {
    const alo = { ...SMALL, readConsistency: { atLeastOnce: { persistEvery: 3 } } } as const;
    const dir = tmp.make();
    const store = open(dir, alo);
    for (let i = 0; i < 20; i++) store.append('t', `m${i}`);
    for (let i = 0; i < 20; i++) store.readNext('t');
    store.readNext('t');
    const crashed = crashRestart(store, dir, alo);
    expect(crashed.store.count('t')).toBeLessThanOrEqual(3);
    crashed.store.close();
  });

  it('B3: cursors survive restarts across several epochs, including empty ones, for readNext and batchRead', () => {
    const dir = tmp.make();
    for (let epoch = 0; epoch < 4; epoch++) {
      const store = open(dir);
      for (let i = 0; i < 5; i++) store.append('t', `e${epoch}-${i}`);
      store.close();
      open(dir).close(); // an epoch without writes
    }
    let store = open(dir);
    expect(store.batchRead('t', { maxBytes: 16 })).toHaveLength(4); // entries are 4 bytes each
    for (let i = 0; i < 3; i++) store.readNext('t');
    expect(store.batchRead('t', { maxBytes: 16 })).toHaveLength(4);
    const crashed = crashRestart(store, dir);
    store = crashed.store;
    expect(seqs(store.batchRead('t', { maxBytes: 1 << 20 }))).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19]);
    store.close();
  });

  it('B4: a batch cut anywhere by a crash is invisible as a whole; entries before it stay', () => {
    const base = tmp.make();
    const store = open(base);
    store.append('t', 'before');
    store.batchAppend(
      't',
      Array.from({ length: 6 }, (_, i) => patterned(3 * KiB, i)),
    );
    store.close();
    const frames = locateEntries(base).filter((e) => e.seq >= 1);
    const cuts = frames.flatMap((f) => [f.offset + 10, f.offset + FRAME_HEADER_BYTES_V2 + 100, f.endOffset - 1]);
    for (const cut of cuts) {
      const dir = tmp.make();
      fs.cpSync(base, dir, { recursive: true });
      truncateTo(path.join(dir, path.basename(frames[0]!.path)), cut);
      const again = open(dir);
      expect(texts(peekAll(again, 't'))).toEqual(['before']);
      expect(again.append('t', 'after')).toBe(1);
      again.close();
    }
  });

  for (const [label, writeBudgetBytes] of [
    ['fails outright', 0],
    ['is torn after 5000 bytes', 5000],
  ] as const) {
    it(`B5: a batch whose write ${label} leaves nothing visible and the topic consistent, also after reopen`, () => {
      const faults = new FaultyIo();
      const dir = tmp.make();
      let store = open(dir, { ...SMALL, io: faults.io });
      store.append('t', 'kept-0');
      faults.writeFault = { code: 'ENOSPC', writeBudgetBytes };
      expectWalError(
        () =>
          store.batchAppend(
            't',
            Array.from({ length: 4 }, (_, i) => patterned(3 * KiB, i)),
          ),
        'ERR_DISK_FULL',
      );
      faults.writeFault = null;
      expect(store.count('t')).toBe(1);
      expect(texts(drain(store, 't'))).toEqual(['kept-0']);
      expect(store.append('t', 'kept-1')).toBe(1);
      expect(store.batchAppend('t', ['kept-2', 'kept-3'])).toEqual([2, 3]);
      expect(texts(drain(store, 't'))).toEqual(['kept-1', 'kept-2', 'kept-3']);
      store.close();
      store = open(dir);
      expect(texts(peekAll(store, 't'))).toEqual([]);
      expect(store.append('t', 'kept-4')).toBe(4);
      store.close();
      store = open(dir);
      expect(texts(peekAll(store, 't'))).toEqual(['kept-4']);
      store.close();

      // The same history, unconsumed, reads back whole from a crash copy of a fresh run.
      const fresh = tmp.make();
      const faults2 = new FaultyIo();
      const second = open(fresh, { ...SMALL, io: faults2.io });
      second.append('t', 'kept-0');
      faults2.writeFault = { code: 'ENOSPC', writeBudgetBytes };
      expectWalError(
        () =>
          second.batchAppend(
            't',
            Array.from({ length: 4 }, (_, i) => patterned(3 * KiB, i)),
          ),
        'ERR_DISK_FULL',
      );
      faults2.writeFault = null;
      second.append('t', 'kept-1');
      const crashed = crashRestart(second, fresh);
      expect(texts(peekAll(crashed.store, 't'))).toEqual(['kept-0', 'kept-1']);
      crashed.store.close();
    });
  }

  it('B6: an oversized append fails with ERR_TOO_LARGE and leaves the topic writable, nothing duplicated or lost', () => {
    const dir = tmp.make();
    let store = open(dir, { ...SMALL, maxEntryBytes: 10 * KiB });
    store.append('t', patterned(3900)); // nearly fills block 0, where the seed sealed before failing
    store.append('t', 'a');
    expectWalError(() => store.append('t', patterned(10 * KiB + 1)), 'ERR_TOO_LARGE');
    expectWalError(() => store.batchAppend('t', ['x', patterned(10 * KiB + 1)]), 'ERR_TOO_LARGE');
    expect(store.append('t', 'b')).toBe(2);
    expect(store.append('t', patterned(10 * KiB))).toBe(3);
    expect(seqs(peekAll(store, 't'))).toEqual([0, 1, 2, 3]);
    store.close();
    store = open(dir, { ...SMALL, maxEntryBytes: 10 * KiB });
    const entries = drain(store, 't');
    expect(seqs(entries)).toEqual([0, 1, 2, 3]);
    expect(texts(entries.slice(1, 3))).toEqual(['a', 'b']);
    store.close();
  });

  it('B7: topic names of 25 … 4096 bytes work in single and batch appends and survive restart; 4097 is rejected', () => {
    const lengths = [24, 25, 38, 100, 255, 256, 1000, 4095, 4096];
    const names = [
      ...lengths.map((n) => `${n}:`.padEnd(n, 'n')),
      'é'.repeat(2048), // 4096 bytes of two-byte characters
      '🦀'.repeat(1024), // 4096 bytes of four-byte characters
    ];
    const dir = tmp.make();
    let store = open(dir);
    for (const name of names) {
      store.append(name, 'single');
      store.batchAppend(name, ['batch-1', 'batch-2']);
    }
    for (const tooLong of ['x'.repeat(4097), `${'é'.repeat(2048)}x`]) {
      expectWalError(() => store.append(tooLong, 'no'), 'ERR_INVALID_ARGUMENT');
      expectWalError(() => store.batchAppend(tooLong, ['no']), 'ERR_INVALID_ARGUMENT');
    }
    store.close();
    store = open(dir);
    expect([...store.topics()].sort()).toEqual([...names].sort());
    for (const name of names) expect(texts(drain(store, name))).toEqual(['single', 'batch-1', 'batch-2']);
    store.close();
  });

  it('B9: peeks and repeated visits never make a segment with unread entries reclaimable', () => {
    const dir = tmp.make();
    let store = open(dir);
    for (let i = 0; i < 150; i++) {
      store.append('a', `a${i}-${'x'.repeat(900)}`);
      store.append('b', `b${i}-${'y'.repeat(900)}`);
    }
    for (let round = 0; round < 5; round++) {
      store.batchRead('a', { maxBytes: 1 << 30, checkpoint: false });
      store.batchRead('b', { maxBytes: 50_000, checkpoint: false });
      store.readNext('b', { checkpoint: false });
    }
    drain(store, 'a');
    for (let round = 0; round < 3; round++) expect(store.reclaim()).toEqual([]);
    store.close();
    store = open(dir);
    expect(store.reclaim()).toEqual([]);
    expect(texts(drain(store, 'b'))).toEqual(Array.from({ length: 150 }, (_, i) => `b${i}-${'y'.repeat(900)}`));
    store.close();
  });

  it('B10: segments recovered at startup are reclaimed, and empty epochs do not pile up', () => {
    const dir = tmp.make();
    let store = open(dir);
    for (let i = 0; i < 150; i++) store.append('t', `${i}-${'z'.repeat(1000)}`);
    store.close();
    for (let i = 0; i < 5; i++) open(dir).close();
    store = open(dir);
    drain(store, 't');
    const deleted = store.reclaim();
    expect(deleted.length).toBeGreaterThan(1);
    const left = segmentPaths(dir);
    expect(left.length).toBeLessThanOrEqual(1);
    for (const p of left) expect(fs.statSync(p).size).toBeLessThan(4 * KiB);
    expect(openHandlesOnDeletedFiles(dir)).toEqual([]);
    store.close();
  });

  it('B11: an entry larger than segmentBytes is written whole and survives restart; maxEntryBytes is exact', () => {
    const dir = tmp.make();
    const sizing = { ...SMALL, maxEntryBytes: 150 * KiB };
    let store = open(dir, sizing);
    store.append('t', 'small');
    store.append('t', patterned(150 * KiB, 1));
    expectWalError(() => store.append('t', patterned(150 * KiB + 1)), 'ERR_TOO_LARGE');
    store.append('t', 'after');
    store.close();
    store = open(dir, sizing);
    const entries = drain(store, 't');
    expect(entries.map((e) => e.data.byteLength)).toEqual([5, 150 * KiB, 5]);
    expect(bytesOf(entries[1]!.data).equals(patterned(150 * KiB, 1))).toBe(true);
    store.close();
  });

  for (const [code, walCode] of [
    ['ENOSPC', 'ERR_DISK_FULL'],
    ['EIO', 'ERR_IO'],
  ] as const) {
    it(`B12: a ${code} on append is reported (${walCode}), nothing of it is visible, and the log works once the fault is gone`, () => {
      const faults = new FaultyIo();
      const dir = tmp.make();
      let store = open(dir, { ...SMALL, io: faults.io });
      store.append('t', 'ok-0');
      faults.writeFault = { code, writeBudgetBytes: 0 };
      const err = expectWalError(() => store.append('t', 'lost'), walCode);
      expect(err.details.errno).toBe(code);
      faults.writeFault = { code, writeBudgetBytes: 20 };
      expectWalError(() => store.append('t', 'torn-'.repeat(20)), walCode);
      faults.writeFault = null;
      expect(store.count('t')).toBe(1);
      expect(store.append('t', 'ok-1')).toBe(1);
      expect(texts(peekAll(store, 't'))).toEqual(['ok-0', 'ok-1']);
      store.close();
      store = open(dir);
      expect(texts(peekAll(store, 't'))).toEqual(['ok-0', 'ok-1']);
      store.close();
    });
  }

  it('B13: entries larger than a block, followed by more entries, all survive restart', () => {
    const dir = tmp.make();
    let store = open(dir);
    const expected: Buffer[] = [];
    const put = (data: Buffer) => {
      store.append('big-first', data);
      expected.push(data);
    };
    put(patterned(10 * KiB, 1)); // the topic's first entry is larger than a block
    for (let i = 0; i < 5; i++) put(patterned(100, i));
    put(patterned(20 * KiB, 2));
    store.append('other', 'interleaved');
    for (let i = 0; i < 5; i++) put(patterned(300, 10 + i));
    put(patterned(4 * KiB - FRAME_HEADER_BYTES_V2, 3)); // exactly one block
    put(patterned(1, 4));
    store.close();
    store = open(dir);
    const entries = drain(store, 'big-first');
    expect(entries).toHaveLength(expected.length);
    entries.forEach((e, i) => expect(bytesOf(e.data).equals(expected[i]!), `entry ${i}`).toBe(true));
    expect(texts(drain(store, 'other'))).toEqual(['interleaved']);
    store.close();
  });

  it('B14: cursors are sequence numbers: reclaiming earlier segments does not shift them', () => {
    const dir = tmp.make();
    const store = open(dir);
    for (let i = 0; i < 200; i++) store.append('t', `${i}-${'c'.repeat(1000)}`);
    for (let i = 0; i < 150; i++) store.readNext('t');
    expect(store.reclaim().length).toBeGreaterThan(0);
    const crashed = crashRestart(store, dir);
    expect(crashed.store.count('t')).toBe(50);
    expect(seqs(drain(crashed.store, 't'))).toEqual(Array.from({ length: 50 }, (_, i) => 150 + i));
    crashed.store.close();
  });

  it('B15: foreign files, temp files and other namespaces in sub-directories are never read as data', () => {
    const dir = tmp.make();
    let store = open(dir);
    store.append('mine', 'm0');
    store.close();
    const child = path.join(dir, 'child');
    fs.mkdirSync(child);
    const childStore = open(child);
    childStore.append('child-topic', 'not yours');
    childStore.close();
    for (const name of [
      'CURSORS.tmp',
      'MANIFEST.tmp',
      'data.bin',
      'cursors-ffffffff.log',
      '00000001-0000-00000000.seg.tmp',
    ]) {
      fs.writeFileSync(path.join(dir, name), garbage(333));
    }
    store = open(dir);
    expect(store.topics()).toEqual(['mine']);
    expect(texts(drain(store, 'mine'))).toEqual(['m0']);
    expect(store.recovery.damage).toEqual([]);
    store.close();
    const again = open(child);
    expect(texts(drain(again, 'child-topic'))).toEqual(['not yours']);
    again.close();
  });

  it('B16: batchRead returns an entry larger than maxBytes from a sealed segment, and small budgets never skip', () => {
    const dir = tmp.make();
    let store = open(dir);
    const sizes = Array.from({ length: 60 }, (_, i) => [10, 3000, 9000, 200, 70 * KiB][i % 5]!);
    sizes.forEach((size, i) => store.append('t', patterned(size, i)));
    store.close();
    store = open(dir);
    const got: StoredEntry[] = [];
    for (let calls = 0; calls < 1000 && got.length < sizes.length; calls++) {
      const batch = store.batchRead('t', { maxBytes: 2500 });
      expect(batch.length).toBeGreaterThan(0);
      got.push(...batch);
    }
    expect(got.map((e) => e.seq)).toEqual(sizes.map((_, i) => i));
    got.forEach((e, i) => expect(bytesOf(e.data).equals(patterned(sizes[i]!, i))).toBe(true));
    store.close();
  });

  it('B18: a corrupt entry does not hang or stall the reader: it ends the prefix, is reported, and writing goes on', () => {
    const dir = tmp.make();
    let store = open(dir);
    for (let i = 0; i < 10; i++) store.append('t', `m${i}-${'k'.repeat(5000)}`);
    for (let i = 0; i < 50; i++) store.append('later', `l${i}-${'k'.repeat(2000)}`);
    store.close();
    expect(segmentPaths(dir).length).toBeGreaterThan(1);
    const hit = findEntry(dir, 't', 5);
    flipBit(hit.path, hit.offset + FRAME_HEADER_BYTES_V2 + 2500, 4);
    store = open(dir);
    expect(store.recovery.damage.length).toBeGreaterThan(0);
    expect(seqs(store.batchRead('t', { maxBytes: 1 << 30, checkpoint: false }))).toEqual([0, 1, 2, 3, 4]);
    expect(seqs(drain(store, 't'))).toEqual([0, 1, 2, 3, 4]);
    expect(store.readNext('t')).toBeNull();
    expect(store.batchRead('t', { maxBytes: 100 })).toEqual([]);
    expect(store.append('t', 'resumed')).toBe(5);
    expect(texts(drain(store, 't'))).toEqual(['resumed']);
    expect(drain(store, 'later')).toHaveLength(50);
    store.close();
  });

  it('B19: a second open of an open directory fails with ERR_LOCKED, in this process and from another one', () => {
    const dir = tmp.make();
    const store = open(dir);
    expectWalError(() => open(dir), 'ERR_LOCKED');
    expect(openFromChildProcess(dir)).toBe('ERR_LOCKED');
    store.append('t', 'still works');
    store.close();
    expect(openFromChildProcess(dir)).toBe('opened');
    const again = open(dir);
    expect(texts(drain(again, 't'))).toEqual(['still works']);
    again.close();
  });

  it('B19: a LOCK left by a dead process does not block the next open', () => {
    const dir = tmp.make();
    open(dir).close();
    const dead = spawnSync(process.execPath, ['-e', '']);
    expect(dead.status).toBe(0);
    fs.writeFileSync(path.join(dir, 'LOCK'), `${dead.pid}\n${os.hostname()}\nstale-token\n`);
    const store = open(dir);
    store.append('t', 'x');
    store.close();
  });

  it('B19: close is idempotent, releases the lock, and every later call fails with ERR_CLOSED', () => {
    const dir = tmp.make();
    const store = open(dir);
    store.append('t', 'x');
    store.close();
    store.close();
    for (const call of [
      () => store.append('t', 'y'),
      () => store.batchAppend('t', ['y']),
      () => store.readNext('t'),
      () => store.batchRead('t', { maxBytes: 10 }),
      () => store.count('t'),
      () => store.topics(),
      () => store.sync(),
      () => store.reclaim(),
    ]) {
      expectWalError(call, 'ERR_CLOSED');
    }
    open(dir).close();
  });

  it("B22: key '..' and '.' are rejected; empty, ill-formed or non-string topic names are rejected with ERR_INVALID_ARGUMENT", () => {
    for (const key of ['..', '.', '']) expectWalError(() => sanitizeKey(key), 'ERR_INVALID_ARGUMENT');
    const store = open(tmp.make());
    for (const bad of ['', '\uD800', 'a\uDC00b', 42 as unknown as string, undefined as unknown as string]) {
      expectWalError(() => store.append(bad, 'x'), 'ERR_INVALID_ARGUMENT');
      expectWalError(() => store.batchAppend(bad, ['x']), 'ERR_INVALID_ARGUMENT');
      expectWalError(() => store.readNext(bad), 'ERR_INVALID_ARGUMENT');
      expectWalError(() => store.batchRead(bad, { maxBytes: 10 }), 'ERR_INVALID_ARGUMENT');
      expectWalError(() => store.count(bad), 'ERR_INVALID_ARGUMENT');
    }
    expect(store.topics()).toEqual([]);
    store.close();
  });

  it("B22: under fsync 'each', a failed fsync is reported and a retry does not duplicate the entry", () => {
    const faults = new FaultyIo();
    const dir = tmp.make();
    let store = open(dir, { ...SMALL, fsync: 'each', io: faults.io });
    store.append('t', 'first');
    faults.syncFault = 'EIO';
    let thrown: unknown;
    try {
      store.append('t', 'second');
    } catch (err) {
      thrown = err;
    }
    faults.syncFault = null;
    expect(['ERR_FSYNC_FAILED', 'ERR_IO']).toContain((thrown as { code?: string } | undefined)?.code);
    store.append('t', 'second');
    expect(texts(peekAll(store, 't'))).toEqual(['first', 'second']);
    store.close();
    store = open(dir, { ...SMALL, fsync: 'each' });
    expect(texts(peekAll(store, 't'))).toEqual(['first', 'second']);
    store.close();
  });
});

/** Opens `dir` from a separate Node process; returns 'opened' or the WalError code it got. */
function openFromChildProcess(dir: string): string {
  const script = [
    `import { LogStore } from ${JSON.stringify(path.join(REPO_ROOT, 'src/storage/log-store.ts'))};`,
    `try { LogStore.open({ dir: process.env.WALRUS_TEST_DIR, fsync: 'none' }).close(); console.log('opened'); }`,
    `catch (err) { console.log(err.code ?? String(err)); }`,
  ].join('\n');
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, WALRUS_TEST_DIR: dir },
    encoding: 'utf8',
  });
  expect(child.stderr).toBe('');
  return child.stdout.trim();
}

/** Paths under `dir` that this process still holds open although they were unlinked (Linux only). */
function openHandlesOnDeletedFiles(dir: string): string[] {
  if (!fs.existsSync('/proc/self/fd')) return [];
  const real = fs.realpathSync(dir);
  return fs
    .readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.startsWith(real) && target.endsWith(' (deleted)'));
}
