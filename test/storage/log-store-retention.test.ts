/**
 * Retention in the synchronous LogStore (docs/SEMANTICS.md rules 12 and D22, docs/FORMAT.md §19.2),
 * the same rules the engine's `Walrus.open({ retention })` has (test/engine/consumers.test.ts).
 * Power loss inside a retention round is covered by test/faults/power-loss.test.ts (FORMAT §21.1 W8).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CURSORS_FILE_NAME, decodeCursorSnapshot } from '../../src/storage/cursor-store.js';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import { callLoggingIo } from '../helpers/call-log-io.js';
import { seqs, texts } from '../helpers/log-store-reads.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const SEGMENT_BYTES = 64 * 1024;
const SMALL = { segmentBytes: SEGMENT_BYTES, blockBytes: 4096 };
/**
 * Six entries fill a segment (entry i of a topic of one epoch lies in its segment floor(i / 6)),
 * which is then SEALED_BYTES long (the first test checks it; the limits below are set from it).
 */
const ENTRY_BYTES = 8800;
const PER_SEGMENT = 6;
const SEALED_BYTES = 74_376;
/** Keeps two sealed segments and a live one of an entry or two. */
const TWO_AND_A_HALF = Math.floor(2.5 * SEALED_BYTES);
/**
 * maxBytes counts the segment files' lengths; under fsync 'each' the live one also holds the zeros
 * written ahead of its data (docs/FORMAT.md §3.1), here up to segmentBytes. The limits above are set
 * for data alone, so these tests use a mode that writes none (control files are durable in every mode).
 */
const DATA_ONLY = { intervalMs: 60_000 } as const;
const tmp = new TmpDirs();
const opened: LogStore[] = [];
afterEach(() => {
  for (const store of opened.splice(0)) store.close();
  tmp.removeAll();
  vi.useRealTimers();
});

function open(options: LogStoreOptions): LogStore {
  const store = LogStore.open(options);
  opened.push(store);
  return store;
}

function reopen(store: LogStore, options: LogStoreOptions): LogStore {
  store.close();
  opened.splice(opened.indexOf(store), 1);
  return open(options);
}

/** Entry `seq` of `topic`: its name and seq, padded to ENTRY_BYTES. */
function entry(topic: string, seq: number): string {
  return `${topic}#${seq}|`.padEnd(ENTRY_BYTES, '.');
}

function appendEntries(store: LogStore, topic: string, count: number): void {
  for (let i = 0; i < count; i++) store.append(topic, entry(topic, store.count(topic) + store.position(topic)));
}

/** The segment files in `dir`, in name (age) order, with their sizes. */
function segmentsOnDisk(dir: string): Array<{ name: string; sizeBytes: number }> {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .sort()
    .map((name) => ({ name, sizeBytes: fs.statSync(path.join(dir, name)).size }));
}

function totalBytes(dir: string): number {
  return segmentsOnDisk(dir).reduce((n, s) => n + s.sizeBytes, 0);
}

/** Each topic's firstSeq in the CURSORS file on disk. */
function firstSeqsOnDisk(dir: string): Record<string, number> {
  const snapshot = decodeCursorSnapshot(fs.readFileSync(path.join(dir, CURSORS_FILE_NAME)), CURSORS_FILE_NAME);
  return Object.fromEntries(snapshot.topics.map(([name, , firstSeq]) => [name, firstSeq]));
}

describe('rule D22. Retention: maxBytes deletes the oldest sealed segments, consumed or not', () => {
  it('deletes, oldest first, exactly the sealed segments that put the namespace over maxBytes', () => {
    const dir = tmp.make();
    const maxBytes = 3 * SEGMENT_BYTES;
    const store = open({ dir, fsync: 'each', ...SMALL, retention: { maxBytes } });
    appendEntries(store, 'a', 6 * PER_SEGMENT + 2); // six sealed segments and a live one
    store.readNext('a'); // a little of the first segment is consumed: the limit does not care
    const before = segmentsOnDisk(dir);
    expect(before).toHaveLength(7);
    expect(before.slice(0, 6).map((s) => s.sizeBytes)).toEqual(Array(6).fill(SEALED_BYTES));
    const deleted = store.reclaim().map((p) => path.basename(p));
    // The oldest ones, in name order, and just enough of them: keeping the newest of them is over the limit.
    expect(deleted).toEqual(before.slice(0, deleted.length).map((s) => s.name));
    expect(deleted.length).toBeGreaterThan(0);
    expect(totalBytes(dir)).toBeLessThanOrEqual(maxBytes);
    expect(totalBytes(dir) + before[deleted.length - 1]!.sizeBytes).toBeGreaterThan(maxBytes);
    // Within the limit now: another round deletes nothing.
    expect(store.reclaim()).toEqual([]);
  });

  it('never deletes the live segment, even over the limit', () => {
    const dir = tmp.make();
    const store = open({ dir, fsync: 'none', ...SMALL, retention: { maxBytes: 1 } });
    appendEntries(store, 'a', PER_SEGMENT + 3);
    const deleted = store.reclaim();
    expect(deleted).toHaveLength(1);
    expect(segmentsOnDisk(dir)).toHaveLength(1);
    expect(store.reclaim()).toEqual([]);
    expect(seqs(store.batchRead('a', { maxBytes: 2 ** 30, checkpoint: false }))).toEqual([6, 7, 8]);
  });

  it('rejects a malformed retention with ERR_INVALID_ARGUMENT, as Walrus.open does', () => {
    const dir = tmp.make();
    for (const retention of [
      5,
      null,
      [],
      { maxBytes: 0 },
      { maxBytes: 1.5 },
      { maxAgeMs: -1 },
      { keepConsumed: 1 },
      { x: 1 },
    ])
      expectWalError(
        () => open({ dir, ...SMALL, retention: retention as LogStoreOptions['retention'] }),
        'ERR_INVALID_ARGUMENT',
      );
  });
});

