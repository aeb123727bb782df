/**
 * docs/SEMANTICS.md rule 9 under concurrency: reclaim deletes files while appends, consumers,
 * verify(), stats() and sync() run. Two defects lived here (an audit opening a file a reclaim had
 * just deleted; an fsync round opening a segment reclaimed before any round covered it, which set
 * the fatal fsync state), each found only under load; this storm makes those interleavings common
 * instead of rare. It also caught sync() waiting a whole interval (60 s here) for a round it had
 * asked for too early, so every call must finish within the hang detector's bound.
 */
import { describe, expect, it } from 'vitest';
import type { WalrusOptions } from '../../dist/src/index.js';
import { SMALL, openWal, tempDir } from '../helpers/wal.js';
import { within } from '../helpers/within.js';

const TOPICS = ['a', 'b', 'c'];
const APPENDS_PER_TOPIC = 400;

const CONFIGS: Array<Pick<WalrusOptions, 'fsync' | 'readConsistency'>> = [
  { fsync: { intervalMs: 600_000 }, readConsistency: 'strictly-at-once' },
  { fsync: { intervalMs: 5 }, readConsistency: { atLeastOnce: { persistEvery: 7 } } },
  { fsync: 'each', readConsistency: 'strictly-at-once' },
  { fsync: 'none', readConsistency: { atLeastOnce: { persistEvery: 7 } } },
];

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('rule 9 (docs/SEMANTICS.md): space is reclaimed while appends, consumers, verify, stats and sync run', () => {
  for (const config of CONFIGS) {
    it(`fsync ${JSON.stringify(config.fsync)}, ${JSON.stringify(config.readConsistency)}: every entry once, in order; no damage, no failed state`, async () => {
      const dir = tempDir();
      const options: WalrusOptions = { ...SMALL, ...config, dir };
      const wal = await openWal(options);
      const appended = new Map(TOPICS.map((t) => [t, 0]));
      const delivered = new Map(TOPICS.map((t) => [t, [] as number[]]));
      const problems: string[] = [];
      let appending = true;
      let consuming = true;

      const appenders = TOPICS.map(async (topic) => {
        for (let i = 0; i < APPENDS_PER_TOPIC; i++) {
          const n = appended.get(topic)!;
          if (i % 10 === 0) {
            await wal.batchAppend(
              topic,
              Array.from({ length: 5 }, (_, k) => `${n + k}:${'x'.repeat(300)}`),
            );
            appended.set(topic, n + 5);
          } else {
            await wal.append(topic, `${n}:${'y'.repeat(500)}`);
            appended.set(topic, n + 1);
          }
        }
      });
      const consumers = TOPICS.map(async (topic) => {
        const seen = delivered.get(topic)!;
        while (appending || seen.length < appended.get(topic)!) {
          const batch = await wal.batchRead(topic, { maxBytes: 4000 });
          for (const entry of batch) seen.push(Number(entry.text().split(':')[0]));
          if (batch.length === 0) await pause(1);
        }
      });
      const chaos = (async () => {
        // Runs until everything is consumed, so reclaim also races the consumers' last reads.
        for (let i = 0; consuming; i++) {
          const step = i % 4;
          if (step === 0 || step === 2) await within(wal.reclaim(), 'reclaim()');
          else if (step === 1) {
            const report = await within(wal.verify(), 'verify()');
            if (!report.ok) problems.push(`verify: ${JSON.stringify(report.damage)}`);
          } else await within(Promise.all([wal.stats(), wal.sync()]), 'stats() and sync()');
          await pause(2);
        }
      })();

      await Promise.all(appenders);
      appending = false;
      await Promise.all(consumers);
      consuming = false;
      await chaos;
      // How much the storm reclaimed depends on timing (under load consumers lag); once everything
      // is consumed, every sealed segment must go.
      await wal.reclaim();
      const stats = await wal.stats();
      expect(problems).toEqual([]);
      expect(stats.failed).toBeNull();
      expect(stats.reclaimedSegments).toBeGreaterThan(5);
      expect(stats.segments.files).toBeLessThanOrEqual(options.writers!);
      for (const topic of TOPICS) {
        expect(delivered.get(topic), topic).toEqual(Array.from({ length: appended.get(topic)! }, (_, i) => i));
      }
      await wal.close();

      // A clean close: nothing is delivered again, whatever the read consistency.
      const reopened = await openWal(options);
      for (const topic of TOPICS) expect(await reopened.batchRead(topic, { maxBytes: 1 << 20 }), topic).toEqual([]);
      expect((await reopened.verify()).ok).toBe(true);
    });
  }
});
