/**
 * OS errors inside the real worker engine, injected through the FileIo seam by the test worker
 * shells (test/tools/workers/, with a WALRUS_FAULTS plan armed and disarmed by a control file so the
 * worker needs no message):
 *
 *   - EIO on a segment write: the affected appends reject with ERR_IO (errno kept), nothing else
 *     is touched, and appends work again once the fault is gone;
 *   - short writes: completed by the write loop (appends succeed, bytes intact), or, when the
 *     device keeps accepting nothing, rejected with ERR_IO and rolled back;
 *   - EIO on fdatasync: final — the affected appends reject with ERR_FSYNC_FAILED, stats().failed
 *     says so, every later call rejects with ERR_FSYNC_FAILED until reopen, and the reopen
 *     recovers everything acknowledged;
 *   - a failed rename of the CURSORS snapshot: reclaim rejects with ERR_IO, the WAL keeps working,
 *     and no consumed entry is delivered again after a reopen, however many snapshots failed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WalError, type Walrus } from '../../dist/src/index.js';
import { FaultyFileIo } from '../tools/faulty-file-io.js';
import { nodeFileIo } from '../../src/storage/file-io.js';
import { SMALL_WHOLE_TOPIC, drainTexts, openWithFaults, peekTexts, tempDir } from '../helpers/wal.js';
import { within } from '../helpers/within.js';

const OPTIONS = SMALL_WHOLE_TOPIC;

async function settle(calls: Array<Promise<unknown>>): Promise<PromiseSettledResult<unknown>[]> {
  return within(Promise.allSettled(calls), 'settle');
}

function codeOf(err: unknown): string {
  expect(err, String(err)).toBeInstanceOf(WalError);
  return (err as WalError).code;
}

const arm = (file: string): void => fs.writeFileSync(file, '');
const disarm = (file: string): void => fs.rmSync(file, { force: true });

describe('the fault seam itself', () => {
  it('injects errors shaped like the ones Node fs throws (code, errno, syscall, path, message)', () => {
    const dir = tempDir('walrus-ioerr-');
    const missing = path.join(dir, 'missing');
    let real: NodeJS.ErrnoException | null = null;
    try {
      nodeFileIo.open(missing, 'read');
    } catch (err) {
      real = err as NodeJS.ErrnoException;
    }
    const io = new FaultyFileIo(nodeFileIo, [{ op: 'open', errno: 'ENOENT', pathIncludes: 'missing' }]);
    let fake: NodeJS.ErrnoException | null = null;
    try {
      io.open(missing, 'read');
    } catch (err) {
      fake = err as NodeJS.ErrnoException;
    }
    expect(fake).not.toBeNull();
    const shape = (e: NodeJS.ErrnoException | null) => ({
      code: e?.code,
      errno: e?.errno,
      syscall: e?.syscall,
      path: e?.path,
      message: e?.message,
    });
    expect(shape(fake)).toEqual(shape(real));
    // Rules count only matching calls: `after` lets some through, `times` stops the faults.
    const counted = new FaultyFileIo(nodeFileIo, [{ op: 'fsyncDir', errno: 'EIO', after: 1, times: 2 }]);
    const outcomes = Array.from({ length: 5 }, () => {
      try {
        counted.fsyncDir(dir);
        return 'ok';
      } catch (err) {
        return (err as NodeJS.ErrnoException).code;
      }
    });
    expect(outcomes).toEqual(['ok', 'EIO', 'EIO', 'ok', 'ok']);
    expect(counted.injected).toBe(2);
  });
});

describe('EIO on a segment write', () => {
  it('rejects the affected appends with ERR_IO, keeps the rest, and works again without reopening', async () => {
    const dir = tempDir('walrus-ioerr-');
    const armed = path.join(dir, 'armed');
    const wal = await openWithFaults(path.join(dir, 'wal'), OPTIONS, [
      { op: 'pwrite', pathIncludes: '.seg', errno: 'EIO', whenFileExists: armed, thread: 'writer' },
    ]);
    const before = Array.from({ length: 50 }, (_, i) => `ok-${i}`);
    await within(Promise.all(before.map((t) => wal.append('t', t))), 'appends before');

    arm(armed);
    const failing = Array.from({ length: 30 }, (_, i) => `lost-${i}`);
    const outcomes = await settle([
      ...failing.map((t) => wal.append('t', t)),
      wal.batchAppend('t', ['lost-b0', 'lost-b1']),
    ]);
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      const err = (o as PromiseRejectedResult).reason as WalError;
      expect(codeOf(err)).toBe('ERR_IO');
      expect(err.details.errno).toBe('EIO');
      expect(err.details.syscall).toBe('write');
      expect(err.details.path).toMatch(/\.seg$/);
    }
    // Not fatal: reads work and show only acknowledged entries.
    expect((await within(wal.stats(), 'stats')).failed).toBeNull();
    expect(await peekTexts(wal, 't')).toEqual(before);

    disarm(armed);
    const after = Array.from({ length: 50 }, (_, i) => `after-${i}`);
    await within(Promise.all(after.map((t) => wal.append('t', t))), 'appends after');
    await within(wal.sync(), 'sync');
    expect(await peekTexts(wal, 't')).toEqual([...before, ...after]);
    // The next seq after a failed write is reused: no gap, no hole.
    const seqs = (await within(wal.batchRead('t', { maxBytes: Infinity, checkpoint: false }), 'seqs')).map(
      (e) => e.seq,
    );
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await within(wal.close(), 'close');

    const again = await openWithFaults(path.join(dir, 'wal'), OPTIONS, null);
    expect((await within(again.stats(), 'stats')).recovery.damage).toEqual([]);
    expect(await drainTexts(again, 't')).toEqual([...before, ...after]);
  });
});

describe('short writes', () => {
  it('completes writes the device accepts piecemeal: every append succeeds, bytes intact', async () => {
    const dir = tempDir('walrus-ioerr-');
    // The first 40 segment write calls each land only half of what was asked; the loop writes the rest.
    const wal = await openWithFaults(path.join(dir, 'wal'), OPTIONS, [
      { op: 'pwrite', pathIncludes: '.seg', short: true, times: 40, thread: 'writer' },
    ]);
    const texts = Array.from({ length: 300 }, (_, i) => `piece-${i}-${'x'.repeat(i % 97)}`);
    for (let i = 0; i < texts.length; i += 30) {
      await within(Promise.all(texts.slice(i, i + 30).map((t) => wal.append('t', t))), `appends ${i}`);
    }
    const audit = await within(wal.verify(), 'verify');
    expect(audit.ok).toBe(true);
    expect(await peekTexts(wal, 't')).toEqual(texts);
    await within(wal.close(), 'close');
    const again = await openWithFaults(path.join(dir, 'wal'), OPTIONS, null);
    expect(await drainTexts(again, 't')).toEqual(texts);
  });

  it('rejects with ERR_IO when the device stops accepting bytes mid-write, and rolls the torn part back', async () => {
    const dir = tempDir('walrus-ioerr-');
    const armed = path.join(dir, 'armed');
    // Armed: the first write lands 100 bytes, then the device accepts nothing (write returns 0).
    const wal = await openWithFaults(path.join(dir, 'wal'), OPTIONS, [
      { op: 'pwrite', pathIncludes: '.seg', short: 100, times: 1, whenFileExists: armed, thread: 'writer' },
      { op: 'pwrite', pathIncludes: '.seg', short: 0, whenFileExists: armed, thread: 'writer' },
    ]);
    await within(wal.append('t', 'first'), 'append first');
    arm(armed);
    const outcomes = await settle(Array.from({ length: 10 }, (_, i) => wal.append('t', `torn-${i}`)));
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect(codeOf((o as PromiseRejectedResult).reason)).toBe('ERR_IO');
      expect(((o as PromiseRejectedResult).reason as WalError).message).toMatch(/short write/);
    }
    disarm(armed);
    await within(wal.append('t', 'second'), 'append second');
    expect((await within(wal.verify(), 'verify')).damage).toEqual([]);
    expect(await peekTexts(wal, 't')).toEqual(['first', 'second']);
    await within(wal.close(), 'close');
    const again = await openWithFaults(path.join(dir, 'wal'), OPTIONS, null);
    expect((await within(again.stats(), 'stats')).recovery.damage).toEqual([]);
    expect(await drainTexts(again, 't')).toEqual(['first', 'second']);
  });
});

/** Every public call except stats() and close(), each expected to reject with `code`. */
function everyCall(wal: Walrus): Record<string, () => Promise<unknown>> {
  return {
    append: () => wal.append('t', 'x'),
    batchAppend: () => wal.batchAppend('t', ['x', 'y']),
    readNext: () => wal.readNext('t'),
    peek: () => wal.readNext('t', { checkpoint: false }),
    batchRead: () => wal.batchRead('t', { maxBytes: 100 }),
    count: () => wal.count('t'),
    topics: () => wal.topics(),
    sync: () => wal.sync(),
    verify: () => wal.verify(),
    reclaim: () => wal.reclaim(),
    waitForWrites: () => wal.waitForWrites('t', { timeoutMs: 10 }),
  };
}

