/**
 * docs/SEMANTICS.md rule F8: the flusher worker dying mid-load. The test hook is a fault-plan rule
 * with `crash: true` (test/tools/faulty-file-io.ts): the flusher's FileIo calls `process.exit`
 * inside the worker on the chosen call, which ends that thread exactly as a native crash would.
 * Every pending operation must reject with ERR_WORKER_FAILED within a bounded time, nothing hangs,
 * every later call rejects too, close() settles and releases the lock, and a reopen recovers every
 * acknowledged append (in order) and never redelivers a consumed entry.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WalError, type FsyncMode, type Walrus } from '../../dist/src/index.js';
import type { FaultPlan } from '../tools/faulty-file-io.js';
import { SMALL_WHOLE_TOPIC, drainTexts, openWithFaults, tempDir } from '../helpers/wal.js';
import { within } from '../helpers/within.js';

const OPTIONS = SMALL_WHOLE_TOPIC;

function expectWorkerFailed(err: unknown, label: string): void {
  expect(err, `${label}: ${String(err)}`).toBeInstanceOf(WalError);
  expect((err as WalError).code, `${label}: ${String(err)}`).toBe('ERR_WORKER_FAILED');
}

async function rejection(p: Promise<unknown>, label: string): Promise<unknown> {
  return within(p, label).then(
    () => new Error(`${label} resolved, expected a rejection`),
    (err: unknown) => err,
  );
}

/** Every public call except stats() and close(). */
function everyCall(wal: Walrus): Record<string, () => Promise<unknown>> {
  return {
    append: () => wal.append('t0', 'late'),
    batchAppend: () => wal.batchAppend('t0', ['late-a', 'late-b']),
    readNext: () => wal.readNext('t0'),
    batchRead: () => wal.batchRead('t0', { maxBytes: 100 }),
    count: () => wal.count('t0'),
    topics: () => wal.topics(),
    sync: () => wal.sync(),
    verify: () => wal.verify(),
    reclaim: () => wal.reclaim(),
    waitForWrites: () => wal.waitForWrites('t0', { timeoutMs: 10 }),
  };
}

/**
 * Producers append to 4 topics in waves, a consumer checkpoints t0 as it goes; the flusher is
 * armed to die once some load ran. Returns what was acknowledged and consumed.
 */
async function loadUntilDeath(
  wal: Walrus,
  armed: string,
  fsync: FsyncMode,
): Promise<{ acked: Map<string, string[]>; consumed: string[]; pending: PromiseSettledResult<unknown>[] }> {
  const topics = ['t0', 't1', 't2', 't3'];
  const acked = new Map(topics.map((t) => [t, [] as string[]]));
  const consumed: string[] = [];
  let n = 0;
  // ~1 KiB per entry, so the load rolls segments (new files: directory fsyncs) on both writers.
  const pad = '.'.repeat(1000);
  const track = (topic: string, texts: string[], p: Promise<void>): Promise<void> =>
    p.then(() => {
      acked.get(topic)!.push(...texts);
    });
  // Unarmed: a few waves that all succeed.
  for (let wave = 0; wave < 3; wave++) {
    await within(
      Promise.all(topics.map((t) => track(t, [`${t}-${n}${pad}`], wal.append(t, `${t}-${n}${pad}`)))),
      'warm-up',
    );
    n++;
  }
  const first = await within(wal.readNext('t0'), 'first read');
  consumed.push(first!.text());

  // Armed mid-load: a flood of appends, batches, reads and syncs in flight while the flusher dies.
  fs.writeFileSync(armed, '');
  const inFlight: Array<Promise<unknown>> = [];
  for (let wave = 0; wave < 40; wave++) {
    for (const t of topics) {
      const text = `${t}-${n}${pad}`;
      inFlight.push(track(t, [text], wal.append(t, text)));
      if (wave % 5 === 0) {
        const batch = [`${t}-${n}.a${pad}`, `${t}-${n}.b${pad}`];
        inFlight.push(track(t, batch, wal.batchAppend(t, batch)));
      }
    }
    n++;
    if (wave % 10 === 0) inFlight.push(wal.sync());
    inFlight.push(
      wal.readNext('t0').then((e) => {
        if (e) consumed.push(e.text());
      }),
    );
  }
  const pending = await within(Promise.allSettled(inFlight), `pending operations (fsync ${JSON.stringify(fsync)})`);
  return { acked, consumed, pending };
}

