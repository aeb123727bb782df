/**
 * docs/SEMANTICS.md rule F8: a worker that dies rejects every pending operation with a clear
 * error, nothing hangs, and the next open recovers everything that was acknowledged.
 */
import { describe, expect, it } from 'vitest';
import { WalError } from '../../dist/src/index.js';
import type { FaultPlan } from '../tools/faulty-file-io.js';
import { SMALL, drain, openWal, openWithFaults, tempDir } from '../helpers/wal.js';

/**
 * The writer's second write to a segment ends the worker (`process.exit` in its FileIo, test/tools/):
 * the first commit (the segment header and e0) is written and acknowledged, the appends behind it
 * can never be.
 */
const WRITER_DIES_AT_SECOND_WRITE: FaultPlan = [
  { op: 'pwrite', pathIncludes: '.seg', thread: 'writer', after: 1, crash: true },
];

describe('worker death: pending operations reject with ERR_WORKER_FAILED, reopen recovers', () => {
  it('rejects every pending append and later call, then recovers the acknowledged ones', async () => {
    const dir = tempDir();
    const wal = await openWithFaults(dir, { ...SMALL, writers: 1 }, WRITER_DIES_AT_SECOND_WRITE);
    await wal.append('t', 'e0');
    const acknowledged: number[] = [0];
    const outcomes = await Promise.allSettled(
      Array.from({ length: 2000 }, (_, i) =>
        wal.append('t', `e${i + 1}`).then(() => {
          acknowledged.push(i + 1);
        }),
      ),
    );
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    expect(rejected.length).toBe(2000);
    for (const r of rejected) {
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(WalError);
      expect(((r as PromiseRejectedResult).reason as WalError).code).toBe('ERR_WORKER_FAILED');
    }
    await expect(wal.append('t', 'later')).rejects.toMatchObject({ code: 'ERR_WORKER_FAILED' });
    await expect(wal.readNext('t')).rejects.toMatchObject({ code: 'ERR_WORKER_FAILED' });
    await wal.close();

    const again = await openWal({ ...SMALL, dir, writers: 1 });
    // A WAL that failed writes no clean-shutdown record at close (docs/FORMAT.md §16).
    expect((await again.stats()).recovery.cleanShutdown.found).toBe(false);
    const texts = (await drain(again, 't')).map((e) => e.text);
    // everything acknowledged is there, in order (a written-but-unacknowledged tail may be too)
    expect(texts.length).toBeGreaterThanOrEqual(acknowledged.length);
    expect(texts.slice(0, acknowledged.length)).toEqual(acknowledged.map((i) => `e${i}`));
    texts.forEach((t, i) => expect(t).toBe(`e${i}`));
  });
});
