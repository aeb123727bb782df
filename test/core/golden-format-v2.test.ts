/**
 * The committed format-v2 fixture (test/fixtures/golden/v2/, made by generate-v2.ts: the golden
 * workload, then the ROLLS entries, under fsync 'each' with Date.now fixed to GOLDEN_V2_CLOCK_MS,
 * and a clean close) must stay readable as docs/FORMAT.md Part 2 says: version-2 frames carrying
 * `timeMs` (§13), a summary beside every sealed segment that decodes to what a scan of the segment
 * finds (§15), and MANIFEST version 2 holding the clean-shutdown record (§16, its `clean` field).
 * The generator is not byte-reproducible (random salts, the segments' change stamps in the
 * summaries), so nothing here compares bytes with a fresh run: every test checks what the committed
 * files decode to, or how a copy of them opens.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32 } from '../../src/storage/crc32.js';
import { nodeFileIo } from '../../src/storage/file-io.js';
import { writeU32 } from '../../src/storage/frame.js';
import { LogStore } from '../../src/storage/log-store.js';
import { readManifest } from '../../src/storage/manifest.js';
import { scanSegment } from '../../src/storage/segment-scanner.js';
import {
  SUMMARY_PREAMBLE_BYTES,
  decodeSegmentSummary,
  summaryHeadCrc,
  summaryPathOf,
} from '../../src/storage/segment-summary.js';
import { SEGMENT_FILE_PATTERN, locateEntries, readSegmentLayout, segmentPaths } from '../helpers/corrupt.js';
import { bytesOf, peekAll } from '../helpers/log-store-reads.js';
import { TmpDirs, copyDir } from '../helpers/tmp-dir.js';
import {
  AUDIT,
  BLOBS,
  EXPECTED_UNREAD_V2,
  GOLDEN_V2_CLOCK_MS,
  GOLDEN_V2_FIXTURE_DIR,
  GOLDEN_V2_OPTIONS,
  ORDERS,
  ROLLS,
  ROLL_ENTRIES,
  ROLL_ENTRY_BYTES,
  WORKLOAD_FRAMES,
} from '../fixtures/golden/workload.js';

const FIXTURE_SEGMENTS = 3;

function hexOf(entries: Array<{ seq: number; data: Uint8Array | string; codec: number }>): unknown[] {
  return entries.map((e) => ({ seq: e.seq, data: bytesOf(e.data).toString('hex'), codec: e.codec }));
}

/** FORMAT §16's summariesCrc, computed here from the files (not with the library's own function). */
function summariesCrcOfDir(dir: string): number {
  const numbers = new Uint8Array(12);
  let crc = 0;
  for (const segment of segmentPaths(dir)) {
    const name = Buffer.from(path.basename(segment), 'utf8');
    const sizeBytes = fs.statSync(segment).size;
    const preamble = fs.readFileSync(summaryPathOf(segment)).subarray(0, SUMMARY_PREAMBLE_BYTES);
    writeU32(numbers, 0, sizeBytes % 2 ** 32);
    writeU32(numbers, 4, Math.floor(sizeBytes / 2 ** 32));
    writeU32(numbers, 8, summaryHeadCrc(preamble));
    crc = crc32(numbers, 0, 12, crc32(name, 0, name.byteLength, crc));
  }
  return crc;
}

