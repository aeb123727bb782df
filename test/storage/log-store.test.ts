/**
 * A smoke test of the LogStore composition: namespace files, lock, epochs, validation, fsync modes
 * and their failure handling. The rules of docs/SEMANTICS.md are covered by test/core.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cursorLogPath } from '../../src/storage/cursor-store.js';
import { unpackControlMap } from '../../src/storage/disk-codec.js';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const SMALL = { segmentBytes: 64 * 1024, blockBytes: 4096 };
const text = (data: Uint8Array) => Buffer.from(data).toString('utf8');

/** Counts fdatasync/fsync/fsyncDir calls and can make them fail. */
class SyncProbe {
  calls: string[] = [];
  failWith: string | null = null;
  readonly io: FileIo;

  constructor() {
    const sync = (name: string, run: () => void) => {
      if (this.failWith !== null)
        throw Object.assign(new Error(`${this.failWith}: injected`), { code: this.failWith, syscall: name });
      this.calls.push(name);
      run();
    };
    this.io = {
      ...nodeFileIo,
      fdatasync: (fd) => sync('fdatasync', () => nodeFileIo.fdatasync(fd)),
      fsync: (fd) => sync('fsync', () => nodeFileIo.fsync(fd)),
      fsyncDir: (dir) => sync('fsyncDir', () => nodeFileIo.fsyncDir(dir)),
    };
  }

