/**
 * docs/FORMAT.md §15.3 and §17 in the engine: writers draft a summary of each segment they seal
 * (at a roll and at close), the flusher publishes it once the segment is fdatasynced, and the next
 * open reads those summaries instead of scanning. test/storage/open-from-summaries.test.ts covers
 * every trust check; test/crash/sigkill.test.ts and the power-loss simulator cover crashes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSegmentSummary, encodeSegmentSummary } from '../../src/storage/segment-summary.js';
import { SMALL, closeOpened, openWal, tempDir } from '../helpers/wal.js';

const text = (i: number): string => `e${i}-`.padEnd(900, 'x');

function files(dir: string, suffix: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(suffix))
    .sort();
}

async function fill(dir: string, fsync: 'none' | 'each' | { intervalMs: number }, n = 600): Promise<void> {
  const wal = await openWal({ ...SMALL, dir, fsync });
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) pending.push(wal.append(`t${i % 4}`, text(i)));
  await Promise.all(pending);
  await wal.close();
}

async function readEverything(dir: string): Promise<{ texts: string[][]; recovery: Record<string, unknown> }> {
  const wal = await openWal({ ...SMALL, dir, maxBatchEntries: 100_000 });
  const recovery = (await wal.stats()).recovery as unknown as Record<string, unknown>;
  const texts: string[][] = [];
  for (let t = 0; t < 4; t++) {
    const got: string[] = [];
    for (;;) {
      const batch = await wal.batchRead(`t${t}`, { maxBytes: 1 << 24 });
      if (batch.length === 0) break;
      for (const e of batch) got.push(Buffer.from(e.data).toString());
    }
    texts.push(got);
  }
  await closeOpened();
  return { texts, recovery };
}

const expected = (n = 600): string[][] =>
  [0, 1, 2, 3].map((t) =>
    Array.from({ length: n }, (_, i) => i)
      .filter((i) => i % 4 === t)
      .map(text),
  );

describe('open after a clean close reads summaries and scans nothing (docs/FORMAT.md §15.3, §17)', () => {
  for (const fsync of ['each', { intervalMs: 20 }, 'none'] as const) {
    it(`fsync ${JSON.stringify(fsync)}: every segment is summarized at close, and open takes them all`, async () => {
      const dir = tempDir();
      await fill(dir, fsync);
      const segments = files(dir, '.seg');
      expect(segments.length).toBeGreaterThan(4);
      expect(files(dir, '.sum')).toEqual(segments.map((s) => s.replace(/\.seg$/, '.sum')));
      expect(files(dir, '.sum.tmp')).toEqual([]);
      const { texts, recovery } = await readEverything(dir);
      expect(recovery.summarizedFiles).toBe(segments.length);
      expect(recovery.scannedBytes).toBe(0);
      expect(recovery.distrustedSummaries).toEqual([]);
      // §16: the close wrote its clean-shutdown record last, and the directory is what it left.
      expect(recovery.cleanShutdown).toEqual({ found: true, matched: true });
      expect(texts).toEqual(expected());
    });
  }

  it('a segment whose summary was removed is scanned, and summarized by that open for the next', async () => {
    const dir = tempDir();
    await fill(dir, { intervalMs: 20 });
    const victim = files(dir, '.sum')[0]!;
    fs.unlinkSync(path.join(dir, victim));
    const first = await readEverything(dir);
    expect(first.recovery.scannedBytes).toBe(fs.statSync(path.join(dir, victim.replace(/\.sum$/, '.seg'))).size);
    expect(first.texts).toEqual(expected());
    // The open drafted it; the flusher's first round published it.
    expect(files(dir, '.sum')).toContain(victim);
    const second = await readEverything(dir);
    expect(second.recovery.scannedBytes).toBe(0);
  });

  it('a payload damaged after the summary was made: open scans that segment and the topic ends before the damage', async () => {
    const dir = tempDir();
    const wal = await openWal({ ...SMALL, dir, fsync: { intervalMs: 20 } });
    for (let i = 0; i < 200; i++) await wal.append('only', text(i));
    await wal.close();
    const first = path.join(dir, files(dir, '.seg')[0]!);
    const bytes = fs.readFileSync(first);
    // Inside the first entry's payload: past the segment header, topic definition and entry header.
    const at = bytes.indexOf(Buffer.from('e0-'));
    expect(at).toBeGreaterThan(0);
    bytes[at + 100] ^= 0x01;
    fs.writeFileSync(first, bytes);
    const reopened = await openWal({ ...SMALL, dir });
    const { recovery } = await reopened.stats();
    expect(recovery.distrustedSummaries).toEqual([{ path: first, why: 'segment changed since it was summarized' }]);
    expect(recovery.scannedBytes).toBe(bytes.length);
    expect(recovery.damage.length).toBeGreaterThan(0);
    // Entry 0 is the damaged one: nothing of the topic is returned (rule 8: nothing after it either).
    expect(await reopened.batchRead('only', { maxBytes: 1 << 20 })).toEqual([]);
  });

  it('verify() audits every summary against its segment: one that open would trust but that lies is damage', async () => {
    const dir = tempDir();
    await fill(dir, { intervalMs: 20 });
    const segment = path.join(dir, files(dir, '.seg')[0]!);
    const summaryPath = segment.replace(/\.seg$/, '.sum');
    const decoded = decodeSegmentSummary(fs.readFileSync(summaryPath), segment);
    if (!decoded.ok) throw new Error(decoded.reason);
    fs.writeFileSync(
      summaryPath,
      encodeSegmentSummary({ ...decoded.scan, maxTimeMs: decoded.scan.maxTimeMs + 1 }, decoded.meta),
    );
    const wal = await openWal({ ...SMALL, dir });
    // Open believed it (nothing about the segment changed) ...
    expect((await wal.stats()).recovery.scannedBytes).toBe(0);
    // ... and the audit, which reads every byte, does not.
    const report = await wal.verify();
    expect(report.ok).toBe(false);
    expect(report.damage).toEqual([
      { path: segment, offset: 0, reason: 'summary disagrees with its segment: maxTimeMs' },
    ]);
  });

  it('get and seek by time after a clean close: the points a read needs are loaded from the summaries, and right', async () => {
    const dir = tempDir();
    const wal = await openWal({ ...SMALL, dir, fsync: { intervalMs: 20 } });
    const times: number[] = [];
    for (let i = 0; i < 800; i++) {
      await wal.append('t', text(i));
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 3));
    }
    for (let i = 0; i < 800; i += 50) times.push((await wal.get('t', i))!.timeMs);
    await wal.close();
    const reopened = await openWal({ ...SMALL, dir });
    expect((await reopened.stats()).recovery.scannedBytes).toBe(0);
    for (const seq of [799, 0, 413, 1, 650, 222, 798, 77]) {
      const e = await reopened.get('t', seq);
      expect(e && [e.seq, Buffer.from(e.data).toString()]).toEqual([seq, text(seq)]);
    }
    // Seek by time lands at or before the first entry of that time, and never after it.
    const consumer = await reopened.consumer('seeker');
    for (let k = 0; k < times.length; k++) {
      await consumer.seek('t', { timeMs: times[k]! });
      const [first] = await consumer.batchRead('t', { maxBytes: 1 });
      expect(first!.seq).toBeLessThanOrEqual(k * 50);
      expect(first!.timeMs).toBeLessThanOrEqual(times[k]!);
    }
  });
});
