/**
 * The rules of docs/SEMANTICS.md through the public API of the built package, with writer workers,
 * rings and the flusher. One describe per rule. (Process crashes: test/crash/; faults:
 * test/faults/.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WalError } from '../../dist/src/index.js';
import { SMALL, drain, openWal, tempDir } from '../helpers/wal.js';
import { within } from '../helpers/within.js';
import { nodeFileIo } from '../../src/storage/file-io.js';
import { listSegments } from '../../src/storage/segment-name.js';

describe('rule 1 (docs/SEMANTICS.md): per-topic order — entries are read in append order, topics never mix', () => {
  it('keeps append order per topic across interleaved topics and writers', async () => {
    const wal = await openWal(SMALL);
    const topics = ['a', 'b', 'c', 'd', 'e'];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) for (const t of topics) pending.push(wal.append(t, `${t}-${i}`));
    await Promise.all(pending);
    for (const t of topics) {
      const got = await drain(wal, t);
      expect(got.map((e) => e.text)).toEqual(Array.from({ length: 500 }, (_, i) => `${t}-${i}`));
      expect(got.map((e) => e.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    }
  });

  it('keeps call order for concurrent appends and batches on one topic', async () => {
    const wal = await openWal(SMALL);
    const expected: string[] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      if (i % 3 === 0) {
        const batch = [`${i}.0`, `${i}.1`, `${i}.2`];
        expected.push(...batch);
        pending.push(wal.batchAppend('t', batch));
      } else {
        expected.push(`${i}`);
        pending.push(wal.append('t', `${i}`));
      }
    }
    await Promise.all(pending);
    expect((await drain(wal, 't')).map((e) => e.text)).toEqual(expected);
  });
});

describe('rule 2 (docs/SEMANTICS.md): read-your-writes — once append resolves, reads can return it', () => {
  it('reads each entry right after its append resolves', async () => {
    const wal = await openWal(SMALL);
    for (let i = 0; i < 100; i++) {
      await wal.append('ryw', `v${i}`);
      const e = await wal.readNext('ryw');
      expect(e?.text()).toBe(`v${i}`);
    }
    expect(await wal.readNext('ryw')).toBeNull();
  });

  it('returns null for a topic that never existed', async () => {
    const wal = await openWal(SMALL);
    expect(await wal.readNext('nothing-here')).toBeNull();
    expect(await wal.batchRead('nothing-here', { maxBytes: 100 })).toEqual([]);
    expect(await wal.count('nothing-here')).toBe(0);
  });
});

describe('rule 3 (docs/SEMANTICS.md): strictly-at-once — a checkpointed read is never delivered again', () => {
  it('resumes after the last consumed entry on reopen', async () => {
    const dir = tempDir();
    let wal = await openWal({ ...SMALL, dir });
    for (let i = 0; i < 10; i++) await wal.append('q', `m${i}`);
    for (let i = 0; i < 5; i++) expect((await wal.readNext('q'))?.text()).toBe(`m${i}`);
    await wal.close();
    wal = await openWal({ ...SMALL, dir });
    expect((await drain(wal, 'q')).map((e) => e.text)).toEqual(['m5', 'm6', 'm7', 'm8', 'm9']);
  });

  it('gives each entry to exactly one of many concurrent readNext callers', async () => {
    const wal = await openWal(SMALL);
    const n = 1000;
    await Promise.all(Array.from({ length: n }, (_, i) => wal.append('work', `job-${i}`)));
    const seen: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (;;) {
          const e = await wal.readNext('work');
          if (!e) return;
          seen.push(e.seq);
        }
      }),
    );
    expect(seen.length).toBe(n);
    expect(new Set(seen).size).toBe(n);
  });

  it('peeks with checkpoint: false without moving the cursor', async () => {
    const wal = await openWal(SMALL);
    await wal.batchAppend('p', ['x', 'y']);
    expect((await wal.readNext('p', { checkpoint: false }))?.text()).toBe('x');
    expect((await wal.readNext('p', { checkpoint: false }))?.text()).toBe('x');
    expect((await wal.batchRead('p', { maxBytes: 10, checkpoint: false })).map((e) => e.text())).toEqual(['x', 'y']);
    expect(await wal.count('p')).toBe(2);
    expect((await wal.readNext('p'))?.text()).toBe('x');
    expect(await wal.count('p')).toBe(1);
  });
});

describe('rule 4 (docs/SEMANTICS.md): at-least-once — after a clean close nothing is delivered again', () => {
  it('persists pending cursors at close', async () => {
    const dir = tempDir();
    let wal = await openWal({ ...SMALL, dir, readConsistency: { atLeastOnce: { persistEvery: 1000 } } });
    for (let i = 0; i < 20; i++) await wal.append('alo', `e${i}`);
    for (let i = 0; i < 7; i++) await wal.readNext('alo');
    await wal.close();
    wal = await openWal({ ...SMALL, dir, readConsistency: { atLeastOnce: { persistEvery: 1000 } } });
    expect((await wal.readNext('alo'))?.text()).toBe('e7');
  });
});

describe('rules 5–7 (docs/SEMANTICS.md): appends resolve per fsync mode', () => {
  for (const fsync of ['each', 'none', { intervalMs: 5 }] as const) {
    it(`fsync ${JSON.stringify(fsync)}: appends and batches resolve, sync() resolves, data is readable after reopen`, async () => {
      const dir = tempDir();
      let wal = await openWal({ ...SMALL, dir, fsync });
      await Promise.all(Array.from({ length: 64 }, (_, i) => wal.append('d', `e${i}`)));
      await wal.batchAppend('d', ['b0', 'b1']);
      await wal.sync();
      await wal.close();
      wal = await openWal({ ...SMALL, dir, fsync });
      const texts = (await drain(wal, 'd')).map((e) => e.text);
      expect(texts.length).toBe(66);
      expect(texts.slice(-2)).toEqual(['b0', 'b1']);
    });
  }

  it('sync() under a long { intervalMs } resolves at once even while the writers still write what it covers', async () => {
    // The round sync() asked for used to run before the writers had written its targets; the next
    // round was then a whole interval away (found as a 60 s stall in the reclaim storm).
    const wal = await openWal({ ...SMALL, writers: 1, fsync: { intervalMs: 600_000 } });
    for (let round = 0; round < 20; round++) {
      const appends = Array.from({ length: 300 }, (_, i) => wal.append('s', `${round}.${i}:${'w'.repeat(1000)}`));
      await within(wal.sync(), `sync() of round ${round}`, 10_000);
      await Promise.all(appends);
    }
    const stats = await wal.stats();
    expect(stats.flusher.rounds).toBeGreaterThanOrEqual(20);
  });
});

describe('rule 8 (docs/SEMANTICS.md): recovery restores each topic to its longest valid prefix', () => {
  it('drops a torn tail and keeps everything before it; new appends after recovery stay readable', async () => {
    const dir = tempDir();
    let wal = await openWal({ ...SMALL, dir, writers: 1 });
    for (let i = 0; i < 50; i++) await wal.append('r', `entry-${i}`);
    await wal.close();
    const segs = fs.readdirSync(dir).filter((f) => f.endsWith('.seg'));
    const last = path.join(dir, segs.sort().at(-1)!);
    fs.truncateSync(last, fs.statSync(last).size - 5);
    wal = await openWal({ ...SMALL, dir, writers: 1 });
    const stats = await wal.stats();
    expect(stats.recovery.damage.length).toBeGreaterThan(0);
    await wal.append('r', 'after');
    const texts = (await drain(wal, 'r')).map((e) => e.text);
    expect(texts.slice(0, 49)).toEqual(Array.from({ length: 49 }, (_, i) => `entry-${i}`));
    expect(texts.at(-1)).toBe('after');
    expect(texts.length).toBe(50);
  });
});

describe('rule 9 (docs/SEMANTICS.md): space is reclaimed — consumed, sealed segments are deleted', () => {
  it('deletes fully consumed segment files and keeps the data that is not consumed', async () => {
    const dir = tempDir();
    const wal = await openWal({ ...SMALL, dir, writers: 1 });
    const big = 'z'.repeat(2000);
    for (let i = 0; i < 300; i++) await wal.append('s', `${i}:${big}`);
    const before = fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).length;
    expect(before).toBeGreaterThan(3);
    for (let i = 0; i < 250; i++) await wal.readNext('s');
    const deleted = await wal.reclaim();
    expect(deleted).toBeGreaterThan(0);
    const after = fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).length;
    expect(after).toBe(before - deleted);
    const rest = (await drain(wal, 's')).map((e) => Number(e.text.split(':')[0]));
    expect(rest).toEqual(Array.from({ length: 50 }, (_, i) => 250 + i));
  });

  it('a reclaimed segment that no fsync round covered yet is skipped by the next round, not a failed fsync', async () => {
    // No round runs on its own during the test: the segments are consumed and deleted before any fsync.
    const wal = await openWal({ ...SMALL, writers: 1, fsync: { intervalMs: 60_000 } });
    const big = 'u'.repeat(2000);
    for (let i = 0; i < 150; i++) await wal.append('s', `${i}:${big}`);
    for (let i = 0; i < 150; i++) await wal.readNext('s');
    expect(await wal.reclaim()).toBeGreaterThan(2);
    await wal.sync();
    await wal.append('s', 'after');
    await wal.sync();
    expect((await wal.stats()).failed).toBeNull();
    expect((await drain(wal, 's')).map((e) => e.text)).toEqual(['after']);
  });

  it('verify() running alongside reclaim() audits a consistent set of files (CI failure: ENOENT on a reclaimed segment)', async () => {
    const dir = tempDir();
    const wal = await openWal({ ...SMALL, dir, writers: 1 });
    const big = 'v'.repeat(2000);
    let reclaimedTotal = 0;
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 100; i++) await wal.append('s', `${round}.${i}:${big}`);
      for (let i = 0; i < 100; i++) await wal.readNext('s');
      // The audit starts first, so it lists files the reclaim is about to delete.
      const [report, deleted] = await Promise.all([wal.verify(), wal.reclaim()]);
      expect(report.ok, JSON.stringify(report.damage)).toBe(true);
      expect(report.files).toBeGreaterThan(0);
      reclaimedTotal += deleted;
    }
    expect(reclaimedTotal).toBeGreaterThan(6);
    const after = await wal.verify();
    expect(after.ok).toBe(true);
    expect(after.files).toBe(listSegments(nodeFileIo, dir).length);
  });
});

describe('entries of every size, including larger than a block and than the ring', () => {
  it('round-trips 0 B … 300 KiB entries and a batch larger than the ring', async () => {
    const wal = await openWal(SMALL);
    const sizes = [0, 1, 63, 64, 65, 4095, 4096, 4097, 65535, 65536, 65537, 300 * 1024];
    for (const n of sizes) await wal.append('sizes', new Uint8Array(n).fill(n % 251));
    const batch = Array.from({ length: 10 }, (_, i) => new Uint8Array(20_000).fill(i));
    await wal.batchAppend('sizes', batch);
    const got: Uint8Array[] = [];
    for (;;) {
      const e = await wal.readNext('sizes');
      if (!e) break;
      got.push(e.data);
    }
    expect(got.map((d) => d.byteLength)).toEqual([...sizes, ...batch.map((b) => b.byteLength)]);
    sizes.forEach((n, i) => expect(got[i]!.every((b) => b === n % 251)).toBe(true));
  });
});

describe('backpressure: a ring far smaller than the data makes appends wait, nothing is lost', () => {
  it('ingests 20 MB through a 64 KiB ring', async () => {
    const wal = await openWal({ ...SMALL, writers: 1, segmentBytes: 1024 * 1024 });
    const payload = new Uint8Array(1000).fill(7);
    const window: Promise<void>[] = [];
    for (let i = 0; i < 20_000; i++) {
      window.push(wal.append('bp', payload));
      if (window.length >= 2000) await Promise.all(window.splice(0));
    }
    await Promise.all(window);
    expect(await wal.count('bp')).toBe(20_000);
  });
});

describe('batchRead budget: at least one entry, at most maxBatchEntries, else within maxBytes', () => {
  it('applies the payload budget exactly', async () => {
    const wal = await openWal(SMALL);
    await Promise.all(Array.from({ length: 20 }, () => wal.append('bud', new Uint8Array(100))));
    expect((await wal.batchRead('bud', { maxBytes: 300, checkpoint: false })).length).toBe(3);
    expect((await wal.batchRead('bud', { maxBytes: 350, checkpoint: false })).length).toBe(3);
    expect((await wal.batchRead('bud', { maxBytes: 1, checkpoint: false })).length).toBe(1);
    expect((await wal.batchRead('bud', { maxBytes: 500, checkpoint: false })).length).toBe(5);
  });

  it('caps at maxBatchEntries', async () => {
    const wal = await openWal({ ...SMALL, maxBatchEntries: 50 });
    for (let i = 0; i < 4; i++)
      await wal.batchAppend(
        'cap',
        Array.from({ length: 50 }, () => 'x'),
      );
    expect((await wal.batchRead('cap', { maxBytes: 1 << 30 })).length).toBe(50);
  });
});

describe('lifecycle: close is idempotent, everything after it rejects with ERR_CLOSED, the lock is held while open', () => {
  it('rejects calls after close', async () => {
    const wal = await openWal(SMALL);
    await wal.append('x', 'y');
    await Promise.all([wal.close(), wal.close()]);
    for (const call of [
      () => wal.append('x', 'y'),
      () => wal.readNext('x'),
      () => wal.batchRead('x', { maxBytes: 1 }),
      () => wal.sync(),
      () => wal.count('x'),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    }
  });

  it('refuses a second open of the same namespace while the first is open', async () => {
    const dir = tempDir();
    await openWal({ ...SMALL, dir, key: 'k' });
    const err = await openWal({ ...SMALL, dir, key: 'k' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WalError);
    expect((err as WalError).code).toBe('ERR_LOCKED');
    await openWal({ ...SMALL, dir, key: 'other' });
  });

  it('sanitizes namespace keys into directory names', async () => {
    const dir = tempDir();
    await openWal({ ...SMALL, dir, key: 'prod/payments::v1' });
    expect(fs.existsSync(path.join(dir, 'prod_payments__v1'))).toBe(true);
  });

  it('keeps distinct keys apart even when they sanitize to the same directory name: the second is refused, nothing is shared', async () => {
    const dir = tempDir();
    const first = await openWal({ ...SMALL, dir, key: 'prod/payments' });
    await first.append('t', 'belongs to prod/payments');
    await first.close();
    const err = await openWal({ ...SMALL, dir, key: 'prod_payments' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WalError);
    expect((err as WalError).code).toBe('ERR_INVALID_ARGUMENT');
    expect((err as WalError).message).toContain('"prod/payments"');
    // The refused open left the directory unlocked and the log untouched.
    const again = await openWal({ ...SMALL, dir, key: 'prod/payments' });
    expect((await drain(again, 't')).map((e) => e.text)).toEqual(['belongs to prod/payments']);
    await again.close();
    // Naming the directory itself (no key) still opens it, and keeps the recorded key.
    const direct = await openWal({ ...SMALL, dir: path.join(dir, 'prod_payments') });
    await direct.close();
    await expect(openWal({ ...SMALL, dir, key: 'prod?payments' })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });

  it('supports await using (Symbol.asyncDispose)', async () => {
    const wal = await openWal(SMALL);
    await wal[Symbol.asyncDispose]();
    await expect(wal.append('a', 'b')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});

describe('bad input gets a typed error and changes nothing', () => {
  it('rejects bad topics, data, sizes and options', async () => {
    const wal = await openWal({ ...SMALL, maxEntryBytes: 1024, maxBatchEntries: 3 });
    const bad: Array<[() => Promise<unknown>, string]> = [
      [() => wal.append('', 'x'), 'ERR_INVALID_ARGUMENT'],
      [() => wal.append(42 as unknown as string, 'x'), 'ERR_INVALID_ARGUMENT'],
      [() => wal.append('t', 42), 'ERR_INVALID_ARGUMENT'],
      [() => wal.append('t', null), 'ERR_INVALID_ARGUMENT'],
      [() => wal.append('\ud800', 'x'), 'ERR_INVALID_ARGUMENT'],
      [() => wal.append('x'.repeat(5000), 'x'), 'ERR_INVALID_ARGUMENT'],
      [() => wal.append('t', new Uint8Array(1025)), 'ERR_TOO_LARGE'],
      [() => wal.batchAppend('t', ['a', 'b', 'c', 'd']), 'ERR_TOO_LARGE'],
      [() => wal.batchAppend('t', 'abc'), 'ERR_INVALID_ARGUMENT'],
      [() => wal.batchRead('t', { maxBytes: -1 }), 'ERR_INVALID_ARGUMENT'],
      [() => wal.batchRead('t', { maxBytes: Number.NaN }), 'ERR_INVALID_ARGUMENT'],
      [() => wal.batchRead('t', undefined as unknown as { maxBytes: number }), 'ERR_INVALID_ARGUMENT'],
      [() => wal.readNext('t', { checkpoint: 'yes' as unknown as boolean }), 'ERR_INVALID_ARGUMENT'],
    ];
    for (const [call, code] of bad) {
      const err = await call().catch((e: unknown) => e);
      expect(err, String(call)).toBeInstanceOf(WalError);
      expect((err as WalError).code, String(call)).toBe(code);
    }
    expect(await wal.topics()).toEqual([]);
    await wal.append('t', 'still works');
    expect((await wal.readNext('t'))?.text()).toBe('still works');
  });

  it('rejects bad options before touching the disk', async () => {
    const dir = tempDir();
    for (const options of [
      { fsync: 'sometimes' },
      { writers: 0 },
      { ringBytes: 1000 },
      { blockBytes: 3000 },
      { readConsistency: 'maybe' },
      { nope: 1 },
    ]) {
      const err = await openWal({ dir: path.join(dir, 'x'), ...(options as object) }).catch((e: unknown) => e);
      expect((err as WalError).code).toBe('ERR_INVALID_ARGUMENT');
    }
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
  });
});

describe('object codec (msgpack): JS values round-trip and share a topic with raw entries', () => {
  it('round-trips values', async () => {
    const wal = await openWal({ ...SMALL, codec: 'msgpack' });
    const value = { n: 1, s: 'two', d: new Date(3), m: new Map([[1, 'x']]), big: 2n ** 60n, list: [1, 2, 3] };
    await wal.append('obj', value);
    await wal.append('obj', 'plain text');
    const a = await wal.readNext('obj');
    const b = await wal.readNext('obj');
    expect(a?.codec).toBe('msgpack');
    expect(a?.value).toEqual(value);
    expect(b?.codec).toBe('raw');
    expect(b?.text()).toBe('plain text');
  });
});

describe('concurrent writers and readers on one topic: no duplicates, no loss, order kept', () => {
  it('delivers every entry once, in order, while appends and reads interleave', async () => {
    const wal = await openWal(SMALL);
    const total = 5000;
    let produced = 0;
    const producers = Array.from({ length: 4 }, async (_, p) => {
      for (let i = 0; i < total / 4; i++) {
        await wal.append('shared', `${p}:${i}`);
        produced++;
      }
    });
    const seen: Array<{ seq: number; text: string }> = [];
    const consumers = Array.from({ length: 3 }, async (_, c) => {
      while (seen.length < total) {
        const batch =
          c === 0
            ? await wal.batchRead('shared', { maxBytes: 200 })
            : [await wal.readNext('shared')].filter((e) => e !== null);
        if (batch.length === 0) await new Promise((r) => setTimeout(r, 1));
        for (const e of batch) seen.push({ seq: e!.seq, text: e!.text() });
      }
    });
    await Promise.all([...producers, ...consumers]);
    expect(produced).toBe(total);
    expect(seen.length).toBe(total);
    expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i));
    // each producer's entries come out in the order it appended them
    for (let p = 0; p < 4; p++) {
      const mine = seen.filter((e) => e.text.startsWith(`${p}:`)).map((e) => Number(e.text.split(':')[1]));
      expect(mine).toEqual(Array.from({ length: total / 4 }, (_, i) => i));
    }
  });
});

describe('rule D18 (docs/SEMANTICS.md): Entry.timeMs — the append time, never decreasing within a topic', () => {
  it('is stamped by the writer, shared by an atomic batch, non-decreasing per topic across rolls and a reopen with other writers', async () => {
    const dir = tempDir();
    const topics = ['t0', 't1', 't2', 't3'];
    const firstBefore = Date.now();
    let wal = await openWal({ ...SMALL, dir, writers: 2 });
    for (let round = 0; round < 40; round++) {
      const topic = topics[round % topics.length]!;
      if (round % 5 === 0)
        await wal.batchAppend(
          topic,
          ['b0', 'b1', 'b2'].map((s) => `${s}-${'x'.repeat(2000)}`),
        );
      else await wal.append(topic, `r${round}-${'y'.repeat(3000)}`);
    }
    const firstAfter = Date.now();
    await wal.close();
    // Another writer count moves topics to other writers: their times must still not go back.
    wal = await openWal({ ...SMALL, dir, writers: 3 });
    for (const topic of topics) await wal.append(topic, 'after reopen');
    const secondAfter = Date.now();
    expect(listSegments(nodeFileIo, dir).length).toBeGreaterThan(2);
    for (const topic of topics) {
      const entries = await wal.batchRead(topic, { maxBytes: Infinity, checkpoint: false });
      const times = entries.map((e) => e.timeMs);
      expect(times.every((t) => Number.isSafeInteger(t))).toBe(true);
      for (let i = 1; i < times.length; i++) expect(times[i]!, `${topic}#${i}`).toBeGreaterThanOrEqual(times[i - 1]!);
      // Every entry was appended within the run that wrote it (the clock here moves forward).
      const old = times.slice(0, -1);
      expect(Math.min(...old)).toBeGreaterThanOrEqual(firstBefore);
      expect(Math.max(...old)).toBeLessThanOrEqual(firstAfter);
      expect(times.at(-1)!).toBeLessThanOrEqual(secondAfter);
      // One time per positional write: the entries of an atomic batch share theirs.
      const batch = entries.filter((e) => e.text().startsWith('b'));
      for (let i = 0; i < batch.length; i += 3)
        expect(new Set(batch.slice(i, i + 3).map((e) => e.timeMs)).size).toBe(1);
    }
    await wal.close();
  });
});
