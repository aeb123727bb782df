/**
 * docs/FORMAT.md §15.3–§15.4 and §17 through the single-threaded LogStore: sealed segments get a
 * summary once durable, open trusts a summary only when every check of §15.4 holds (else it scans
 * that segment and says why), and what open took from a summary is what a scan would have found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import { crc32Of } from '../../src/storage/frame.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import { scanSegment } from '../../src/storage/segment-scanner.js';
import { decodeSegmentSummary, summaryPathOf } from '../../src/storage/segment-summary.js';
import { loadSummaryPoints, planRecovery, summaryDraftPathOf } from '../../src/storage/summary-files.js';
import { TmpDirs, segmentFilesOf } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const SMALL = { segmentBytes: 64 * 1024, blockBytes: 4096 };
const tmp = new TmpDirs();
afterEach(() => tmp.removeAll());

const payload = (i: number): string => `entry-${i}-`.padEnd(700, String.fromCharCode(97 + (i % 26)));

/** Writes `n` entries over two topics (several segments) and closes cleanly. */
function writeLog(dir: string, n = 300, options: Partial<LogStoreOptions> = {}): void {
  const store = LogStore.open({ dir, fsync: { intervalMs: 1000 }, ...SMALL, ...options });
  for (let i = 0; i < n; i++) store.append(i % 3 === 0 ? 'b' : 'a', payload(i));
  store.close();
}

function readAll(dir: string, options: Partial<LogStoreOptions> = {}): { a: string[]; b: string[]; store: LogStore } {
  const store = LogStore.open({ dir, fsync: { intervalMs: 1000 }, ...SMALL, ...options });
  const all = (topic: string): string[] =>
    store.batchRead(topic, { maxBytes: 1 << 30, checkpoint: false }).map((e) => Buffer.from(e.data).toString());
  return { a: all('a'), b: all('b'), store };
}

const expected = (n = 300) => ({
  a: Array.from({ length: n }, (_, i) => i)
    .filter((i) => i % 3 !== 0)
    .map(payload),
  b: Array.from({ length: n }, (_, i) => i)
    .filter((i) => i % 3 === 0)
    .map(payload),
});

describe('a sealed segment gets a summary once it is durable, equal to a scan of it (docs/FORMAT.md §15.3)', () => {
  it('after a clean close every segment has a summary decoding to exactly its scan, and no draft is left', () => {
    const dir = tmp.make();
    writeLog(dir);
    const segments = segmentFilesOf(dir);
    expect(segments.length).toBeGreaterThan(2);
    for (const segment of segments) {
      const decoded = decodeSegmentSummary(fs.readFileSync(summaryPathOf(segment)), segment);
      expect(decoded.ok, segment).toBe(true);
      if (!decoded.ok) continue;
      expect(decoded.meta.writtenBy).toBe('writer');
      expect(decoded.meta.synced).toBe(true);
      expect(decoded.scan).toEqual(scanSegment(nodeFileIo, segment));
    }
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.sum.tmp'))).toEqual([]);
  });

  it("under fsync 'none' the summary says it was not synced and names this boot", () => {
    const dir = tmp.make();
    writeLog(dir, 300, { fsync: 'none' });
    const segment = segmentFilesOf(dir)[0]!;
    const decoded = decodeSegmentSummary(fs.readFileSync(summaryPathOf(segment)), segment);
    expect(decoded.ok && decoded.meta.synced).toBe(false);
    expect(decoded.ok && decoded.meta.bootId).toBe(nodeFileIo.bootId() ?? undefined);
  });
});

