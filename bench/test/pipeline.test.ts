import * as fs from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { lateByMs, measureLoopDelay } from '../drive/loop-delay.js';
import { pipelineMetrics, runPipelineWindow, type PipelineCounts } from '../drive/pipeline-window.js';
import { runWindowedLoop } from '../drive/windowed-loop.js';
import { parseOptions } from '../options.js';
import type { ProgressSink } from '../report/progress.js';
import { createEnv, planCases, runPlan, type CaseResult } from '../runner.js';
import { openSqliteLog } from '../systems/sqlite.js';
import { createFakeWalrus } from './fake-walrus.js';
import { tempDir } from './temp-dir.js';

const silent: ProgressSink = { update: () => {}, note: () => {}, done: () => {} };

function busyMs(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('runPipelineWindow: one snapshot of appended and consumed at each end of the timed window', () => {
  it('counts only the window, takes the backlog at its end (warm-up included), then stops the stages', async () => {
    const counts: PipelineCounts = { appended: 0, consumed: 0 };
    let stageEnded = false;
    let signal: AbortSignal | undefined;
    const run = await runPipelineWindow(
      () => ({ ...counts }),
      (stop) => {
        signal = stop.signal;
        return [
          (async () => {
            // Two appended for one consumed, counted together: the backlog is always half of appended.
            while (!stop.stopped) {
              counts.appended += 2;
              counts.consumed += 1;
              await nextTurn();
            }
            stageEnded = true;
          })(),
        ];
      },
      { durationMs: 20, warmupMs: 20 },
    );
    expect(stageEnded).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect(run.consumed).toBeGreaterThan(0);
    expect(run.appended).toBe(2 * run.consumed);
    expect(run.appendedSinceStart).toBeGreaterThan(run.appended);
    expect(run.backlog).toBe(run.appendedSinceStart / 2);
    expect(run.loopDelay.loopP99Ms).toBeGreaterThanOrEqual(0);
  });

  it('fails at once when a stage fails, without waiting for the window', async () => {
    const failing = runPipelineWindow(
      () => ({ appended: 0, consumed: 0 }),
      () => [
        (async () => {
          await nextTurn();
          throw new Error('consumer fell over');
        })(),
      ],
      { durationMs: 600_000 },
    );
    await expect(failing).rejects.toThrow('consumer fell over');
  });

  it('fails when a stage does not stop once the window ended', async () => {
    const stuck = runPipelineWindow(
      () => ({ appended: 0, consumed: 0 }),
      () => [new Promise<void>(() => {})],
      { durationMs: 5, stopTimeoutMs: 10 },
    );
    await expect(stuck).rejects.toThrow('still running');
  });
});

describe('pipelineMetrics', () => {
  it('derives consumed/s, appended/s, the backlog and its share of everything appended', () => {
    const m = pipelineMetrics({
      appended: 300,
      consumed: 200,
      seconds: 2,
      backlog: 150,
      appendedSinceStart: 600,
      loopDelay: { loopP99Ms: 0.5, loopMaxMs: 3 },
    });
    expect(m).toEqual({
      entriesPerSec: 100,
      appendedPerSec: 150,
      backlogEntries: 150,
      backlogShare: 0.25,
      loopP99Ms: 0.5,
      loopMaxMs: 3,
    });
  });

  it('never reports a negative backlog (a read may beat its append acknowledgement)', () => {
    const m = pipelineMetrics({
      appended: 10,
      consumed: 12,
      seconds: 1,
      backlog: -2,
      appendedSinceStart: 10,
      loopDelay: {},
    });
    expect(m.backlogEntries).toBe(0);
    expect(m.backlogShare).toBe(0);
  });
});

describe('event-loop delay probe', () => {
  it('reports how late the timer ran, not the sampling interval', () => {
    expect(lateByMs(1.25e6)).toBeCloseTo(0.25);
    expect(lateByMs(0.4e6)).toBe(0);
  });

  it('sees a stall of the loop', async () => {
    const { result, loopDelay } = await measureLoopDelay(async () => {
      await new Promise((resolve) => setTimeout(resolve, 3));
      busyMs(30);
      await new Promise((resolve) => setTimeout(resolve, 3));
      return 'read';
    });
    expect(result).toBe('read');
    expect(loopDelay.loopMaxMs).toBeGreaterThanOrEqual(25);
  });

  it('counts a loop that never turned as blocked for the whole period', async () => {
    const { loopDelay } = await measureLoopDelay(async () => busyMs(20));
    expect(loopDelay.loopP99Ms).toBeGreaterThanOrEqual(20);
    expect(loopDelay.loopMaxMs).toBe(loopDelay.loopP99Ms);
  });
});

describe('runWindowedLoop as a pipeline producer', () => {
  it('stops issuing when told to, and counts what resolved as it resolves', async () => {
    const progress = { settled: 0 };
    let issued = 0;
    const run = await runWindowedLoop(
      async () => {
        issued++;
        await nextTurn();
      },
      { window: 16, entriesPerOp: 1, durationMs: Number.POSITIVE_INFINITY, stop: () => issued >= 100, progress },
    );
    // The stop is checked as often as the clock: every 64 single-entry operations.
    expect(run.ops).toBe(128);
    expect(progress.settled).toBe(run.ops);
  });
});

describe('better-sqlite3 used as a queue', () => {
  it('takes the oldest rows in append order and deletes them', () => {
    const log = openSqliteLog(tempDir(), 'NORMAL');
    try {
      const batch = Array.from({ length: 1250 }, (_, i) => Buffer.from([i & 0xff]));
      log.insertMany('t', batch);
      log.insertMany('t', batch);
      const first = log.take(1000);
      expect(first.map((r) => r.id)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      expect(log.take(1000)[0]!.id).toBe(1001);
      expect(log.readPage(0, 10_000).map((r) => r.id)).toEqual(Array.from({ length: 500 }, (_, i) => i + 2001));
      expect(log.take(1000)).toHaveLength(500);
      expect(log.take(1000)).toEqual([]);
    } finally {
      log.close();
    }
  });
});

async function runPipeline(argv: string[], walrus: ReturnType<typeof createFakeWalrus> | undefined) {
  const options = parseOptions(['--scenarios', 'pipeline', '--duration', '30ms', '--repeat', '2', ...argv]);
  const results: CaseResult[] = [];
  const env = createEnv(
    options,
    walrus ? { ok: true, api: walrus } : { ok: false, reason: 'walrus-ts not built (test)' },
    false,
    results,
  );
  const runDir = tempDir();
  await runPlan(planCases(env), env, runDir, results, silent);
  return { results, runDir };
}

describe('pipeline section', () => {
  it('runs a producer with the run window and a consumer per topic of every kind, against the public API', async () => {
    const fake = createFakeWalrus();
    const { results } = await runPipeline(['--systems', 'walrus-ts', '--window', '64'], fake);
    const kinds = ['batch-read', 'read-next-at-least-once', 'read-next-strict', 'subscribe'];
    expect(results.map((r) => r.key)).toEqual(
      ['', '-16-topics'].flatMap((suffix) => [
        `walrus.pipeline-append-only${suffix}`,
        ...kinds.map((kind) => `walrus.pipeline-${kind}${suffix}`),
        // the fan-out row (4 named consumers of one topic) follows the 1-topic rows
        ...(suffix === '' ? ['walrus.pipeline-fan-out-4'] : []),
      ]),
    );
    for (const r of results) {
      expect(r.error, r.key).toBeUndefined();
      expect(r.samples, r.key).toHaveLength(2);
      expect(r.median.appendedPerSec, r.key).toBeGreaterThan(0);
      if (r.key.includes('append-only')) {
        expect(r.median.entriesPerSec, r.key).toBeUndefined();
        continue;
      }
      expect(r.median.entriesPerSec, r.key).toBeGreaterThan(0);
      expect(r.median.ofAppendOnly, r.key).toBeGreaterThan(0);
      expect(r.median.backlogShare, r.key).toBeGreaterThanOrEqual(0);
      expect(r.median.backlogShare, r.key).toBeLessThanOrEqual(1);
      expect(r.median.loopP99Ms, r.key).toBeGreaterThanOrEqual(0);
    }
    expect(fake.maxPending).toBeLessThanOrEqual(64);
    expect(fake.openLogs).toBe(0);
    const consistencies = fake.opened.map((o) => o.readConsistency);
    expect(consistencies).toContainEqual({ atLeastOnce: { persistEvery: 1000 } });
    expect(consistencies).toContain('strictly-at-once');
    for (let i = 0; i < 16; i++) expect(fake.readTopics.has(`bench-${i}`)).toBe(true);
    expect(fake.readTopics.has('bench')).toBe(true);
  });

  it('uses the peers as queues and the one-thread ceiling, consuming what they produced, and cleans up', async () => {
    const { results, runDir } = await runPipeline(
      ['--systems', 'ceiling,better-sqlite3,lmdb', '--duration', '100ms'],
      undefined,
    );
    expect(results.map((r) => r.key)).toEqual(['ceiling.pipeline', 'sqlite.queue', 'lmdb.queue']);
    for (const r of results) {
      expect(r.error, r.key).toBeUndefined();
      expect(r.median.entriesPerSec, r.key).toBeGreaterThan(0);
      // lmdb acknowledges a put after the consumer may already see it (and, on a loaded machine,
      // none in a short window): appended/s is measured, not necessarily above zero.
      expect(r.median.appendedPerSec, r.key).toBeGreaterThanOrEqual(0);
      expect(r.median.backlogEntries, r.key).toBeGreaterThanOrEqual(0);
      expect(r.median.loopMaxMs, r.key).toBeGreaterThanOrEqual(r.median.loopP99Ms!);
    }
    expect(fs.readdirSync(runDir)).toEqual([]);
  });
});
