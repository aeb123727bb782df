import { describe, expect, it } from 'vitest';
import { cpuSharesPct, cpuTicks } from '../drive/cpu-stat.js';
import { runDrainLoop } from '../drive/drain-loop.js';
import { runOpenLoop } from '../drive/open-loop.js';
import { runSyncLoop } from '../drive/sync-loop.js';
import { throughputMetrics } from '../drive/throughput.js';
import { runWindowedLoop } from '../drive/windowed-loop.js';

const later = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('runSyncLoop', () => {
  it('calls the operation with consecutive indexes and times every call', () => {
    const seen: number[] = [];
    const run = runSyncLoop((i) => void seen.push(i), 10, 5);
    expect(run.ops).toBeGreaterThan(0);
    expect(seen).toEqual(Array.from({ length: run.ops }, (_, i) => i));
    expect(run.entries).toBe(run.ops * 10);
    expect(run.histogram.count).toBe(run.ops);
  });
});

describe('runWindowedLoop', () => {
  it('never has more than `window` operations pending, and waits for all of them', async () => {
    let pending = 0;
    let maxPending = 0;
    let resolved = 0;
    const op = async (): Promise<void> => {
      pending++;
      maxPending = Math.max(maxPending, pending);
      await later();
      pending--;
      resolved++;
    };
    const run = await runWindowedLoop(op, { window: 7, entriesPerOp: 2, durationMs: 20 });
    expect(maxPending).toBe(7);
    expect(pending).toBe(0);
    expect(resolved).toBe(run.ops);
    expect(run.entries).toBe(run.ops * 2);
  });

  it('stops at maxOps', async () => {
    const run = await runWindowedLoop(later, {
      window: 4,
      entriesPerOp: 1,
      durationMs: Number.POSITIVE_INFINITY,
      maxOps: 1000,
    });
    expect(run.ops).toBe(1000);
  });

  it('rejects with the first failure and leaves no unhandled rejection', async () => {
    const op = (i: number): Promise<void> => (i === 5 ? Promise.reject(new Error('disk on fire')) : later());
    await expect(runWindowedLoop(op, { window: 3, entriesPerOp: 1, durationMs: 1000 })).rejects.toThrow('disk on fire');
  });

  it('rejects a window that is not a positive integer', async () => {
    await expect(runWindowedLoop(later, { window: 0, entriesPerOp: 1, durationMs: 1 })).rejects.toThrow(RangeError);
  });
});

describe('runOpenLoop', () => {
  it('records one latency per completed operation, sync or async', async () => {
    const run = await runOpenLoop((i) => (i % 2 === 0 ? undefined : later()), {
      ratePerSec: 20_000,
      durationMs: 20,
      maxOutstanding: 1e6,
      drainTimeoutMs: 5000,
    });
    expect(run.issued).toBeGreaterThan(0);
    expect(run.completed).toBe(run.issued);
    expect(run.histogram.count).toBe(run.completed);
    expect(run.overloaded).toBe(false);
  });

  it('stops offering and says so once too many operations are pending', async () => {
    const slow = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
    const run = await runOpenLoop(slow, {
      ratePerSec: 1e7,
      durationMs: 10_000,
      maxOutstanding: 5,
      drainTimeoutMs: 5000,
    });
    expect(run.overloaded).toBe(true);
    expect(run.completed).toBe(run.issued);
  });

  it('measures from the time an operation was due, so a stall delays the ones behind it', async () => {
    let first = true;
    const stallOnce = (): void => {
      if (!first) return;
      first = false;
      const until = performance.now() + 30;
      while (performance.now() < until);
    };
    const run = await runOpenLoop(stallOnce, {
      ratePerSec: 100_000,
      durationMs: 40,
      maxOutstanding: 1e6,
      drainTimeoutMs: 5000,
    });
    // Operations due during the 30 ms stall ran after it: their latency includes the wait.
    expect(run.histogram.percentile(50)).toBeGreaterThan(1e6);
  });

  it('offers the warm-up like the rest but records only the measured period', async () => {
    const seen: number[] = [];
    const run = await runOpenLoop((i) => void seen.push(i), {
      ratePerSec: 10_000,
      durationMs: 20,
      warmupMs: 10,
      maxOutstanding: 1e6,
      drainTimeoutMs: 5000,
    });
    // 10 ms at 10,000/s: the first 100 operations are the warm-up.
    expect(seen.slice(0, 101)).toEqual(Array.from({ length: 101 }, (_, i) => i));
    expect(run.issued).toBe(seen.length - 100);
    expect(run.completed).toBe(run.issued);
    expect(run.histogram.count).toBe(run.completed);
  });

  it('rethrows a failed operation after the others settled', async () => {
    const op = (i: number): Promise<void> => (i === 3 ? Promise.reject(new Error('boom')) : later());
    await expect(
      runOpenLoop(op, { ratePerSec: 100_000, durationMs: 50, maxOutstanding: 1e6, drainTimeoutMs: 5000 }),
    ).rejects.toThrow('boom');
  });
});

describe('runDrainLoop', () => {
  it('reads until the reader has nothing more and counts entries', async () => {
    let left = 10;
    const run = await runDrainLoop(() => {
      const n = Math.min(3, left);
      left -= n;
      return n;
    }, 60_000);
    expect(run.entries).toBe(10);
    expect(run.ops).toBe(4);
    expect(run.exhausted).toBe(true);
  });
});

describe('throughputMetrics', () => {
  it('derives entries/s and payload MB/s from the run', async () => {
    const run = runSyncLoop(() => {}, 1, 1);
    const m = throughputMetrics({ ...run, entries: 2_000_000, seconds: 2 }, 100);
    expect(m.entriesPerSec).toBe(1_000_000);
    expect(m.mbPerSec).toBe(100);
    expect(m.p50Us).toBeGreaterThan(0);
  });
});

describe('cpuSharesPct', () => {
  it('is the iowait and steal share of the CPU time between two snapshots', () => {
    const from = { total: 1000, iowait: 10, steal: 5 };
    expect(cpuSharesPct(from, { total: 1400, iowait: 50, steal: 25 })).toEqual({ iowaitPct: 10, stealPct: 5 });
    expect(cpuSharesPct(from, from)).toEqual({ iowaitPct: 0, stealPct: 0 });
  });

  it.runIf(process.platform === 'linux')('reads whole-machine counters that only grow (Linux)', () => {
    const a = cpuTicks();
    const b = cpuTicks();
    expect(a).toBeDefined();
    expect(b!.total).toBeGreaterThanOrEqual(a!.total);
    expect(a!.iowait + a!.steal).toBeLessThanOrEqual(a!.total);
  });
});