describe('open trusts a summary only when every check holds, and scans what it does not trust (docs/FORMAT.md §15.4, §17)', () => {
  it('after a clean close open scans nothing and reads every entry', () => {
    const dir = tmp.make();
    writeLog(dir);
    const { a, b, store } = readAll(dir);
    try {
      expect(store.recovery.summarizedFiles).toBe(segmentFilesOf(dir).length);
      expect(store.recovery.scannedBytes).toBe(0);
      expect(store.recovery.distrustedSummaries).toEqual([]);
      expect({ a, b }).toEqual(expected());
    } finally {
      store.close();
    }
  });

  it('a segment without a summary is scanned, and summarized for the next open', () => {
    const dir = tmp.make();
    writeLog(dir);
    const victim = segmentFilesOf(dir)[1]!;
    fs.unlinkSync(summaryPathOf(victim));
    const first = readAll(dir);
    expect(first.store.recovery.scannedBytes).toBe(fs.statSync(victim).size);
    expect({ a: first.a, b: first.b }).toEqual(expected());
    first.store.close();
    expect(fs.existsSync(summaryPathOf(victim))).toBe(true);
    const second = readAll(dir);
    expect(second.store.recovery.scannedBytes).toBe(0);
    second.store.close();
  });

  it('a draft never published is removed and its segment scanned', () => {
    const dir = tmp.make();
    writeLog(dir);
    const victim = segmentFilesOf(dir)[0]!;
    fs.renameSync(summaryPathOf(victim), summaryDraftPathOf(victim));
    const { a, b, store } = readAll(dir);
    try {
      expect(fs.existsSync(summaryDraftPathOf(victim))).toBe(false);
      expect(store.recovery.scannedBytes).toBe(fs.statSync(victim).size);
      expect({ a, b }).toEqual(expected());
    } finally {
      store.close();
    }
  });

  const distrustRows: Array<{ name: string; damage: (dir: string, victim: string) => void; why: RegExp }> = [
    {
      name: 'a torn summary',
      damage: (_dir, victim) => fs.truncateSync(summaryPathOf(victim), 40),
      why: /summary/,
    },
    {
      name: 'a flipped byte in the summary',
      damage: (_dir, victim) => {
        const bytes = fs.readFileSync(summaryPathOf(victim));
        bytes[bytes.length >> 1] ^= 0x10;
        fs.writeFileSync(summaryPathOf(victim), bytes);
      },
      why: /summary damaged/,
    },
    {
      name: 'a segment shorter than its summary says (its tail lost, the summary reordered ahead of it)',
      damage: (_dir, victim) => fs.truncateSync(victim, fs.statSync(victim).size - 512),
      why: /bytes, its summary says/,
    },
    {
      name: "another segment's summary copied over this one's",
      damage: (dir, victim) => {
        const other = segmentFilesOf(dir).find((s) => s !== victim)!;
        const bytes = fs.readFileSync(summaryPathOf(other));
        fs.writeFileSync(summaryPathOf(victim), bytes);
      },
      why: /another segment|differs|says/,
    },
  ];
  for (const row of distrustRows) {
    it(`${row.name}: not trusted, reported, scanned, and replaced`, () => {
      const dir = tmp.make();
      writeLog(dir);
      const victim = segmentFilesOf(dir)[1]!;
      row.damage(dir, victim);
      const first = readAll(dir);
      try {
        expect(first.store.recovery.distrustedSummaries).toEqual([
          { path: victim, why: expect.stringMatching(row.why) },
        ]);
        expect(first.store.recovery.scannedBytes).toBe(fs.statSync(victim).size);
      } finally {
        first.store.close();
      }
      const second = readAll(dir);
      try {
        expect(second.store.recovery.distrustedSummaries).toEqual([]);
        expect(second.store.recovery.scannedBytes).toBe(0);
      } finally {
        second.store.close();
      }
    });
  }

  it('an unsynced summary is trusted in the boot that wrote it, never after a reboot', () => {
    const dir = tmp.make();
    writeLog(dir, 300, { fsync: 'none' });
    const sameBoot = readAll(dir, { fsync: 'none' });
    expect(sameBoot.store.recovery.scannedBytes).toBe(0);
    sameBoot.store.close();
    const rebooted: FileIo = { ...nodeFileIo, bootId: () => 'another-boot' };
    const afterReboot = readAll(dir, { fsync: 'none', io: rebooted });
    try {
      expect(afterReboot.store.recovery.summarizedFiles).toBe(0);
      expect(afterReboot.store.recovery.distrustedSummaries.length).toBe(segmentFilesOf(dir).length);
      expect(afterReboot.store.recovery.distrustedSummaries[0]!.why).toMatch(/another boot/);
      expect({ a: afterReboot.a, b: afterReboot.b }).toEqual(expected());
    } finally {
      afterReboot.store.close();
    }
  });

  it('a summary without its segment is removed', () => {
    const dir = tmp.make();
    writeLog(dir);
    const orphan = path.join(
      dir,
      path.basename(summaryPathOf(segmentFilesOf(dir)[0]!)).replace(/^\d+/, (d) => '9'.repeat(d.length)),
    );
    fs.copyFileSync(summaryPathOf(segmentFilesOf(dir)[0]!), orphan);
    const { store } = readAll(dir);
    store.close();
    expect(fs.existsSync(orphan)).toBe(false);
  });

  it('a summary of a newer format version is refused with ERR_UNSUPPORTED_FORMAT', () => {
    const dir = tmp.make();
    writeLog(dir);
    const victim = segmentFilesOf(dir)[0]!;
    const bytes = fs.readFileSync(summaryPathOf(victim));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    view.setUint32(4, 3, true);
    // A newer build's preamble carries its own valid checksum (of bytes 0…23, at 24).
    view.setUint32(24, crc32Of(bytes, 0, 24), true);
    fs.writeFileSync(summaryPathOf(victim), bytes);
    expectWalError(() => LogStore.open({ dir, fsync: { intervalMs: 1000 }, ...SMALL }), 'ERR_UNSUPPORTED_FORMAT');
    // Refused, not repaired: the summary is still there for the newer build.
    expect(fs.readFileSync(summaryPathOf(victim))).toEqual(bytes);
  });
});

