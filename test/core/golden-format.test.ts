/**
 * The committed format-v1 fixture (test/fixtures/golden/v1/, made by a version-1 build's
 * generate.ts) must stay readable. Its "a fresh run writes the same bytes" test went with format
 * version 2 (the writer no longer writes version 1): test/core/v1-compat.test.ts now pins that the
 * fixture's frames decode as docs/FORMAT.md §4 says and how a version-2 build reads and extends it.
 */
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { LogStore } from '../../src/storage/log-store.js';
import { SEGMENT_FILE_PATTERN, locateEntries } from '../helpers/corrupt.js';
import { bytesOf, peekAll } from '../helpers/log-store-reads.js';
import { TmpDirs, copyDir } from '../helpers/tmp-dir.js';
import {
  AUDIT,
  BLOBS,
  EXPECTED_UNREAD,
  GOLDEN_FIXTURE_DIR,
  GOLDEN_OPTIONS,
  ORDERS,
  WORKLOAD_FRAMES,
} from '../fixtures/golden/workload.js';

describe('golden files: on-disk format v1', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it('the committed fixture exists (run: node --import tsx test/fixtures/golden/generate.ts)', () => {
    expect(fs.existsSync(GOLDEN_FIXTURE_DIR)).toBe(true);
    const names = fs.readdirSync(GOLDEN_FIXTURE_DIR);
    expect(names.some((n) => SEGMENT_FILE_PATTERN.test(n))).toBe(true);
    expect(names).toContain('CURSORS');
    expect(names.some((n) => /^cursors-[0-9a-f]{8}\.log$/.test(n))).toBe(true);
  });

  it('the fixture holds every frame of the workload, the big entry spanning blocks', () => {
    const entries = locateEntries(GOLDEN_FIXTURE_DIR).map((e) => `${e.topic}#${e.seq}:${e.payloadBytes}`);
    expect(entries).toEqual(WORKLOAD_FRAMES);
  });

  it('old files stay readable: a copy of the fixture opens and delivers exactly the unread entries', () => {
    const dir = copyDir(GOLDEN_FIXTURE_DIR, tmp);
    let store = LogStore.open({ dir, ...GOLDEN_OPTIONS });
    expect([...store.topics()].sort()).toEqual([AUDIT, BLOBS, ORDERS].sort());
    for (const [topic, expected] of Object.entries(EXPECTED_UNREAD)) {
      expect(store.count(topic)).toBe(expected.length);
      const got = peekAll(store, topic);
      expect(got.map((e) => ({ seq: e.seq, data: bytesOf(e.data).toString('hex'), codec: e.codec }))).toEqual(
        expected.map((e) => ({ seq: e.seq, data: bytesOf(e.data).toString('hex'), codec: e.codec })),
      );
    }
    expect(store.append(ORDERS, 'order-4')).toBe(6);
    store.close();

    store = LogStore.open({ dir, ...GOLDEN_OPTIONS });
    expect(peekAll(store, ORDERS).map((e) => e.seq)).toEqual([2, 3, 4, 5, 6]);
    store.close();
  });
});
