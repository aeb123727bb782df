import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseOptions } from '../options.js';
import type { ProgressSink } from '../report/progress.js';
import { createEnv, planCases, runPlan, type CaseResult } from '../runner.js';
import { createFakeWalrus } from './fake-walrus.js';
import { tempDir } from './temp-dir.js';

const silent: ProgressSink = { update: () => {}, note: () => {}, done: () => {} };

function setup(argv: string[], walrusOk: boolean) {
  const fake = createFakeWalrus();
  const options = parseOptions([
    ...argv,
    '--duration',
    '30ms',
    '--repeat',
    '3',
    '--window',
    '64',
    '--read-bytes',
    '1MiB',
  ]);
  const results: CaseResult[] = [];
  const env = createEnv(
    options,
    walrusOk ? { ok: true, api: fake } : { ok: false, reason: 'walrus-ts not built (test)' },
    false,
    results,
  );
  return { fake, env, results };
}

describe('planCases', () => {
  it('plans the selected sections × sizes × systems only', () => {
    const { env } = setup(['--scenarios', 'write,rss', '--systems', 'walrus-ts,ceiling', '--sizes', '100,1KiB'], true);
    const plan = planCases(env);
    expect(new Set(plan.map((p) => p.section.id))).toEqual(new Set(['write', 'rss']));
    expect(new Set(plan.map((p) => p.benchCase.system))).toEqual(new Set(['walrus-ts', 'ceiling']));
    expect(new Set(plan.filter((p) => p.section.id === 'write').map((p) => p.sizeBytes))).toEqual(new Set([100, 1024]));
    expect(new Set(plan.filter((p) => p.section.id === 'rss').map((p) => p.sizeBytes))).toEqual(new Set([1024]));
  });

  it('plans cold rows only where the page cache can be dropped', () => {
    const { env } = setup(['--scenarios', 'read'], true);
    expect(planCases(env).some((p) => p.benchCase.key.endsWith('-cold'))).toBe(false);
    const cold = createEnv(env.options, env.walrus, true, []);
    expect(planCases(cold).some((p) => p.benchCase.key.endsWith('-cold'))).toBe(true);
  });
});

describe('runPlan', () => {
  it('runs walrus-ts rows against the public API with a bounded window, `repeat` times, and cleans up', async () => {
    const { fake, env, results } = setup(['--scenarios', 'write', '--systems', 'walrus-ts', '--sizes', '100'], true);
    const runDir = tempDir();
    await runPlan(planCases(env), env, runDir, results, silent);
    expect(results.map((r) => r.key)).toEqual([
      'walrus.append-1-topic',
      'walrus.write-1-topic',
      'walrus.append-retention',
      'walrus.append-16-topics',
      'walrus.batch-100',
      'walrus.append-no-fsync',
    ]);
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.samples).toHaveLength(3);
      expect(r.median.entriesPerSec).toBeGreaterThan(0);
    }
    expect(fake.maxPending).toBeLessThanOrEqual(64);
    expect(fake.openLogs).toBe(0);
    expect(fake.opened.some((o) => o.fsync === 'none')).toBe(true);
    expect(fs.readdirSync(runDir)).toEqual([]);
  });

  it('reads back through batchRead and readNext with the asked read consistency', async () => {
    const { fake, env, results } = setup(['--scenarios', 'read', '--systems', 'walrus-ts', '--sizes', '1KiB'], true);
    await runPlan(planCases(env), env, tempDir(), results, silent);
    expect(results.map((r) => [r.key, r.error])).toEqual([
      ['walrus.batch-read', undefined],
      ['walrus.read-next-at-least-once', undefined],
      ['walrus.read-next-strict', undefined],
      ['walrus.get-random', undefined],
      ['walrus.seek-time', undefined],
    ]);
    expect(fake.opened.map((o) => o.readConsistency)).toContainEqual({ atLeastOnce: { persistEvery: 1000 } });
    expect(results[0]!.median.entriesPerSec).toBeGreaterThan(0);
    // The event loop is watched while walrus-ts reads (the read rows' loop columns).
    for (const r of results) expect(r.median.loopMaxMs, r.key).toBeGreaterThanOrEqual(r.median.loopP99Ms!);
  });

  it('skips walrus-ts rows with a clear reason when it is not built, and still runs the others', async () => {
    const { env, results } = setup(
      ['--scenarios', 'write', '--systems', 'walrus-ts,ceiling', '--sizes', '1KiB'],
      false,
    );
    await runPlan(planCases(env), env, tempDir(), results, silent);
    const walrus = results.filter((r) => r.system === 'walrus-ts');
    expect(walrus.length).toBeGreaterThan(0);
    for (const r of walrus) expect(r.skipped).toBe('walrus-ts not built');
    const ceiling = results.find((r) => r.key === 'ceiling.write-1MiB')!;
    expect(ceiling.samples).toHaveLength(3);
    expect(ceiling.median.mbPerSec).toBeCloseTo((ceiling.median.entriesPerSec! * 1024) / 1e6, 0);
  });

  it('turns a failing row into an error and carries on', async () => {
    const { env, results } = setup(['--scenarios', 'write', '--systems', 'walrus-ts,ceiling', '--sizes', '1KiB'], true);
    const broken = createEnv(
      env.options,
      { ok: true, api: { open: () => Promise.reject(new Error('ERR_IO: engine exploded')) } },
      false,
      results,
    );
    await runPlan(planCases(broken), broken, tempDir(), results, silent);
    expect(results.find((r) => r.key === 'walrus.append-1-topic')!.error).toBe('ERR_IO: engine exploded');
    expect(results.find((r) => r.key === 'ceiling.write-entry')!.median.entriesPerSec).toBeGreaterThan(0);
  });
});
