/**
 * Reads on the main thread (docs/ARCHITECTURE.md, Reads): entries are read from the segment files
 * through the main thread's own index, fed by the writers' run logs. These tests pin what that must
 * keep of docs/SEMANTICS.md: read-your-writes even after a run log overflowed (rule 1), each entry
 * handed out once to concurrent strictly-at-once readers, and one cursor-log write per event-loop
 * turn — never a read resolved before its record (rule 3; test/crash/sigkill.test.ts kills it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CURSOR_RECORD_BYTES } from '../../src/storage/cursor-store.js';
import { DEFAULT_RUN_LOG_RECORDS } from '../../src/engine/shared/run-log.js';
import { SMALL, openWal, tempDir } from '../helpers/wal.js';

function cursorLogBytes(dir: string): number {
  const logs = fs.readdirSync(dir).filter((f) => /^cursors-[0-9a-f]{8}\.log$/.test(f));
  return logs.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

describe('rule 1 (docs/SEMANTICS.md): a read finds every acknowledged append', () => {
  it('also after more writes than the run log holds went unread (its overflow is resynchronised)', async () => {
    const wal = await openWal({ dir: tempDir(), writers: 1, fsync: 'none', readConsistency: 'strictly-at-once' });
    // One awaited append per write: one run-log record each, more than the log holds.
    const total = DEFAULT_RUN_LOG_RECORDS + 500;
    for (let i = 0; i < total; i++) await wal.append('t', `e${i}`);
    const seen: number[] = [];
    for (;;) {
      const batch = await wal.batchRead('t', { maxBytes: 1024 * 1024 });
      if (batch.length === 0) break;
      for (const e of batch) seen.push(Number(e.text().slice(1)));
    }
    expect(seen.length).toBe(total);
    expect(seen.every((v, i) => v === i)).toBe(true);
    // And the log is followed again after the resync.
    await wal.append('t', 'after');
    expect((await wal.readNext('t'))?.text()).toBe('after');
  }, 120_000);

  it('entries written across segment rolls, read while the writer keeps writing', async () => {
    const wal = await openWal({ ...SMALL, dir: tempDir(), fsync: 'none' });
    const total = 3000;
    const producing = (async () => {
      for (let i = 0; i < total; i += 10)
        await wal.batchAppend(
          't',
          Array.from({ length: 10 }, (_, k) => `${i + k}:${'p'.repeat(200)}`),
        );
    })();
    const seen: number[] = [];
    while (seen.length < total) {
      const batch = await wal.batchRead('t', { maxBytes: 8 * 1024 });
      for (const e of batch) seen.push(Number(e.text().split(':')[0]));
      if (batch.length === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await producing;
    expect(seen.every((v, i) => v === i)).toBe(true);
  });
  it('topics whose frames interleave, read by one consumer each while the writer keeps writing (shared read windows)', async () => {
    const wal = await openWal({ dir: tempDir(), writers: 1, fsync: 'none' });
    const topics = Array.from({ length: 16 }, (_, i) => `t${i}`);
    const perTopic = 600;
    const producing = (async () => {
      for (let i = 0; i < perTopic; i += 20)
        await Promise.all(
          Array.from({ length: 20 * topics.length }, (_, k) =>
            wal.append(topics[k % topics.length]!, `${i + Math.floor(k / topics.length)}:${'p'.repeat(900 + (k % 7))}`),
          ),
        );
    })();
    const seen = topics.map((): number[] => []);
    const done = () => seen.every((s) => s.length >= perTopic);
    while (!done()) {
      let got = 0;
      for (let t = 0; t < topics.length; t++) {
        // Small batches: the consumers stay close together, within the windows they share.
        const batch = await wal.batchRead(topics[t]!, { maxBytes: 4 * 1024 });
        for (const e of batch) {
          const [seq, pad] = e.text().split(':');
          expect(pad!.length).toBeGreaterThanOrEqual(900);
          seen[t]!.push(Number(seq));
        }
        got += batch.length;
      }
      if (got === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await producing;
    for (const s of seen) expect(s).toEqual(Array.from({ length: perTopic }, (_, i) => i));
  });
});

describe('rule 1 (docs/SEMANTICS.md): a reader of one of many interleaved topics finds its entries, not theirs', () => {
  /** 16 topics, single appends and batches mixed, so writes hold one or several entries of a topic. */
  async function writeInterleaved(wal: Awaited<ReturnType<typeof openWal>>, topics: string[], rounds: number) {
    for (let r = 0; r < rounds; r++) {
      const pending: Promise<unknown>[] = [];
      topics.forEach((t, k) => {
        if ((r + k) % 5 === 0) pending.push(wal.batchAppend(t, [`${t}:${r}a:${'x'.repeat(k * 13)}`, `${t}:${r}b`]));
        else pending.push(wal.append(t, `${t}:${r}:${'y'.repeat((r * 7 + k) % 300)}`));
      });
      await Promise.all(pending);
    }
  }
  function expected(t: string, k: number, rounds: number): string[] {
    const out: string[] = [];
    for (let r = 0; r < rounds; r++) {
      if ((r + k) % 5 === 0) out.push(`${t}:${r}a:${'x'.repeat(k * 13)}`, `${t}:${r}b`);
      else out.push(`${t}:${r}:${'y'.repeat((r * 7 + k) % 300)}`);
    }
    return out;
  }
  async function readAll(read: (maxBytes: number) => Promise<{ text(): string }[]>, maxBytes: number) {
    const out: string[] = [];
    for (;;) {
      const batch = await read(maxBytes);
      if (batch.length === 0) return out;
      for (const e of batch) out.push(e.text());
    }
  }

  it('read whole after the writes (where this process wrote them) and again after a reopen (from the scan)', async () => {
    const dir = tempDir();
    const topics = Array.from({ length: 16 }, (_, i) => `t${i}`);
    const rounds = 400;
    let wal = await openWal({ dir, writers: 1, fsync: 'none' });
    await writeInterleaved(wal, topics, rounds);
    for (const [k, t] of topics.entries()) {
      // Large batches read in place, small ones through the shared window: both paths, each topic.
      const maxBytes = k % 2 === 0 ? 1024 * 1024 : 2 * 1024;
      expect(await readAll((m) => wal.batchRead(t, { maxBytes: m }), maxBytes)).toEqual(expected(t, k, rounds));
    }
    await wal.close();
    wal = await openWal({ dir, writers: 1, fsync: 'none' });
    const again = wal.consumer('again', { startAt: 'earliest' });
    for (const [k, t] of topics.entries()) {
      const maxBytes = k % 2 === 0 ? 2 * 1024 : 1024 * 1024;
      expect(await readAll((m) => again.batchRead(t, { maxBytes: m }), maxBytes)).toEqual(expected(t, k, rounds));
    }
    await wal.close();
  });

  it('a frame damaged after it was written: its topic reads ERR_CORRUPT, the others still read exactly their entries', async () => {
    const dir = tempDir();
    const topics = Array.from({ length: 4 }, (_, i) => `t${i}`);
    const rounds = 200;
    const wal = await openWal({ dir, writers: 1, fsync: 'none' });
    await writeInterleaved(wal, topics, rounds);
    await wal.flush();
    // Entry 100 of t1: its header's payload length (bytes 8–11) gains 8, so a walk that trusted it
    // would land 8 bytes into the next frame.
    const segment = fs.readdirSync(dir).find((f) => f.endsWith('.seg'))!;
    const file = path.join(dir, segment);
    const bytes = fs.readFileSync(file);
    const at = bytes.indexOf(Buffer.from(`t1:100:`)) - 40;
    expect(at).toBeGreaterThan(0);
    const lengthAt = at + 8;
    bytes.writeUInt32LE(bytes.readUInt32LE(lengthAt) + 8, lengthAt);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, bytes, lengthAt, 4, lengthAt);
    fs.closeSync(fd);
    for (const [k, t] of topics.entries()) {
      if (t === 't1') continue;
      expect(await readAll((m) => wal.batchRead(t, { maxBytes: m }), 1024 * 1024)).toEqual(expected(t, k, rounds));
    }
    const before = expected('t1', 1, rounds).findIndex((e) => e.startsWith('t1:100:'));
    const t1: string[] = [];
    let error: unknown = null;
    try {
      for (;;) {
        const batch = await wal.batchRead('t1', { maxBytes: 4096 });
        if (batch.length === 0) break;
        for (const e of batch) t1.push(e.text());
      }
    } catch (err) {
      error = err;
    }
    expect((error as { code?: string } | null)?.code).toBe('ERR_CORRUPT');
    // What was handed out before the error is exactly t1's entries, none past the damage.
    expect(t1.length).toBeLessThanOrEqual(before);
    expect(t1).toEqual(expected('t1', 1, rounds).slice(0, t1.length));
    await wal.close();
  });
});