describe('a segment changed after its summary was made is scanned, so damage done to it ends its topics as recovery does (docs/FORMAT.md §15.4 rule 5, docs/SEMANTICS.md rule 8)', () => {
  it('a flipped payload byte: open distrusts the summary, scans, and each topic keeps its longest valid prefix', () => {
    const dir = tmp.make();
    writeLog(dir);
    const victim = segmentFilesOf(dir)[1]!;
    const scan = scanSegment(nodeFileIo, victim);
    const run = scan.runs[0]!;
    const bytes = fs.readFileSync(victim);
    // Inside the run's first payload (700 bytes, after a 40-byte header).
    bytes[run.startOffset + 80] ^= 0x01;
    fs.writeFileSync(victim, bytes);
    const { a, b, store } = readAll(dir);
    try {
      expect(store.recovery.distrustedSummaries).toEqual([
        { path: victim, why: 'segment changed since it was summarized' },
      ]);
      expect(store.recovery.damage.length).toBeGreaterThan(0);
      const want = expected();
      const topic = new Map(scan.topicNames).get(run.topicId)!;
      const got = topic === 'a' ? a : b;
      expect(got).toEqual(want[topic as 'a' | 'b'].slice(0, run.firstSeq));
    } finally {
      store.close();
    }
  });
});

describe('reads of a segment open took from its summary check every payload (docs/FORMAT.md §15.4)', () => {
  it('damage the change stamp cannot see (the medium decayed) fails the read with ERR_CORRUPT, never wrong bytes', () => {
    const dir = tmp.make();
    // A FileIo whose stamps never move: what a summary sees when bits rot under it.
    const rotting: FileIo = { ...nodeFileIo, changeStamp: () => 'unchanged' };
    writeLog(dir, 300, { io: rotting });
    const victim = segmentFilesOf(dir)[0]!;
    const scan = scanSegment(nodeFileIo, victim);
    const run = scan.runs[0]!;
    const bytes = fs.readFileSync(victim);
    bytes[run.startOffset + 80] ^= 0x01;
    fs.writeFileSync(victim, bytes);
    const store = LogStore.open({ dir, fsync: { intervalMs: 1000 }, ...SMALL, io: rotting });
    try {
      expect(store.recovery.summarizedFiles).toBe(segmentFilesOf(dir).length);
      const topic = new Map(scan.topicNames).get(run.topicId)!;
      expectWalError(() => store.batchRead(topic, { maxBytes: 1 << 20, checkpoint: false }), 'ERR_CORRUPT');
    } finally {
      store.close();
    }
  });
});

describe('open may read only the heads of summaries; the points come from the whole summary when a read needs them (docs/FORMAT.md §22.3)', () => {
  it('a head-only plan gives each run its first point, and loadSummaryPoints the points a scan chose', () => {
    const dir = tmp.make();
    writeLog(dir);
    const segments = segmentFilesOf(dir);
    const plan = planRecovery(nodeFileIo, dir, segments, { headsOnly: true });
    expect(plan.toScan).toEqual([]);
    for (const summarized of plan.trusted) {
      const scan = scanSegment(nodeFileIo, summarized.path);
      expect(summarized.runs.map((r) => Array.from(r.points))).toEqual(
        scan.runs.map((r) => Array.from(r.points.subarray(0, 3))),
      );
      expect({ ...summarized, runs: [] }).toEqual({ ...scan, runs: [] });
      const loaded = loadSummaryPoints(nodeFileIo, summarized.path);
      if (typeof loaded === 'string') throw new Error(loaded);
      for (const run of scan.runs) expect(loaded.get(run.topicId)).toContainEqual(run.points);
    }
  });

  it('points are not loaded from a summary whose segment changed since open', () => {
    const dir = tmp.make();
    writeLog(dir);
    const victim = segmentFilesOf(dir)[0]!;
    fs.appendFileSync(victim, Buffer.alloc(8));
    expect(loadSummaryPoints(nodeFileIo, victim)).toBe('segment changed since it was summarized');
  });
});