async function expectEveryCallRejects(wal: Walrus, code: string): Promise<void> {
  for (const [name, call] of Object.entries(everyCall(wal))) {
    let thrown: unknown = null;
    try {
      await within(call(), name);
    } catch (err) {
      thrown = err;
    }
    expect(thrown, `${name} should reject with ${code}`).toBeInstanceOf(WalError);
    expect((thrown as WalError).code, `${name}: ${String(thrown)}`).toBe(code);
  }
}

describe("EIO on fdatasync is final until reopen (fsync: 'each')", () => {
  it.each([
    ['a segment', '.seg'],
    ['the cursor log', 'cursors-'],
  ])(
    'fdatasync of %s fails: pending appends reject ERR_FSYNC_FAILED, every later call too, reopen recovers',
    async (_what, file) => {
      const dir = tempDir('walrus-ioerr-');
      const armed = path.join(dir, 'armed');
      const wal = await openWithFaults(path.join(dir, 'wal'), { ...OPTIONS, fsync: 'each' }, [
        { op: 'fdatasync', pathIncludes: file, errno: 'EIO', whenFileExists: armed, thread: 'flusher' },
      ]);
      const acked = Array.from({ length: 40 }, (_, i) => `durable-${i}`);
      await within(Promise.all(acked.map((t) => wal.append('t', t))), 'appends before');
      expect((await within(wal.readNext('t'), 'read'))?.text()).toBe('durable-0');

      arm(armed);
      // The cursor log is only fsynced when a checkpointed read wrote to it: consume one more.
      const affected: Array<Promise<unknown>> = Array.from({ length: 20 }, (_, i) => wal.append('t', `doomed-${i}`));
      if (file === 'cursors-') affected.push(wal.readNext('t'));
      const outcomes = await settle(affected);
      const codes = outcomes.map((o) => (o.status === 'rejected' ? codeOf(o.reason) : 'resolved'));
      if (file === '.seg') {
        expect(new Set(codes)).toEqual(new Set(['ERR_FSYNC_FAILED']));
      } else {
        // The appends' segments sync fine, but the round fails as a whole: nothing more is promised.
        expect(codes.at(-1)).toBe('ERR_FSYNC_FAILED');
        for (const c of codes) expect(['resolved', 'ERR_FSYNC_FAILED']).toContain(c);
      }
      const stats = await within(wal.stats(), 'stats');
      expect(stats.failed).toBe('ERR_FSYNC_FAILED');
      // Disarming does not help: a failed fsync is never retried into a false success.
      disarm(armed);
      await expectEveryCallRejects(wal, 'ERR_FSYNC_FAILED');
      await expectEveryCallRejects(wal, 'ERR_FSYNC_FAILED');
      // close settles (it cannot promise durability, so it may say so) and releases the lock.
      await within(
        wal.close().catch((err: unknown) => expect(codeOf(err)).toBe('ERR_FSYNC_FAILED')),
        'close',
      );
      await expectEveryCallRejects(wal, 'ERR_CLOSED');

      const again = await openWithFaults(path.join(dir, 'wal'), { ...OPTIONS, fsync: 'each' }, null);
      const texts = await drainTexts(again, 't');
      // The read that failed its fsync (cursor-log case) did not consume durable-1: it comes back.
      // Everything acknowledged is back, in order; written-but-unacknowledged appends may follow.
      expect(texts.slice(0, acked.length - 1)).toEqual(acked.slice(1));
      texts.slice(acked.length - 1).forEach((t, i) => expect(t).toBe(`doomed-${i}`));
      await within(again.append('t', 'after-reopen'), 'append after reopen');
      expect(await drainTexts(again, 't')).toEqual(['after-reopen']);
    },
  );

  it('under { intervalMs } the next sync() and every later call reject with ERR_FSYNC_FAILED', async () => {
    const dir = tempDir('walrus-ioerr-');
    const armed = path.join(dir, 'armed');
    const wal = await openWithFaults(path.join(dir, 'wal'), { ...OPTIONS, fsync: { intervalMs: 20 } }, [
      { op: 'fdatasync', errno: 'EIO', whenFileExists: armed, thread: 'flusher' },
    ]);
    const acked = Array.from({ length: 30 }, (_, i) => `w-${i}`);
    await within(Promise.all(acked.map((t) => wal.append('t', t))), 'appends');
    await within(wal.sync(), 'sync before');
    arm(armed);
    const more = Array.from({ length: 10 }, (_, i) => `w-${30 + i}`);
    // Written, so acknowledged in this mode, even though they will never be made durable.
    await within(Promise.all(more.map((t) => wal.append('t', t))), 'appends while armed');
    await expect(within(wal.sync(), 'sync')).rejects.toMatchObject({ code: 'ERR_FSYNC_FAILED' });
    expect((await within(wal.stats(), 'stats')).failed).toBe('ERR_FSYNC_FAILED');
    disarm(armed);
    await expectEveryCallRejects(wal, 'ERR_FSYNC_FAILED');
    await within(
      wal.close().catch((err: unknown) => expect(codeOf(err)).toBe('ERR_FSYNC_FAILED')),
      'close',
    );
    const again = await openWithFaults(path.join(dir, 'wal'), OPTIONS, null);
    expect((await within(again.stats(), 'stats')).failed).toBeNull();
    expect(await drainTexts(again, 't')).toEqual([...acked, ...more]);
  });
});

