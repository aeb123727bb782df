import { describe, expect, it } from 'vitest';
import { parseOptions } from '../options.js';
import type { ProgressSink } from '../report/progress.js';
import { createEnv, planCases, runPlan, type CaseResult } from '../runner.js';
import { tempDir } from './temp-dir.js';

const silent: ProgressSink = { update: () => {}, note: () => {}, done: () => {} };
const peers = 'ceiling,better-sqlite3,lmdb,classic-level,sonic-boom';

async function run(argv: string[]): Promise<CaseResult[]> {
  const options = parseOptions([
    '--duration',
    '20ms',
    '--repeat',
    '1',
    '--read-bytes',
    '256KiB',
    '--latency-rate',
    '2000',
    ...argv,
  ]);
  const results: CaseResult[] = [];
  const env = createEnv(options, { ok: false, reason: 'walrus-ts not built (test)' }, false, results);
  await runPlan(planCases(env), env, tempDir(), results, silent);
  return results.filter((r) => r.system !== 'walrus-ts');
}

describe('ceiling and peer rows', () => {
  it('append through every peer and report entries/s consistent with MB/s', async () => {
    const results = await run(['--scenarios', 'write,durable', '--systems', peers, '--sizes', '100']);
    expect(new Set(results.map((r) => r.system))).toEqual(new Set(peers.split(',')));
    for (const r of results) {
      expect(r.error, r.key).toBeUndefined();
      expect(r.median.entriesPerSec, r.key).toBeGreaterThan(0);
      expect(r.median.mbPerSec!).toBeCloseTo((r.median.entriesPerSec! * 100) / 1e6, 3);
    }
  });

  it('read back exactly what was written (sizes checked entry by entry)', async () => {
    const results = await run([
      '--scenarios',
      'read',
      '--systems',
      peers,
      '--sizes',
      '1KiB',
      '--read-bytes',
      '3MiB',
      '--duration',
      '60s',
    ]);
    // The read-back rows, then lmdb's random gets (the random-access row of a peer).
    expect(results.map((r) => r.system)).toEqual(['ceiling', 'better-sqlite3', 'lmdb', 'classic-level', 'lmdb']);
    for (const r of results) {
      expect(r.error, r.key).toBeUndefined();
      expect(r.median.entriesPerSec, r.key).toBeGreaterThan(0);
    }
  });

  it('offer the same fixed load to every latency row', async () => {
    const results = await run(['--scenarios', 'latency', '--systems', peers, '--sizes', '100']);
    expect(results.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    for (const r of results) {
      expect(r.median.offeredPerSec).toBe(2000);
      expect(r.median.p99Us).toBeGreaterThan(0);
    }
  });

  it('measure recovery scans and many topics, with files and disk use', async () => {
    const results = await run([
      '--scenarios',
      'recovery,topics',
      '--systems',
      'ceiling,better-sqlite3,fs',
      '--recovery-bytes',
      '4MiB',
      '--topics',
      '300',
    ]);
    const scan = results.find((r) => r.key === 'ceiling.scan-crc')!;
    expect(scan.median.logGiB! * 1024).toBeCloseTo(4, 1);
    const perTopic = results.find((r) => r.key === 'fs.topics')!;
    expect(perTopic.error).toBeUndefined();
    expect(perTopic.median.files).toBe(300);
    expect(perTopic.median.peakRssMiB).toBeGreaterThan(10);
    const sqlite = results.find((r) => r.key === 'sqlite.topics')!;
    expect(sqlite.error).toBeUndefined();
    expect(sqlite.median.topics).toBe(300);
  });

  it('measure peak RSS of an ingest in a child process', async () => {
    const results = await run(['--scenarios', 'rss', '--systems', 'ceiling,sonic-boom', '--ingest-bytes', '8MiB']);
    for (const r of results) {
      expect(r.error, r.key).toBeUndefined();
      expect(r.median.peakRssMiB!).toBeGreaterThanOrEqual(r.median.baselineRssMiB!);
      expect(r.median.mbPerSec).toBeGreaterThan(0);
    }
  });
});

describe('peak RSS of a child', () => {
  it('is its own, not the high-water mark it would inherit from a big parent through fork + exec', async () => {
    const ballast = Buffer.alloc(512 * 1024 * 1024, 1);
    const results = await run(['--scenarios', 'rss', '--systems', 'ceiling', '--ingest-bytes', '1MiB']);
    expect(ballast[ballast.length - 1]).toBe(1);
    expect(results[0]!.median.peakRssMiB).toBeLessThan(400);
  });
});