describe('rule D22. Retention: a consumer behind the first retained entry continues from it, never gets the rest back', () => {
  it('reads, counts and positions skip the seqs given up, for the default and named consumers, across reopens', () => {
    const dir = tmp.make();
    const options: LogStoreOptions = { dir, fsync: DATA_ONLY, ...SMALL, retention: { maxBytes: TWO_AND_A_HALF } };
    let store = open(options);
    store.consumer('slow');
    appendEntries(store, 'a', 5 * PER_SEGMENT + 1);
    appendEntries(store, 'b', 1); // in the live segment: nothing of it is given up
    expect(texts(store.batchRead('a', { maxBytes: 3 * ENTRY_BYTES })).length).toBe(3);
    const deleted = store.reclaim();
    // Segments 0, 1 and 2 (seqs 0..17) went: with them the namespace was over two and a half segments.
    expect(deleted).toHaveLength(3);
    const first = 3 * PER_SEGMENT;
    expect(firstSeqsOnDisk(dir)).toEqual({ a: first, b: 0 });
    for (const selector of [{}, { consumer: 'slow' }]) {
      expect(store.position('a', selector)).toBe(first);
      expect(store.count('a', selector)).toBe(5 * PER_SEGMENT + 1 - first);
    }
    // The default consumer was at 3: its next read is the first retained entry.
    const next = store.readNext('a')!;
    expect([next.seq, next.data.byteLength]).toEqual([first, ENTRY_BYTES]);
    expect(Buffer.from(next.data).toString()).toBe(entry('a', first));
    // A named one that had read nothing goes on from there too; so does a new 'earliest' one.
    expect(seqs(store.batchRead('a', { maxBytes: 2 ** 30, checkpoint: false, consumer: 'slow' }))[0]).toBe(first);
    store.consumer('new');
    expect(store.position('a', { consumer: 'new' })).toBe(first);
    expect(store.readNext('b', { consumer: 'slow' })?.seq).toBe(0);
    // After a reopen the seqs given up stay given up: the firstSeq is in CURSORS, the files are gone.
    store = reopen(store, options);
    expect(store.recovery.damage).toEqual([]);
    expect(store.position('a', { consumer: 'slow' })).toBe(first);
    expect(seqs(store.batchRead('a', { maxBytes: 2 ** 30, checkpoint: false, consumer: 'slow' }))).toEqual(
      Array.from({ length: 5 * PER_SEGMENT + 1 - first }, (_, i) => first + i),
    );
    expect(store.append('a', 'next')).toBe(5 * PER_SEGMENT + 1);
  });

  it('segments left on disk below a durable firstSeq (a crash before the unlinks) give nothing back and are deleted again', () => {
    const dir = tmp.make();
    const options: LogStoreOptions = { dir, fsync: DATA_ONLY, ...SMALL, retention: { maxBytes: TWO_AND_A_HALF } };
    let store = open(options);
    appendEntries(store, 'a', 4 * PER_SEGMENT + 1);
    const kept = new Map(segmentsOnDisk(dir).map((s) => [s.name, fs.readFileSync(path.join(dir, s.name))]));
    const deleted = store.reclaim().map((p) => path.basename(p));
    expect(deleted).toHaveLength(2);
    store.close();
    opened.splice(0);
    // The crash of FORMAT §21.1 W8 between the firstSeq snapshot and the unlinks: the files are back.
    for (const name of deleted) fs.writeFileSync(path.join(dir, name), kept.get(name)!);
    fs.rmSync(path.join(dir, 'MANIFEST.clean'), { force: true });
    store = open(options);
    expect(store.recovery.damage).toEqual([]);
    expect(store.position('a')).toBe(2 * PER_SEGMENT);
    expect(seqs(store.batchRead('a', { maxBytes: 2 ** 30, checkpoint: false }))[0]).toBe(2 * PER_SEGMENT);
    // They hold no retained entry: the next round deletes them (consumed or not, they are below firstSeq).
    expect(store.reclaim().map((p) => path.basename(p))).toEqual(deleted);
    expect(store.position('a')).toBe(2 * PER_SEGMENT);
  });

  it('the firstSeq given up is durable in CURSORS before the first segment is unlinked (FORMAT §19.2 step 1)', () => {
    const dir = tmp.make();
    const calls: string[] = [];
    const logging = callLoggingIo(calls);
    const seenAtUnlink: Array<Record<string, number>> = [];
    const io: FileIo = {
      ...logging,
      unlink: (filePath) => {
        if (filePath.endsWith('.seg')) {
          calls.push(`unlink ${path.basename(filePath)}`);
          seenAtUnlink.push(firstSeqsOnDisk(dir));
        }
        nodeFileIo.unlink(filePath);
      },
    };
    const store = open({ dir, io, fsync: DATA_ONLY, ...SMALL, retention: { maxBytes: TWO_AND_A_HALF } });
    appendEntries(store, 'a', 4 * PER_SEGMENT + 1);
    calls.length = 0;
    expect(store.reclaim()).toHaveLength(2);
    expect(seenAtUnlink).toEqual([{ a: 2 * PER_SEGMENT }, { a: 2 * PER_SEGMENT }]);
    // And durably so: the CURSORS rename that carried it was followed by a directory fsync first.
    const firstUnlink = calls.findIndex((c) => c.startsWith('unlink '));
    const lastRename = calls.slice(0, firstUnlink).lastIndexOf(`rename ${CURSORS_FILE_NAME}.tmp ${CURSORS_FILE_NAME}`);
    expect(lastRename).toBeGreaterThanOrEqual(0);
    expect(calls.slice(lastRename, firstUnlink)).toContain('fsyncDir');
    // The unlinks are made durable by one directory fsync after them.
    expect(calls.at(-1)).toBe('fsyncDir');
  });
});