describe('a failed rename of the CURSORS snapshot', () => {
  it.each([
    ['disarmed before close', false],
    ['still failing at close', true],
  ])(
    'reclaim rejects with ERR_IO, the WAL works on, no consumed entry comes back (%s)',
    async (_label, failAtClose) => {
      const dir = tempDir('walrus-ioerr-');
      const armed = path.join(dir, 'armed');
      const wal = await openWithFaults(path.join(dir, 'wal'), { ...OPTIONS, fsync: 'each' }, [
        { op: 'rename', pathIncludes: 'CURSORS', errno: 'EIO', whenFileExists: armed, thread: 'flusher' },
      ]);
      const texts = Array.from({ length: 60 }, (_, i) => `m${i}`);
      await within(Promise.all(texts.map((t) => wal.append('t', t))), 'appends');
      arm(armed);
      let consumed = 0;
      // Three rounds: consume, then a snapshot that fails. Each failure must keep what was consumed.
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 10; i++) {
          expect((await within(wal.readNext('t'), 'readNext'))?.text()).toBe(`m${consumed}`);
          consumed++;
        }
        const err = await within(wal.reclaim(), 'reclaim').then(
          () => null,
          (e: unknown) => e,
        );
        expect(codeOf(err)).toBe('ERR_IO');
        expect((err as WalError).details.errno).toBe('EIO');
        expect((err as WalError).details.syscall).toBe('rename');
      }
      // Not fatal: appends and reads go on.
      await within(wal.append('t', 'm60'), 'append');
      expect((await within(wal.readNext('t'), 'readNext'))?.text()).toBe(`m${consumed}`);
      consumed++;
      expect((await within(wal.stats(), 'stats')).failed).toBeNull();
      if (!failAtClose) disarm(armed);
      const closed = await within(wal.close(), 'close').then(
        () => null,
        (e: unknown) => e,
      );
      if (failAtClose) expect(codeOf(closed)).toBe('ERR_IO');
      else expect(closed).toBeNull();

      const again = await openWithFaults(path.join(dir, 'wal'), { ...OPTIONS, fsync: 'each' }, null);
      expect(await within(again.count('t'), 'count')).toBe(61 - consumed);
      expect(await drainTexts(again, 't')).toEqual([...texts, 'm60'].slice(consumed));
    },
  );
});
