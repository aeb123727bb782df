/**
 * docs/FORMAT.md §16 through the single-threaded LogStore: a clean close writes the clean-shutdown
 * record last; the next open checks the directory against it, reports what differs, and never lets
 * it vouch for more than the summaries do (everything stays readable whatever the record says).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import { readManifest, writeManifest } from '../../src/storage/manifest.js';
import { summaryPathOf } from '../../src/storage/segment-summary.js';
import { TmpDirs, segmentFilesOf } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const SMALL = { segmentBytes: 64 * 1024, blockBytes: 4096 };
const tmp = new TmpDirs();
afterEach(() => tmp.removeAll());

const payload = (i: number): string => `entry-${i}-`.padEnd(700, String.fromCharCode(97 + (i % 26)));

function open(dir: string, options: Partial<LogStoreOptions> = {}): LogStore {
  return LogStore.open({ dir, fsync: { intervalMs: 1000 }, ...SMALL, ...options });
}

/** Writes `n` entries of topic 'a' (several segments) and closes cleanly. */
function writeLog(dir: string, n = 300, options: Partial<LogStoreOptions> = {}): void {
  const store = open(dir, options);
  for (let i = 0; i < n; i++) store.append('a', payload(i));
  store.close();
}

function readAll(store: LogStore): string[] {
  return store.batchRead('a', { maxBytes: 1 << 30, checkpoint: false }).map((e) => Buffer.from(e.data).toString());
}

const written = (n: number): string[] => Array.from({ length: n }, (_, i) => payload(i));

describe('a clean close writes the clean-shutdown record last (docs/FORMAT.md §16)', () => {
  it('names every segment, their bytes, the cursor generation and the time floor; the next open finds it matching and scans nothing', () => {
    const dir = tmp.make();
    const before = Date.now();
    writeLog(dir);
    const record = readManifest(nodeFileIo, dir)!.clean!;
    const segments = segmentFilesOf(dir);
    expect(segments.length).toBeGreaterThan(2);
    expect(record.epoch).toBe(readManifest(nodeFileIo, dir)!.epoch);
    expect(record.segments).toBe(segments.length);
    expect(record.segmentBytes).toBe(segments.reduce((sum, s) => sum + fs.statSync(s).size, 0));
    expect(record.synced).toBe(true);
    expect(record.bootId).toBeUndefined();
    expect(record.timeFloorMs).toBeGreaterThanOrEqual(before);
    expect(record.closedAtMs).toBeGreaterThanOrEqual(record.timeFloorMs);
    const store = open(dir);
    try {
      expect(store.recovery.cleanShutdown).toEqual({ found: true, matched: true });
      expect(store.recovery.scannedBytes).toBe(0);
      expect(record.cursorGeneration).toBeGreaterThan(0);
      expect(readAll(store)).toEqual(written(300));
    } finally {
      store.close();
    }
  });

  it('an open replaces it before writing anything: a crash after an open finds no record', () => {
    const dir = tmp.make();
    writeLog(dir);
    const store = open(dir);
    // The open's own MANIFEST (its new epoch) holds no record, already before any append.
    expect(readManifest(nodeFileIo, dir)!.clean).toBeUndefined();
    store.append('a', 'after');
    // A crash now (the store is simply not closed; a copy is what the crash left).
    const copy = tmp.make();
    fs.cpSync(dir, copy, { recursive: true });
    store.close();
    const crashed = open(copy);
    try {
      expect(crashed.recovery.cleanShutdown).toEqual({ found: false, matched: false });
      expect(readAll(crashed)).toEqual([...written(300), 'after']);
    } finally {
      crashed.close();
    }
  });

  it("under fsync 'none' the record says it was not synced and names the boot; another boot does not match it", () => {
    const dir = tmp.make();
    writeLog(dir, 300, { fsync: 'none' });
    const record = readManifest(nodeFileIo, dir)!.clean!;
    expect(record.synced).toBe(false);
    expect(record.bootId).toBe(nodeFileIo.bootId() ?? undefined);
    const rebooted: FileIo = { ...nodeFileIo, bootId: () => 'another-boot' };
    const store = open(dir, { io: rebooted });
    try {
      expect(store.recovery.cleanShutdown).toMatchObject({ found: true, matched: false });
      expect(store.recovery.cleanShutdown.why).toMatch(/another boot/);
      expect(readAll(store)).toEqual(written(300));
    } finally {
      store.close();
    }
  });

  it('a close that failed writes no record: the next open takes the crash path and loses nothing acknowledged', () => {
    const dir = tmp.make();
    let failing = false;
    const eio = (): never => {
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', syscall: 'fdatasync' });
    };
    const flaky: FileIo = { ...nodeFileIo, fdatasync: (fd) => (failing ? eio() : nodeFileIo.fdatasync(fd)) };
    const store = open(dir, { io: flaky, fsync: 'each' });
    for (let i = 0; i < 100; i++) store.append('a', payload(i));
    failing = true;
    expect(() => store.close()).toThrow(/EIO/);
    expect(readManifest(nodeFileIo, dir)!.clean).toBeUndefined();
    const reopened = open(dir);
    try {
      expect(reopened.recovery.cleanShutdown.found).toBe(false);
      expect(readAll(reopened)).toEqual(written(100));
    } finally {
      reopened.close();
    }
  });
});