describe('the flusher dies mid-load', () => {
  const cases: Array<[string, FsyncMode, (armed: string) => FaultPlan]> = [
    // 'each': every append waits for the flusher, so the death strands all of them.
    [
      "fsync 'each', dies in an fdatasync",
      'each',
      (armed) => [{ op: 'fdatasync', crash: true, whenFileExists: armed, thread: 'flusher' }],
    ],
    // { intervalMs }: appends resolve when written; sync() and cursor persistence need the flusher.
    [
      'fsync { intervalMs: 20 }, dies in an fdatasync',
      { intervalMs: 20 },
      (armed) => [{ op: 'fdatasync', crash: true, whenFileExists: armed, thread: 'flusher' }],
    ],
    // A death on the directory fsync after a new segment, the other half of a round.
    [
      "fsync 'each', dies in a directory fsync",
      'each',
      (armed) => [{ op: 'fsyncDir', crash: true, whenFileExists: armed, thread: 'flusher' }],
    ],
  ];

  it.each(cases)(
    '%s: everything pending rejects with ERR_WORKER_FAILED, reopen recovers',
    async (_label, fsync, plan) => {
      const dir = tempDir('walrus-flusher-death-');
      const armed = path.join(dir, 'armed');
      const walDir = path.join(dir, 'wal');
      const wal = await openWithFaults(walDir, { ...OPTIONS, fsync }, plan(armed));
      const { acked, consumed, pending } = await loadUntilDeath(wal, armed, fsync);

      const rejected = pending.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      for (const r of rejected) expectWorkerFailed(r.reason, 'a pending operation');
      if (fsync === 'each') {
        // Nothing written after the death can have been made durable, so appends did reject.
        expect(rejected.length).toBeGreaterThan(0);
      }
      // The death is recorded, and every later call rejects with it (before close: not ERR_CLOSED).
      const stats = await within(wal.stats(), 'stats');
      expect(stats.failed).toBe('ERR_WORKER_FAILED');
      for (const [name, call] of Object.entries(everyCall(wal)))
        expectWorkerFailed(await rejection(call(), name), name);
      // close settles and releases the lock (the dead flusher cannot make anything durable).
      await within(
        wal.close().catch(() => undefined),
        'close',
      );
      await expect(within(wal.append('t0', 'x'), 'append after close')).rejects.toMatchObject({ code: 'ERR_CLOSED' });

      const again = await openWithFaults(walDir, { ...OPTIONS, fsync }, null);
      for (const [topic, texts] of acked) {
        const got = await drainTexts(again, topic);
        const expected = topic === 't0' ? texts.filter((t) => !consumed.includes(t)) : texts;
        // Every acknowledged append is back in order; written-but-unacknowledged ones may sit between.
        expect(
          isSubsequence(expected, got),
          `${topic}: acknowledged ${JSON.stringify(expected.slice(0, 5))}… not all in ${JSON.stringify(got.slice(0, 5))}…`,
        ).toBe(true);
        // Never a consumed entry again.
        for (const c of consumed) expect(got).not.toContain(c);
      }
      expect((await within(again.stats(), 'stats after reopen')).failed).toBeNull();
    },
  );

  it('dies while writing a CURSORS snapshot: reclaim rejects ERR_WORKER_FAILED, consumed entries stay consumed', async () => {
    const dir = tempDir('walrus-flusher-death-');
    const armed = path.join(dir, 'armed');
    const walDir = path.join(dir, 'wal');
    const wal = await openWithFaults(walDir, { ...OPTIONS, fsync: 'each' }, [
      { op: 'rename', pathIncludes: 'CURSORS', crash: true, whenFileExists: armed, thread: 'flusher' },
    ]);
    const texts = Array.from({ length: 100 }, (_, i) => `m${i}`);
    await within(Promise.all(texts.map((t) => wal.append('q', t))), 'appends');
    for (let i = 0; i < 30; i++) expect((await within(wal.readNext('q'), 'read'))?.text()).toBe(`m${i}`);
    fs.writeFileSync(armed, '');
    const tail = wal.append('q', 'pending-during-death');
    expectWorkerFailed(await rejection(wal.reclaim(), 'reclaim'), 'reclaim');
    await within(
      tail.catch(() => undefined),
      'tail append',
    );
    for (const [name, call] of Object.entries(everyCall(wal))) expectWorkerFailed(await rejection(call(), name), name);
    await within(
      wal.close().catch(() => undefined),
      'close',
    );

    const again = await openWithFaults(walDir, { ...OPTIONS, fsync: 'each' }, null);
    const got = await drainTexts(again, 'q');
    expect(got.slice(0, 70)).toEqual(texts.slice(30));
    expect(got.slice(70).every((t) => t === 'pending-during-death')).toBe(true);
  });
});

function isSubsequence(needles: string[], haystack: string[]): boolean {
  let i = 0;
  for (const h of haystack) if (i < needles.length && h === needles[i]) i++;
  return i === needles.length;
}