  take(): string[] {
    return this.calls.splice(0);
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('LogStore', () => {
  const tmp = new TmpDirs();
  const opened: LogStore[] = [];
  afterEach(() => {
    for (const store of opened.splice(0)) store.close();
    tmp.removeAll();
  });
  const open = (options: LogStoreOptions) => {
    const store = LogStore.open(options);
    opened.push(store);
    return store;
  };

  it('creates the namespace, starts an epoch per open, and keeps data and cursors across reopen', () => {
    const dir = path.join(tmp.make(), 'nested', 'ns');
    let store = open({ dir, fsync: 'none', ...SMALL });
    expect(fs.readdirSync(dir).sort()).toEqual(['CURSORS', 'LOCK', 'MANIFEST', path.basename(cursorLogPath(dir, 1))]);
    expect(unpackControlMap(fs.readFileSync(path.join(dir, 'MANIFEST'))).epoch).toBe(1);
    expect(store.append('a', 'a0')).toBe(0);
    expect(store.batchAppend('a', ['a1', new Uint8Array([0x61, 0x32])])).toEqual([1, 2]);
    expect(store.append('b', new Uint8Array(0), 1)).toBe(0);
    expect(store.batchAppend('c', [])).toEqual([]);
    expect(store.topics()).toEqual(['a', 'b']);
    expect(store.count('a')).toBe(3);
    expect(store.readNext('a', { checkpoint: false })?.seq).toBe(0);
    const first = store.readNext('a')!;
    expect([first.topic, first.seq, text(first.data), first.codec]).toEqual(['a', 0, 'a0', 0]);
    expect(store.count('a')).toBe(2);
    expect(store.readNext('b')).toMatchObject({ topic: 'b', seq: 0, codec: 1 });
    expect(store.readNext('b')).toBeNull();
    expect(store.count('nobody')).toBe(0);
    expect(store.readNext('nobody')).toBeNull();
    store.close();
    // LOCK stays (the kernel lock on it is gone); it no longer names a holder.
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).toBe('');

    store = open({ dir, fsync: 'none', ...SMALL });
    expect(unpackControlMap(fs.readFileSync(path.join(dir, 'MANIFEST'))).epoch).toBe(2);
    // The clean close summarized its segment (same boot, so trusted though unsynced): nothing scanned.
    expect(store.recovery.summarizedFiles).toBe(1);
    expect(store.recovery.scannedBytes).toBe(0);
    expect(store.recovery.damage).toEqual([]);
    expect(store.batchRead('a', { maxBytes: 1000 }).map((e) => [e.seq, text(e.data)])).toEqual([
      [1, 'a1'],
      [2, 'a2'],
    ]);
    expect(store.count('a')).toBe(0);
    expect(store.append('a', 'a3')).toBe(3);
    expect(store.append('d', 'd0')).toBe(0);
    expect(store.topics().sort()).toEqual(['a', 'b', 'd']);
  });

  it('refuses a second open of the same directory while the first is open', () => {
    const dir = tmp.make();
    open({ dir, fsync: 'none' });
    expectWalError(() => LogStore.open({ dir, fsync: 'none' }), 'ERR_LOCKED');
  });

  it('validates every argument and refuses every call after close', () => {
    const dir = tmp.make();
    const store = open({ dir, fsync: 'none', ...SMALL, maxEntryBytes: 100, maxBatchEntries: 3 });
    const bad = (fn: () => unknown) => expectWalError(fn, 'ERR_INVALID_ARGUMENT');
    bad(() => store.append('', 'x'));
    bad(() => store.append(7 as unknown as string, 'x'));
    bad(() => store.append('t', 7 as unknown as string));
    bad(() => store.append('t', 'x', 2));
    bad(() => store.readNext('t', { checkpoint: 'yes' as unknown as boolean }));
    bad(() => store.readNext('t', 5 as unknown as { checkpoint: boolean }));
    for (const maxBytes of [0, -1, 1.5, Number.NaN, '10', undefined])
      bad(() => store.batchRead('t', { maxBytes: maxBytes as number }));
    bad(() => store.batchRead('t', undefined as unknown as { maxBytes: number }));
    bad(() => store.batchAppend('t', 'abc' as unknown as string[]));
    bad(() => store.count('\ud800'));
    expectWalError(() => store.append('t', 'x'.repeat(101)), 'ERR_TOO_LARGE');
    expectWalError(() => store.batchAppend('t', ['1', '2', '3', '4']), 'ERR_TOO_LARGE');
    expectWalError(() => store.batchAppend('t', ['ok', 'x'.repeat(101)]), 'ERR_TOO_LARGE');
    expect(store.count('t')).toBe(0);
    expect(store.topics()).toEqual([]);
    expect(store.append('t', 'x'.repeat(100))).toBe(0);

    for (const options of [
      { dir: '' },
      { dir, bogus: 1 },
      { dir, fsync: 'sometimes' },
      { dir, blockBytes: 5000 },
      { dir, readConsistency: 'once' },
    ]) {
      bad(() => LogStore.open(options as LogStoreOptions));
    }
    store.close();
    store.close();
    for (const call of [
      () => store.append('t', 'x'),
      () => store.batchAppend('t', ['x']),
      () => store.readNext('t'),
      () => store.batchRead('t', { maxBytes: 10 }),
      () => store.count('t'),
      () => store.topics(),
      () => store.sync(),
      () => store.reclaim(),
    ]) {
      expectWalError(call, 'ERR_CLOSED');
    }
  });

  it("fsync 'each' syncs every append, batch and persisted cursor record; 'none' never syncs data", () => {
    const each = new SyncProbe();
    const store = open({ dir: tmp.make(), fsync: 'each', io: each.io, ...SMALL });
    each.take();
    store.append('t', 'one');
    // The new segment's directory entry, the write, then the zeros written ahead of it (FORMAT §3.1).
    expect(each.take()).toEqual(['fsyncDir', 'fdatasync', 'fdatasync']);
    store.append('t', 'two');
    store.batchAppend('t', ['three', 'four']);
    expect(each.take()).toEqual(['fdatasync', 'fdatasync']);
    store.readNext('t');
    expect(each.take()).toEqual(['fdatasync']);
    store.readNext('t', { checkpoint: false });
    expect(each.take()).toEqual([]);

    const none = new SyncProbe();
    const lax = open({ dir: tmp.make(), fsync: 'none', io: none.io, ...SMALL });
    // The open replaced MANIFEST (and CURSORS) durably: control files are, in every mode (rule 7).
    expect(none.take().filter((c) => c === 'fdatasync')).toEqual([]);
    for (let i = 0; i < 200; i++) lax.append('t', `entry ${i} ${'x'.repeat(500)}`);
    lax.batchRead('t', { maxBytes: 10_000 });
    lax.sync();
    expect(none.take()).toEqual([]);
    lax.reclaim();
    lax.close();
    // Only control-file replacements (a file fsync, then its directory's), never a segment or log.
    const calls = none.take();
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.join(' ')).toMatch(/^(fsync fsyncDir ?)+$/);
  });

  it('fsync { intervalMs } syncs at the first call after the interval, and at sync() and close()', () => {
    const probe = new SyncProbe();
    const store = open({ dir: tmp.make(), fsync: { intervalMs: 60_000 }, io: probe.io, ...SMALL });
    probe.take();
    for (let i = 0; i < 5; i++) store.append('t', `m${i}`);
    store.readNext('t');
    expect(probe.take()).toEqual([]);
    store.sync();
    expect(probe.take()).toEqual(['fdatasync', 'fsyncDir', 'fdatasync']);
    store.close();
    expect(probe.take()).toContain('fdatasync');

    const fast = new SyncProbe();
    const eager = open({ dir: tmp.make(), fsync: { intervalMs: 1 }, io: fast.io, ...SMALL });
    eager.append('t', 'a');
    fast.take();
    sleepMs(5);
    eager.append('t', 'b');
    expect(fast.take()).toContain('fdatasync');
  });

  it("under 'each', a failed sync fails the append and leaves nothing behind, so a retry does not duplicate", () => {
    const probe = new SyncProbe();
    const dir = tmp.make();
    const store = open({ dir, fsync: 'each', io: probe.io, ...SMALL });
    store.append('t', 'first');
    probe.failWith = 'EIO';
    const err = expectWalError(() => store.append('t', 'second'), 'ERR_FSYNC_FAILED');
    expect(err.details.errno).toBe('EIO');
    expectWalError(() => store.batchAppend('t', ['b1', 'b2']), 'ERR_FSYNC_FAILED');
    probe.failWith = null;
    expect(store.count('t')).toBe(1);
    expect(store.append('t', 'second')).toBe(1);
    store.close();
    const again = open({ dir, fsync: 'none', ...SMALL });
    expect(again.batchRead('t', { maxBytes: 1000 }).map((e) => text(e.data))).toEqual(['first', 'second']);
  });

  it("under 'each', a failed cursor sync fails the read and the entry stays unread", () => {
    const probe = new SyncProbe();
    const dir = tmp.make();
    const store = open({ dir, fsync: 'each', io: probe.io, ...SMALL });
    store.batchAppend('t', ['m0', 'm1']);
    probe.failWith = 'EIO';
    expectWalError(() => store.readNext('t'), 'ERR_FSYNC_FAILED');
    probe.failWith = null;
    expect(store.count('t')).toBe(2);
    expect(store.readNext('t')?.seq).toBe(0);
    store.close();
    const again = open({ dir, fsync: 'none', ...SMALL });
    expect(again.readNext('t')?.seq).toBe(1);
  });

  it('reclaims consumed sealed segments and keeps the current one', () => {
    const dir = tmp.make();
    const store = open({ dir, fsync: 'none', ...SMALL });
    for (let i = 0; i < 300; i++) store.append('t', `${i}:${'p'.repeat(1000)}`);
    const segments = () => fs.readdirSync(dir).filter((name) => name.endsWith('.seg'));
    expect(segments().length).toBeGreaterThan(3);
    expect(store.reclaim()).toEqual([]);
    while (store.batchRead('t', { maxBytes: 1 << 20 }).length > 0);
    const deleted = store.reclaim();
    expect(deleted.length).toBeGreaterThan(2);
    expect(segments()).toHaveLength(1);
    expect(store.append('t', 'after')).toBe(300);
    expect(text(store.readNext('t')!.data)).toBe('after');
  });
});
