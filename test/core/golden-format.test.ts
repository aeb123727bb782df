/**
 * Pins docs/FORMAT.md v1 byte for byte: the committed fixture (test/fixtures/golden/v1/, made by
 * generate.ts) must equal a fresh run of the same workload, and must stay readable.
 *
 * Bytes that legitimately differ between runs, and how they are handled:
 * - LOCK (pid, hostname, random token): not part of the fixture at all;
 * - MANIFEST createdAtMs / openedAtMs (wall clock): the file is decoded and compared without them;
 * - each segment's SEGMENT_HEADER frame: the createdAt f64 (payload bytes 24..31 = file bytes
 *   56..63) and, because they checksum it, the frame's payloadCrc and headerCrc (file bytes 24..31).
 */
import { decodeCursorSnapshot } from '../../src/storage/cursor-store.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unpackControlMap } from '../../src/storage/disk-codec.js';
import { FRAME_HEADER_BYTES } from '../../src/storage/frame.js';
import { LogStore } from '../../src/storage/log-store.js';
import { SEGMENT_FILE_PATTERN, locateEntries } from '../helpers/corrupt.js';
import { bytesOf, peekAll } from '../helpers/log-store-reads.js';
import { TmpDirs, copyDir } from '../helpers/tmp-dir.js';
import {
  AUDIT,
  BIG_ENTRY_BYTES,
  BLOBS,
  EXPECTED_UNREAD,
  GOLDEN_FIXTURE_DIR,
  GOLDEN_OPTIONS,
  ORDERS,
  runGoldenWorkload,
  snapshotOpenDir,
} from '../fixtures/golden/workload.js';

const TIME_DEPENDENT_SEGMENT_RANGES: Array<[number, number]> = [
  [24, FRAME_HEADER_BYTES], // payloadCrc + headerCrc of the SEGMENT_HEADER frame
  [FRAME_HEADER_BYTES + 24, FRAME_HEADER_BYTES + 32], // createdAt f64
];

function masked(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (const [from, to] of TIME_DEPENDENT_SEGMENT_RANGES) out.fill(0, from, to);
  return out;
}

function manifestWithoutTimes(filePath: string): Record<string, unknown> {
  const { createdAtMs, openedAtMs, ...rest } = unpackControlMap(fs.readFileSync(filePath));
  expect(typeof createdAtMs).toBe('number');
  expect(typeof openedAtMs).toBe('number');
  return rest;
}

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

  it('a fresh run of the workload writes the same files, byte for byte (time fields masked)', () => {
    const workDir = tmp.make();
    const snapshot = tmp.make();
    const store = runGoldenWorkload(workDir);
    snapshotOpenDir(workDir, snapshot);
    store.close();

    const names = fs.readdirSync(snapshot).sort();
    expect(names).toEqual(fs.readdirSync(GOLDEN_FIXTURE_DIR).sort());
    for (const name of names) {
      const fresh = path.join(snapshot, name);
      const golden = path.join(GOLDEN_FIXTURE_DIR, name);
      if (name === 'MANIFEST') {
        expect(manifestWithoutTimes(fresh), name).toEqual(manifestWithoutTimes(golden));
      } else if (name === 'CURSORS') {
        // This build writes CURSORS version 2 (FORMAT §18.1); the fixture's version 1 must load as
        // exactly the same topics and default-consumer positions (§18.3).
        const decode = (p: string) => decodeCursorSnapshot(fs.readFileSync(p), 'CURSORS');
        expect(decode(fresh), name).toEqual(decode(golden));
      } else if (SEGMENT_FILE_PATTERN.test(name)) {
        expect(masked(fs.readFileSync(fresh)).equals(masked(fs.readFileSync(golden))), name).toBe(true);
      } else {
        expect(fs.readFileSync(fresh).equals(fs.readFileSync(golden)), name).toBe(true);
      }
    }
  });

  it('the fixture holds every frame of the workload, the big entry spanning blocks', () => {
    const entries = locateEntries(GOLDEN_FIXTURE_DIR).map((e) => `${e.topic}#${e.seq}:${e.payloadBytes}`);
    expect(entries).toEqual([
      `${ORDERS}#0:7`,
      `${ORDERS}#1:7`,
      `${AUDIT}#0:0`,
      `${ORDERS}#2:7`,
      `${ORDERS}#3:7`,
      `${ORDERS}#4:7`,
      `${BLOBS}#0:${BIG_ENTRY_BYTES}`,
      `${AUDIT}#1:4`,
      `${ORDERS}#5:7`,
      `${BLOBS}#1:15`,
    ]);
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