describe('golden files: on-disk format v2', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it('the committed fixture exists (run: node --import tsx test/fixtures/golden/generate-v2.ts)', () => {
    expect(fs.existsSync(GOLDEN_V2_FIXTURE_DIR)).toBe(true);
    const names = fs.readdirSync(GOLDEN_V2_FIXTURE_DIR).sort();
    const segments = names.filter((n) => SEGMENT_FILE_PATTERN.test(n));
    expect(segments.length).toBeGreaterThanOrEqual(FIXTURE_SEGMENTS);
    // Every segment is sealed: the writer rolled past all but the last, and the clean close sealed
    // that one (FORMAT §15.3 (a)); each has its published summary, no draft is left.
    expect(names.filter((n) => n.endsWith('.sum'))).toEqual(segments.map((n) => n.replace(/\.seg$/, '.sum')));
    expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(names).toContain('CURSORS');
    expect(names).toContain('MANIFEST');
    expect(names.filter((n) => /^cursors-[0-9a-f]{8}\.log$/.test(n))).toHaveLength(1);
    expect(readManifest(nodeFileIo, GOLDEN_V2_FIXTURE_DIR)!.clean).toBeDefined();
  });

  it('every frame decodes as §13 says: version 2, the workload and the rolls, each entry at the fixed clock', () => {
    const segments = segmentPaths(GOLDEN_V2_FIXTURE_DIR);
    for (const segment of segments) {
      const layout = readSegmentLayout(segment);
      expect(layout.formatVersion).toBe(2);
      expect(layout.epoch).toBe(1);
    }
    const entries = locateEntries(GOLDEN_V2_FIXTURE_DIR);
    expect(entries.map((e) => `${e.topic}#${e.seq}:${e.payloadBytes}`)).toEqual([
      ...WORKLOAD_FRAMES,
      ...Array.from({ length: ROLL_ENTRIES }, (_, seq) => `${ROLLS}#${seq}:${ROLL_ENTRY_BYTES}`),
    ]);
    expect(entries.every((e) => e.timeMs === GOLDEN_V2_CLOCK_MS)).toBe(true);
    // The rolls reach every segment: the fixture pins frames on both sides of each roll.
    expect(new Set(entries.filter((e) => e.topic === ROLLS).map((e) => e.path)).size).toBe(segments.length);
  });

  it('each summary decodes to exactly what a scan of its segment finds now (§15.2)', () => {
    for (const segment of segmentPaths(GOLDEN_V2_FIXTURE_DIR)) {
      const decoded = decodeSegmentSummary(fs.readFileSync(summaryPathOf(segment)), segment);
      if (!decoded.ok) throw new Error(`${segment}: summary damaged: ${decoded.reason}`);
      const scan = scanSegment(nodeFileIo, segment);
      expect(scan.damage).toEqual([]);
      expect(decoded.scan).toStrictEqual(scan);
      expect(scan.maxTimeMs).toBe(GOLDEN_V2_CLOCK_MS);
      expect(decoded.meta).toMatchObject({ writtenBy: 'writer', synced: true, sealedAtMs: GOLDEN_V2_CLOCK_MS });
      expect(decoded.meta.bootId).toBeUndefined();
    }
  });

  it("MANIFEST is version 2 and its clean-shutdown record names exactly the fixture's segments (§16)", () => {
    const manifest = readManifest(nodeFileIo, GOLDEN_V2_FIXTURE_DIR)!;
    expect(manifest.version).toBe(2);
    expect(manifest.v1TimeMs).toBeUndefined();
    const segments = segmentPaths(GOLDEN_V2_FIXTURE_DIR);
    const logName = fs.readdirSync(GOLDEN_V2_FIXTURE_DIR).find((n) => /^cursors-[0-9a-f]{8}\.log$/.test(n))!;
    expect(manifest.clean).toStrictEqual({
      epoch: manifest.epoch,
      closedAtMs: GOLDEN_V2_CLOCK_MS,
      // Close snapshotted CURSORS at this generation, so its log is the empty one the close left.
      cursorGeneration: Number.parseInt(logName.slice('cursors-'.length, -'.log'.length), 16),
      segments: segments.length,
      segmentBytes: segments.reduce((sum, s) => sum + fs.statSync(s).size, 0),
      summariesCrc: summariesCrcOfDir(GOLDEN_V2_FIXTURE_DIR),
      timeFloorMs: GOLDEN_V2_CLOCK_MS,
      synced: true,
    });
    expect(fs.statSync(path.join(GOLDEN_V2_FIXTURE_DIR, logName)).size).toBe(0);
  });

  it('a copy opens and delivers exactly the unread entries at the fixed clock; its summaries are distrusted, then rewritten', () => {
    const dir = copyDir(GOLDEN_V2_FIXTURE_DIR, tmp);
    const segments = segmentPaths(dir);
    const store = LogStore.open({ dir, ...GOLDEN_V2_OPTIONS });
    try {
      // A copy has new inodes and change times, so every summary fails §15.4 rule 5 (its
      // segmentStamp is the original file's): each segment is scanned, and the clean-shutdown record,
      // which binds only trusted summaries, is found but does not match. Nothing is damage.
      expect(store.recovery.damage).toEqual([]);
      expect(store.recovery.summarizedFiles).toBe(0);
      expect(store.recovery.scannedBytes).toBe(segments.reduce((sum, s) => sum + fs.statSync(s).size, 0));
      expect(store.recovery.distrustedSummaries).toEqual(
        segments.map((s) => ({ path: s, why: 'segment changed since it was summarized' })),
      );
      expect(store.recovery.cleanShutdown).toEqual({
        found: true,
        matched: false,
        why: `${path.basename(segments[0]!)} has no trusted summary now`,
      });
      expect([...store.topics()].sort()).toEqual([AUDIT, BLOBS, ORDERS, ROLLS].sort());
      for (const [topic, expected] of Object.entries(EXPECTED_UNREAD_V2)) {
        expect(store.count(topic)).toBe(expected.length);
        const got = peekAll(store, topic);
        expect(hexOf(got)).toEqual(hexOf(expected));
        expect(got.every((e) => e.timeMs === GOLDEN_V2_CLOCK_MS)).toBe(true);
      }
    } finally {
      store.close();
    }
  });

  it('a copy can be appended to and reopened: the seqs continue, the next open trusts the new summaries', () => {
    const dir = copyDir(GOLDEN_V2_FIXTURE_DIR, tmp);
    let store = LogStore.open({ dir, ...GOLDEN_V2_OPTIONS });
    expect(store.append(ORDERS, 'order-4')).toBe(6);
    expect(store.append(ROLLS, 'after-the-fixture')).toBe(ROLL_ENTRIES);
    store.close();

    store = LogStore.open({ dir, ...GOLDEN_V2_OPTIONS });
    try {
      // The first open of the copy summarized what it scanned and its close sealed its own segment:
      // this open trusts every summary, scans nothing and matches the record that close wrote.
      expect(store.recovery.cleanShutdown).toEqual({ found: true, matched: true });
      expect(store.recovery.scannedBytes).toBe(0);
      expect(store.recovery.summarizedFiles).toBe(segmentPaths(dir).length);
      expect(peekAll(store, ORDERS).map((e) => e.seq)).toEqual([2, 3, 4, 5, 6]);
      const rolls = peekAll(store, ROLLS);
      expect(rolls.map((e) => e.seq)).toEqual(Array.from({ length: ROLL_ENTRIES + 1 }, (_, seq) => seq));
      // The fixture's time is the floor of the copy's appends (FORMAT §13.3), whatever the real clock says.
      expect(rolls.every((e) => e.timeMs >= GOLDEN_V2_CLOCK_MS)).toBe(true);
      expect(store.append(AUDIT, 'last')).toBe(2);
    } finally {
      store.close();
    }
  });
});