describe('rule 3 (docs/SEMANTICS.md): strictly-at-once hands each entry to one reader, its cursor stored first', () => {
  it('concurrent readNext and batchRead calls of one topic get each entry exactly once', async () => {
    const wal = await openWal({ dir: tempDir(), fsync: 'none', readConsistency: 'strictly-at-once' });
    const total = 2000;
    await wal.batchAppend(
      't',
      Array.from({ length: 1000 }, (_, i) => `${i}`),
    );
    await wal.batchAppend(
      't',
      Array.from({ length: 1000 }, (_, i) => `${1000 + i}`),
    );
    const got: number[] = [];
    for (let round = 0; got.length < total && round < 1000; round++) {
      const calls = [
        ...Array.from({ length: 20 }, () => wal.readNext('t').then((e) => (e ? [e] : []))),
        wal.batchRead('t', { maxBytes: 300 }),
      ];
      for (const entries of await Promise.all(calls)) for (const e of entries) got.push(Number(e.text()));
    }
    expect(got.length).toBe(total);
    expect(new Set(got).size).toBe(total);
    expect(await wal.readNext('t')).toBeNull();
  });

  it('reads settled in one event-loop turn share one cursor-log write', async () => {
    const dir = tempDir();
    const wal = await openWal({ dir, fsync: 'none', readConsistency: 'strictly-at-once' });
    await wal.batchAppend(
      't',
      Array.from({ length: 100 }, (_, i) => `${i}`),
    );
    await wal.readNext('t'); // the read-ahead cache is filled; its record is written
    const before = cursorLogBytes(dir);
    await new Promise((resolve) => setImmediate(resolve)); // a fresh turn: its read budget is unused
    const entries = await Promise.all(Array.from({ length: 50 }, () => wal.readNext('t')));
    expect(entries.map((e) => Number(e!.text()))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // Fifty reads, one record (the cursor after the last of them) — or two, if a stall of the
    // machine used up the turn's read budget and the rest were served in the next turn.
    const written = cursorLogBytes(dir) - before;
    expect(written).toBeGreaterThanOrEqual(CURSOR_RECORD_BYTES);
    expect(written).toBeLessThanOrEqual(2 * CURSOR_RECORD_BYTES);
    await wal.close();
    const again = await openWal({ dir, fsync: 'none', readConsistency: 'strictly-at-once' });
    expect((await again.readNext('t'))?.text()).toBe('51');
  });
});

describe('reads keep the event loop turning (docs/ARCHITECTURE.md, Reads)', () => {
  for (const call of ['batchRead', 'readNext', 'get'] as const) {
    it(`a ${call} loop over a hot backlog lets a timer run before the backlog is gone`, async () => {
      const wal = await openWal({
        dir: tempDir(),
        fsync: 'none',
        readConsistency: { atLeastOnce: { persistEvery: 1000 } },
      });
      const total = 20_000;
      const payload = 'x'.repeat(1024);
      for (let i = 0; i < total; i += 1000)
        await wal.batchAppend(
          't',
          Array.from({ length: 1000 }, () => payload),
        );
      let timerRanAt = -1;
      let read = 0;
      setTimeout(() => (timerRanAt = read), 0);
      // Served from the page cache, every read could resolve in a microtask: without a yield the
      // timer would only run once the loop is over.
      while (read < total) {
        if (call === 'batchRead') read += (await wal.batchRead('t', { maxBytes: 64 * 1024 })).length;
        else if (call === 'get') read += (await wal.get('t', read)) ? 1 : 0;
        else if (await wal.readNext('t')) read++;
      }
      expect(timerRanAt).toBeGreaterThanOrEqual(0);
      expect(timerRanAt).toBeLessThan(total);
    });
  }
});

describe('a reader holds no entry it handed out (docs/ARCHITECTURE.md, Reads)', () => {
  it('a batchRead loop that always keeps a chunk read ahead lets consumed entries be collected', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const wal = await openWal({ dir: tempDir(), fsync: 'none', readConsistency: 'strictly-at-once' });
    const payload = 'x'.repeat(1024);
    for (let i = 0; i < 6; i++)
      await wal.batchAppend(
        't',
        Array.from({ length: 1000 }, () => payload),
      );
    // Batches smaller than a read chunk: every read leaves entries cached for the next one.
    let first: WeakRef<object> | null = null;
    let read = 0;
    while (read < 5000) {
      const batch = await wal.batchRead('t', { maxBytes: 64 * 1024 });
      first ??= new WeakRef(batch[0]!);
      read += batch.length;
    }
    await new Promise((resolve) => setImmediate(resolve)); // a WeakRef target is kept for the turn
    gc();
    expect(first!.deref()).toBeUndefined();
  });
});
