/**
 * Version 1 keeps working (docs/FORMAT.md §20.3, §22 step 5): the committed version-1 fixture
 * (test/fixtures/golden/v1/) still decodes as §4 says, opens and reads; its entries carry
 * MANIFEST.v1TimeMs, fixed by the first version-2 open and stable across opens; an append writes a
 * version-2 segment beside the version-1 one, which is never written again. This replaces the
 * golden test's "a fresh run writes the same bytes", which cannot hold once the writer writes
 * version 2 (the golden version-2 fixture, §22 step 9, is test/core/golden-format-v2.test.ts's).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unpackControlMap } from '../../src/storage/disk-codec.js';
import { nodeFileIo } from '../../src/storage/file-io.js';
import { FRAME_HEADER_BYTES_V1, KIND_TOPIC_DEF, frameBytes } from '../../src/storage/frame.js';
import { LogStore } from '../../src/storage/log-store.js';
import { readManifest } from '../../src/storage/manifest.js';
import { locateEntries, readSegmentLayout, segmentPaths } from '../helpers/corrupt.js';
import { peekAll } from '../helpers/log-store-reads.js';
import { TmpDirs, copyDir } from '../helpers/tmp-dir.js';
import { closeOpened, openWal } from '../helpers/wal.js';
import {
  AUDIT,
  BLOBS,
  EXPECTED_UNREAD,
  GOLDEN_FIXTURE_DIR,
  GOLDEN_OPTIONS,
  ORDERS,
} from '../fixtures/golden/workload.js';

describe('a version-1 log under a version-2 build (FORMAT §20.3)', () => {
  const tmp = new TmpDirs();
  afterEach(async () => {
    await closeOpened();
    tmp.removeAll();
  });

  it("the fixture's frames still decode as §4 says: 32-byte headers, version 1, MANIFEST version 1", () => {
    const [segment, ...others] = segmentPaths(GOLDEN_FIXTURE_DIR);
    expect(others).toEqual([]);
    const layout = readSegmentLayout(segment!);
    expect([layout.formatVersion, layout.salt]).toEqual([1, 0]);
    const def = layout.frames.find((f) => f.kind === KIND_TOPIC_DEF)!;
    expect(def.offset).toBe(64); // the version-1 segment header frame is 32 + 32 bytes
    expect(def.payloadOffset - def.offset).toBe(FRAME_HEADER_BYTES_V1);
    expect(def.endOffset - def.offset).toBe(frameBytes(def.payloadBytes, FRAME_HEADER_BYTES_V1));
    expect(layout.frames.every((f) => f.timeMs === 0)).toBe(true);
    const manifest = unpackControlMap(fs.readFileSync(path.join(GOLDEN_FIXTURE_DIR, 'MANIFEST')));
    expect(manifest.version).toBe(1);
    expect(manifest.v1TimeMs).toBeUndefined();
  });

  it('opens and reads; every version-1 entry carries v1TimeMs, the first version-2 open time, stable across opens', () => {
    const dir = copyDir(GOLDEN_FIXTURE_DIR, tmp);
    const before = Date.now();
    let store = LogStore.open({ dir, ...GOLDEN_OPTIONS });
    const after = Date.now();
    const manifest = readManifest(nodeFileIo, dir)!;
    expect(manifest.version).toBe(2);
    const v1TimeMs = manifest.v1TimeMs!;
    expect(v1TimeMs).toBeGreaterThanOrEqual(before);
    expect(v1TimeMs).toBeLessThanOrEqual(after);
    for (const [topic, expected] of Object.entries(EXPECTED_UNREAD)) {
      const got = peekAll(store, topic);
      expect(got.map((e) => e.seq)).toEqual(expected.map((e) => e.seq));
      expect(got.every((e) => e.timeMs === v1TimeMs)).toBe(true);
    }
    store.close();
    store = LogStore.open({ dir, ...GOLDEN_OPTIONS });
    expect(readManifest(nodeFileIo, dir)!.v1TimeMs).toBe(v1TimeMs);
    expect(peekAll(store, ORDERS).every((e) => e.timeMs === v1TimeMs)).toBe(true);
    store.close();
  });

  it('an append writes a version-2 segment beside the version-1 one, which stays as it was', () => {
    const dir = copyDir(GOLDEN_FIXTURE_DIR, tmp);
    const [v1Segment] = segmentPaths(dir);
    const v1Bytes = fs.readFileSync(v1Segment!);
    let store = LogStore.open({ dir, ...GOLDEN_OPTIONS });
    const v1TimeMs = readManifest(nodeFileIo, dir)!.v1TimeMs!;
    expect(store.append(ORDERS, 'order-after-upgrade')).toBe(6);
    store.close();
    const segments = segmentPaths(dir);
    expect(segments).toHaveLength(2);
    expect(fs.readFileSync(segments[0]!).equals(v1Bytes)).toBe(true);
    const fresh = readSegmentLayout(segments[1]!);
    expect(fresh.formatVersion).toBe(2);
    const appended = locateEntries(dir).find((e) => e.path === segments[1] && e.topic === ORDERS)!;
    expect(appended.seq).toBe(6);
    expect(appended.timeMs).toBeGreaterThanOrEqual(v1TimeMs);

    store = LogStore.open({ dir, ...GOLDEN_OPTIONS });
    const orders = peekAll(store, ORDERS);
    expect(orders.map((e) => e.seq)).toEqual([2, 3, 4, 5, 6]);
    expect(orders.map((e) => e.timeMs)).toEqual([v1TimeMs, v1TimeMs, v1TimeMs, v1TimeMs, appended.timeMs]);
    expect([...store.topics()].sort()).toEqual([AUDIT, BLOBS, ORDERS].sort());
    store.close();
  });

  it('through the engine: the main thread reads version-1 entries with v1TimeMs, new ones after them', async () => {
    const dir = copyDir(GOLDEN_FIXTURE_DIR, tmp);
    const wal = await openWal({ dir, writers: 1, segmentBytes: 64 * 1024, blockBytes: 4096 });
    const v1TimeMs = readManifest(nodeFileIo, dir)!.v1TimeMs!;
    await wal.append(ORDERS, 'order-6');
    const entries = await wal.batchRead(ORDERS, { maxBytes: Infinity, checkpoint: false });
    expect(entries.map((e) => e.seq)).toEqual([2, 3, 4, 5, 6]);
    expect(entries.slice(0, 4).every((e) => e.timeMs === v1TimeMs)).toBe(true);
    expect(entries[4]!.timeMs).toBeGreaterThanOrEqual(v1TimeMs);
    await wal.close();
  });
});
