/**
 * docs/FORMAT.md §3.1 through the single-threaded LogStore: under fsync 'each' the segment being
 * written keeps zeros ahead of its data; they are padding to recovery, a clean close trims them,
 * a failed zero write fails no append, and no other mode writes any.
 */
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import { ZERO_FILL_AHEAD_BYTES } from '../../src/storage/zero-fill-ahead.js';
import { TmpDirs, crashCopy, segmentFilesOf } from '../helpers/tmp-dir.js';

const tmp = new TmpDirs();
afterEach(() => tmp.removeAll());

const payload = (i: number): string => `entry-${i}-`.padEnd(700, String.fromCharCode(97 + (i % 26)));
const written = (n: number): string[] => Array.from({ length: n }, (_, i) => payload(i));

function open(dir: string, options: Partial<LogStoreOptions> = {}): LogStore {
  return LogStore.open({ dir, fsync: 'each', blockBytes: 4096, ...options });
}

function readAll(store: LogStore): string[] {
  return store.batchRead('a', { maxBytes: 1 << 30, checkpoint: false }).map((e) => Buffer.from(e.data).toString());
}

/** Where a file's frames end: past its last non-zero byte, rounded up to a frame's 8-byte alignment. */
function dataEnd(file: string): number {
  const bytes = fs.readFileSync(file);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return Math.ceil(end / 8) * 8;
}

describe("fsync 'each' keeps zeros ahead of the segment's data (docs/FORMAT.md §3.1)", () => {
  it('the segment being written is longer than its data by zeros, never past segmentBytes', () => {
    const dir = tmp.make();
    const store = open(dir);
    for (let i = 0; i < 20; i++) store.append('a', payload(i));
    const [segment] = segmentFilesOf(dir);
    // Zeros were written once, after the first write; the next 19 wrote into them.
    expect(dataEnd(segment!)).toBeGreaterThan(20 * 700);
    expect(fs.statSync(segment!).size).toBeGreaterThan(ZERO_FILL_AHEAD_BYTES);
    expect(fs.statSync(segment!).size).toBeLessThan(ZERO_FILL_AHEAD_BYTES + 4096);
    store.close();

    const small = tmp.make();
    const capped = open(small, { segmentBytes: 64 * 1024 });
    for (let i = 0; i < 300; i++) capped.append('a', payload(i));
    const sizes = segmentFilesOf(small).map((s) => fs.statSync(s).size);
    // Every file stops at segmentBytes plus the last write that crossed it: zeros never go past it.
    for (const size of sizes) expect(size).toBeLessThan(64 * 1024 + 8 * 1024);
    expect(segmentFilesOf(small).length).toBeGreaterThan(2);
    capped.close();
  });

  it('after a crash the zeros are padding: every entry comes back, nothing is damage, appends go on', () => {
    const dir = tmp.make();
    const store = open(dir);
    for (let i = 0; i < 50; i++) store.append('a', payload(i));
    const copy = crashCopy(dir, tmp);
    store.close();
    const [segment] = segmentFilesOf(copy);
    expect(fs.statSync(segment!).size).toBeGreaterThan(dataEnd(segment!));

    const reopened = open(copy);
    expect(reopened.recovery.damage).toEqual([]);
    expect(readAll(reopened)).toEqual(written(50));
    reopened.append('a', payload(50));
    reopened.close();
    const again = open(copy);
    expect(again.recovery.damage).toEqual([]);
    expect(readAll(again)).toEqual(written(51));
    again.close();
  });

  it('a clean close trims the zeros: each segment is as long as its data, and the next open scans nothing', () => {
    const dir = tmp.make();
    const store = open(dir);
    for (let i = 0; i < 50; i++) store.append('a', payload(i));
    store.close();
    for (const segment of segmentFilesOf(dir)) expect(fs.statSync(segment).size).toBe(dataEnd(segment));
    const reopened = open(dir);
    expect(reopened.recovery.cleanShutdown).toMatchObject({ found: true, matched: true });
    expect(reopened.recovery.scannedBytes).toBe(0);
    expect(readAll(reopened)).toEqual(written(50));
    reopened.close();
  });

  it('a zero write that fails (a full disk) fails no append; that segment is extended write by write from then on', () => {
    const dir = tmp.make();
    let zeroWrites = 0;
    const io: FileIo = {
      ...nodeFileIo,
      pwrite: (fd, data, offset, length, position) => {
        if (length >= 64 * 1024 && data.subarray(offset, offset + 64).every((b) => b === 0)) {
          zeroWrites++;
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        }
        return nodeFileIo.pwrite(fd, data, offset, length, position);
      },
    };
    const store = open(dir, { io });
    for (let i = 0; i < 30; i++) store.append('a', payload(i));
    expect(zeroWrites).toBe(1);
    const [segment] = segmentFilesOf(dir);
    expect(fs.statSync(segment!).size).toBe(dataEnd(segment!));
    expect(readAll(store)).toEqual(written(30));
    store.close();
    const reopened = open(dir);
    expect(readAll(reopened)).toEqual(written(30));
    reopened.close();
  });

  it('no other fsync mode writes zeros ahead', () => {
    for (const fsync of [{ intervalMs: 1000 }, 'none'] as const) {
      const dir = tmp.make();
      const store = open(dir, { fsync });
      for (let i = 0; i < 20; i++) store.append('a', payload(i));
      store.sync();
      const [segment] = segmentFilesOf(dir);
      expect(fs.statSync(segment!).size).toBe(dataEnd(segment!));
      store.close();
    }
  });
});