describe('rule D22. Retention: keepConsumed keeps consumed segments (rule 12 deletes them)', () => {
  it('without keepConsumed a consumed sealed segment goes; with it, it stays, until a limit takes it', () => {
    for (const keepConsumed of [false, true]) {
      const dir = tmp.make();
      const store = open({ dir, fsync: 'none', ...SMALL, retention: { keepConsumed } });
      appendEntries(store, 'a', 3 * PER_SEGMENT + 1);
      while (store.readNext('a') !== null);
      expect(store.reclaim(), `keepConsumed ${keepConsumed}`).toHaveLength(keepConsumed ? 0 : 3);
      expect(segmentsOnDisk(dir)).toHaveLength(keepConsumed ? 4 : 1);
    }
    const dir = tmp.make();
    const store = open({
      dir,
      fsync: 'none',
      ...SMALL,
      retention: { keepConsumed: true, maxBytes: Math.floor(1.5 * SEALED_BYTES) },
    });
    appendEntries(store, 'a', 3 * PER_SEGMENT + 1);
    while (store.readNext('a') !== null);
    // Only what the limit takes: the oldest two of the three sealed ones, not the third.
    expect(store.reclaim()).toHaveLength(2);
    expect(segmentsOnDisk(dir)).toHaveLength(2);
  });
});

describe('rule D22. Retention: maxAgeMs deletes sealed segments whose newest entry is older, consumed or not', () => {
  it('segments of this open and of an earlier one (their times from recovery)', () => {
    const t0 = 1_800_000_000_000;
    vi.useFakeTimers({ toFake: ['Date'], now: t0 });
    const dir = tmp.make();
    const options: LogStoreOptions = { dir, fsync: 'each', ...SMALL, retention: { maxAgeMs: 60_000 } };
    let store = open(options);
    appendEntries(store, 'a', PER_SEGMENT); // segment 0 of epoch 1, sealed by the close
    store = reopen(store, options);
    appendEntries(store, 'a', PER_SEGMENT); // this epoch's segment 0 …
    vi.setSystemTime(t0 + 30_000);
    appendEntries(store, 'a', PER_SEGMENT + 1); // … sealed by segment 1, written 30 s later; the live one
    vi.setSystemTime(t0 + 60_000);
    expect(store.reclaim()).toEqual([]); // nothing is more than 60 s old yet
    vi.setSystemTime(t0 + 60_001);
    // The earlier epoch's segment (its newest time from recovery) and this epoch's first one.
    const firstDeleted = store.reclaim().map((p) => path.basename(p));
    expect(firstDeleted).toHaveLength(2);
    expect(store.position('a')).toBe(2 * PER_SEGMENT);
    expect(store.count('a')).toBe(PER_SEGMENT + 1);
    vi.setSystemTime(t0 + 90_001);
    expect(store.reclaim()).toHaveLength(1);
    expect(store.position('a')).toBe(3 * PER_SEGMENT);
    expect(store.readNext('a')?.seq).toBe(3 * PER_SEGMENT);
  });
});