describe('open checks the directory against the record and reports what differs (docs/FORMAT.md §16)', () => {
  it('a segment that existed at the clean close and is gone is reported as damage', () => {
    const dir = tmp.make();
    writeLog(dir);
    const segments = segmentFilesOf(dir);
    fs.rmSync(segments[segments.length - 1]!);
    fs.rmSync(summaryPathOf(segments[segments.length - 1]!));
    const store = open(dir);
    try {
      expect(store.recovery.cleanShutdown).toMatchObject({ found: true, matched: false });
      expect(store.recovery.cleanShutdown.why).toBe(`${segments.length} segments at close, ${segments.length - 1} now`);
      expect(store.recovery.damage.map((d) => d.reason)).toContain(
        '1 segment file(s) that existed at the last clean close are gone',
      );
    } finally {
      store.close();
    }
  });

  it('a record without its summaries: the segment is scanned, the mismatch reported, every entry read', () => {
    const dir = tmp.make();
    writeLog(dir);
    const segments = segmentFilesOf(dir);
    fs.rmSync(summaryPathOf(segments[1]!));
    const store = open(dir);
    try {
      expect(store.recovery.cleanShutdown).toEqual({
        found: true,
        matched: false,
        why: `${path.basename(segments[1]!)} has no trusted summary now`,
      });
      expect(store.recovery.scannedBytes).toBe(fs.statSync(segments[1]!).size);
      expect(readAll(store)).toEqual(written(300));
    } finally {
      store.close();
    }
  });

  it('a segment grown after the close (its summary no longer trusted) does not match', () => {
    const dir = tmp.make();
    writeLog(dir);
    const last = segmentFilesOf(dir).at(-1)!;
    fs.appendFileSync(last, Buffer.alloc(8));
    const store = open(dir);
    try {
      expect(store.recovery.cleanShutdown).toMatchObject({ found: true, matched: false });
      expect(store.recovery.distrustedSummaries.map((d) => d.path)).toEqual([last]);
      expect(readAll(store)).toEqual(written(300));
    } finally {
      store.close();
    }
  });

  it('an older record brought back beside a later epoch’s files is not trusted', () => {
    const dir = tmp.make();
    writeLog(dir);
    const stale = fs.readFileSync(path.join(dir, 'MANIFEST'));
    const store = open(dir);
    store.append('a', 'later');
    store.close();
    fs.writeFileSync(path.join(dir, 'MANIFEST'), stale);
    const reopened = open(dir);
    try {
      expect(reopened.recovery.cleanShutdown).toMatchObject({ found: true, matched: false });
      expect(reopened.recovery.cleanShutdown.why).toMatch(/was written after it/);
      expect(readAll(reopened)).toEqual([...written(300), 'later']);
    } finally {
      reopened.close();
    }
  });

  it('a record of another epoch than its MANIFEST is not trusted', () => {
    const dir = tmp.make();
    writeLog(dir);
    const manifest = readManifest(nodeFileIo, dir)!;
    writeManifest(nodeFileIo, dir, { ...manifest, clean: { ...manifest.clean!, epoch: manifest.epoch - 1 } });
    const store = open(dir);
    try {
      expect(store.recovery.cleanShutdown.why).toMatch(/of epoch \d+, MANIFEST of \d+/);
    } finally {
      store.close();
    }
  });
});

describe('an empty segment file holds nothing: open removes it, and it never holds off a record (docs/FORMAT.md §16)', () => {
  it('a 0-byte segment (a crash between creating a segment and its first write) is removed and reported; the next close writes a record that matches', () => {
    const dir = tmp.make();
    writeLog(dir, 120);
    // What a kill between a segment's creation and its first write leaves: a later epoch's file, empty.
    const epoch = readManifest(nodeFileIo, dir)!.epoch;
    const empty = path.join(dir, `${(epoch + 1).toString(16).padStart(8, '0')}-0000-00000000.seg`);
    fs.writeFileSync(empty, '');
    let store = open(dir);
    try {
      expect(fs.existsSync(empty)).toBe(false);
      expect(store.recovery.damage.map((d) => [d.path, d.reason])).toEqual([
        [empty, expect.stringMatching(/^empty segment file removed/)],
      ]);
      expect(store.recovery.skippedFiles).toEqual([]);
      expect(store.recovery.scannedBytes).toBe(0);
      expect(readAll(store)).toEqual(written(120));
      // Its epoch number is never used again: this open's epoch is past it.
      expect(readManifest(nodeFileIo, dir)!.epoch).toBeGreaterThan(epoch + 1);
      store.append('a', 'after');
    } finally {
      store.close();
    }
    store = open(dir);
    try {
      expect(store.recovery.cleanShutdown).toEqual({ found: true, matched: true });
      expect(store.recovery.damage).toEqual([]);
      expect(readAll(store)).toEqual([...written(120), 'after']);
    } finally {
      store.close();
    }
  });

  it('a segment that is not empty but has no readable header is kept and scanned, not removed', () => {
    const dir = tmp.make();
    writeLog(dir, 120);
    const epoch = readManifest(nodeFileIo, dir)!.epoch;
    const torn = path.join(dir, `${(epoch + 1).toString(16).padStart(8, '0')}-0000-00000000.seg`);
    fs.writeFileSync(torn, Buffer.alloc(20, 0xab));
    const store = open(dir);
    try {
      expect(fs.existsSync(torn)).toBe(true);
      expect(store.recovery.skippedFiles).toEqual([torn]);
      expect(readAll(store)).toEqual(written(120));
    } finally {
      store.close();
    }
  });
});

describe('the record is decoded strictly: a malformed one is a damaged MANIFEST (docs/FORMAT.md §16, §20.2)', () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['a negative segment count', { segments: -1 }],
    ['a fractional byte count', { segmentBytes: 1.5 }],
    ['a CRC above 32 bits', { summariesCrc: 2 ** 32 }],
    ['synced that is not a boolean', { synced: 1 }],
    ['a boot id beside synced: true', { bootId: 'x' }],
    ['an unknown key', { extra: 1 }],
  ];
  for (const [what, change] of bad) {
    it(`refuses ${what} with ERR_CORRUPT, naming MANIFEST`, () => {
      const dir = tmp.make();
      writeLog(dir, 20);
      const manifest = readManifest(nodeFileIo, dir)!;
      const clean = { ...manifest.clean!, ...change } as unknown as NonNullable<typeof manifest.clean>;
      writeManifest(nodeFileIo, dir, { ...manifest, clean });
      const err = expectWalError(() => open(dir), 'ERR_CORRUPT');
      expect(err.message).toMatch(/MANIFEST has an invalid clean-shutdown record/);
    });
  }
});
