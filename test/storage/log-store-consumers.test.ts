/**
 * Named consumers of the synchronous LogStore (docs/SEMANTICS.md rules 11, 12 and D19), the same
 * semantics the engine's `wal.consumer(name)` has. Power loss with named consumers is covered by
 * test/faults/power-loss.test.ts (FORMAT §21.3 P4).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CURSORS_FILE_NAME, decodeCursorSnapshot } from '../../src/storage/cursor-store.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import { seqs, texts } from '../helpers/log-store-reads.js';
import { callLoggingIo } from '../helpers/call-log-io.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const SMALL = { segmentBytes: 64 * 1024, blockBytes: 4096 };
const tmp = new TmpDirs();
const opened: LogStore[] = [];
afterEach(() => {
  for (const store of opened.splice(0)) store.close();
  tmp.removeAll();
});

function open(options: LogStoreOptions): LogStore {
  const store = LogStore.open(options);
  opened.push(store);
  return store;
}

/** The named consumers CURSORS holds on disk, read without the store. */
function consumersOnDisk(dir: string): string[] {
  const snapshot = decodeCursorSnapshot(fs.readFileSync(path.join(dir, CURSORS_FILE_NAME)), CURSORS_FILE_NAME);
  return snapshot.consumers.filter((c) => c.id !== 0).map((c) => c.name);
}

describe('rule D19. Named consumers', () => {
  it("registers with startAt 'earliest' (default) or 'latest', durable before consumer() returns", () => {
    const dir = tmp.make();
    const store = open({ dir, fsync: 'none', ...SMALL });
    store.append('a', 'a0');
    store.append('a', 'a1');
    store.consumer('early');
    store.consumer('late', { startAt: 'latest' });
    // In CURSORS already, under 'none' too: control files are replaced durably in every mode.
    expect(consumersOnDisk(dir)).toEqual(['early', 'late']);
    expect(store.consumers()).toEqual(['early', 'late']);
    store.append('a', 'a2');
    store.append('b', 'b0'); // created after both registered: both read it from its start
    expect(texts(store.batchRead('a', { maxBytes: 1000, consumer: 'early' }))).toEqual(['a0', 'a1', 'a2']);
    expect(texts(store.batchRead('a', { maxBytes: 1000, consumer: 'late' }))).toEqual(['a2']);
    expect(store.readNext('b', { consumer: 'late' })?.seq).toBe(0);
    expect(store.readNext('b', { consumer: 'early' })?.seq).toBe(0);
  });

  it('startAt applies only at registration; a known name changes nothing', () => {
    const store = open({ dir: tmp.make(), fsync: 'none', ...SMALL });
    store.append('a', 'a0');
    store.consumer('c');
    store.append('a', 'a1');
    store.consumer('c', { startAt: 'latest' });
    expect(store.count('a', { consumer: 'c' })).toBe(2);
  });

  it("'earliest' starts at the first entry still stored once earlier segments were reclaimed", () => {
    const store = open({ dir: tmp.make(), fsync: 'none', ...SMALL });
    for (let i = 0; i < 40; i++) store.append('a', 'x'.repeat(4000));
    while (store.readNext('a') !== null);
    expect(store.reclaim().length).toBeGreaterThan(0);
    store.consumer('c');
    const first = store.readNext('a', { consumer: 'c' });
    expect(first).not.toBeNull();
    expect(first!.seq).toBeGreaterThan(0);
    expect(store.count('a', { consumer: 'c' })).toBe(40 - first!.seq - 1);
  });

  it('deletes a consumer durably; a name registered again is a new consumer', () => {
    const dir = tmp.make();
    let store = open({ dir, fsync: 'each', ...SMALL });
    store.append('a', 'a0');
    store.append('a', 'a1');
    store.consumer('c');
    expect(store.readNext('a', { consumer: 'c' })?.seq).toBe(0);
    store.deleteConsumer('c');
    expect(consumersOnDisk(dir)).toEqual([]);
    expect(store.consumers()).toEqual([]);
    expectWalError(() => store.readNext('a', { consumer: 'c' }), 'ERR_INVALID_ARGUMENT');
    expectWalError(() => store.deleteConsumer('c'), 'ERR_INVALID_ARGUMENT');
    store.consumer('c');
    expect(seqs(store.batchRead('a', { maxBytes: 1000, consumer: 'c' }))).toEqual([0, 1]);
    store.close();
    store = open({ dir, fsync: 'each', ...SMALL });
    expect(store.consumers()).toEqual(['c']);
    expect(store.count('a', { consumer: 'c' })).toBe(0);
  });

  it('validates names and options, and a rejected call changes nothing', () => {
    const dir = tmp.make();
    const store = open({ dir, fsync: 'none', ...SMALL });
    store.append('a', 'a0');
    const bad = (fn: () => unknown) => expectWalError(fn, 'ERR_INVALID_ARGUMENT');
    bad(() => store.consumer(''));
    bad(() => store.consumer('\ud800'));
    bad(() => store.consumer('x'.repeat(256)));
    bad(() => store.consumer(7 as unknown as string));
    bad(() => store.consumer('c', { startAt: 'middle' as 'latest' }));
    bad(() => store.consumer('c', 5 as unknown as { startAt: 'latest' }));
    bad(() => store.readNext('a', { consumer: 'nobody' }));
    bad(() => store.batchRead('a', { maxBytes: 10, consumer: '' }));
    bad(() => store.count('a', { consumer: 'nobody' }));
    bad(() => store.deleteConsumer('nobody'));
    expect(store.consumers()).toEqual([]);
    expect(consumersOnDisk(dir)).toEqual([]);
    store.consumer('c');
    bad(() => store.consumer('c', { startAt: 'middle' as 'latest' }));
    store.close();
    expectWalError(() => store.consumer('d'), 'ERR_CLOSED');
    expectWalError(() => store.consumers(), 'ERR_CLOSED');
    expectWalError(() => store.deleteConsumer('c'), 'ERR_CLOSED');
  });
});

describe('rule 11. Consumers are independent', () => {
  it("one consumer's reads move neither another's position nor the default consumer's", () => {
    const store = open({ dir: tmp.make(), fsync: 'none', ...SMALL });
    store.batchAppend('a', ['a0', 'a1', 'a2']);
    store.consumer('x');
    store.consumer('y');
    expect(store.readNext('a', { consumer: 'x' })?.seq).toBe(0);
    expect(store.readNext('a', { consumer: 'x' })?.seq).toBe(1);
    expect(store.readNext('a')?.seq).toBe(0);
    expect(store.count('a', { consumer: 'x' })).toBe(1);
    expect(store.count('a', { consumer: 'y' })).toBe(3);
    expect(store.count('a')).toBe(2);
    store.deleteConsumer('y');
    expect(store.count('a', { consumer: 'x' })).toBe(1);
    expect(store.count('a')).toBe(2);
  });

  it("strictly-at-once: a named consumer's read is persisted, and under 'each' synced, before it returns", () => {
    const dir = tmp.make();
    const calls: string[] = [];
    let store = open({ dir, fsync: 'each', io: callLoggingIo(calls), ...SMALL });
    store.batchAppend('a', ['a0', 'a1', 'a2']);
    store.consumer('x');
    calls.length = 0;
    expect(store.readNext('a', { consumer: 'x' })?.seq).toBe(0);
    expect(calls).toEqual(['fdatasync']);
    store.close();
    store = open({ dir, fsync: 'each', ...SMALL });
    expect(store.readNext('a', { consumer: 'x' })?.seq).toBe(1);
  });

  it('at-least-once counts reads per consumer and topic, and close() persists what each owes', () => {
    const dir = tmp.make();
    const options: LogStoreOptions = {
      dir,
      fsync: 'each',
      readConsistency: { atLeastOnce: { persistEvery: 3 } },
      ...SMALL,
    };
    const calls: string[] = [];
    let store = open({ ...options, io: callLoggingIo(calls) });
    store.batchAppend('a', ['a0', 'a1', 'a2', 'a3']);
    store.consumer('x');
    store.consumer('y');
    calls.length = 0;
    // Two reads by x and two by y: neither reached 3 on its own, so nothing is persisted.
    for (const consumer of ['x', 'y', 'x', 'y']) store.readNext('a', { consumer });
    expect(calls).toEqual([]);
    store.readNext('a', { consumer: 'x' });
    expect(calls).toEqual(['fdatasync']);
    store.close();
    store = open(options);
    expect(store.count('a', { consumer: 'x' })).toBe(1);
    expect(store.count('a', { consumer: 'y' })).toBe(2);
    expect(store.count('a')).toBe(4);
  });
});

describe('rule 12. Space held by a consumer', () => {
  const fill = (store: LogStore) => {
    for (let i = 0; i < 40; i++) store.append('a', 'x'.repeat(4000));
  };

  it('a slow named consumer holds segments the default one consumed; deleted, it holds nothing', () => {
    const store = open({ dir: tmp.make(), fsync: 'none', ...SMALL });
    store.consumer('slow');
    fill(store);
    while (store.readNext('a') !== null);
    expect(store.reclaim()).toEqual([]);
    expect(store.readNext('a', { consumer: 'slow' })?.seq).toBe(0);
    store.deleteConsumer('slow');
    expect(store.reclaim().length).toBeGreaterThan(0);
  });

  it('reclaims only below the smallest position over every consumer', () => {
    const dir = tmp.make();
    const store = open({ dir, fsync: 'none', ...SMALL });
    store.consumer('half');
    fill(store);
    while (store.readNext('a') !== null);
    for (let i = 0; i < 20; i++) store.readNext('a', { consumer: 'half' });
    const deleted = store.reclaim();
    expect(deleted.length).toBeGreaterThan(0);
    // What 'half' has not read is all still there, in order.
    expect(seqs(store.batchRead('a', { maxBytes: 1 << 20, consumer: 'half', checkpoint: false }))).toEqual(
      Array.from({ length: 20 }, (_, i) => 20 + i),
    );
  });

  it('a consumer without a position on a topic (created after it registered) holds all of it', () => {
    const store = open({ dir: tmp.make(), fsync: 'none', ...SMALL });
    store.consumer('c');
    fill(store);
    while (store.readNext('a') !== null);
    expect(store.reclaim()).toEqual([]);
    expect(store.count('a', { consumer: 'c' })).toBe(40);
  });
});

describe('rule D4. Sequence numbers: seqs lost after a consumer passed them are a recorded gap, never damage', () => {
  // Found by the power-loss simulator (FORMAT §21.3 P4). Unless fsync is 'each', a consumer's
  // position can become durable before the entries it passed (a cursor record or a CURSORS snapshot
  // lands, the segment's tail does not). Recovery raises the topic's end to that position (seqs are
  // never reused), so a consumer behind it finds those seqs missing. Before the gap was recorded,
  // count() counted them, a read from inside them threw, and the next open took the hole for damage
  // above every position, dropping what was appended after it and handing its seqs out again.
  it('an append after a hole left by lost entries survives the next open', () => {
    const dir = tmp.make();
    const options: LogStoreOptions = { dir, fsync: 'none', ...SMALL };
    let store = LogStore.open(options);
    store.append('t', 'a0');
    store.append('t', 'a1');
    store.consumer('behind');
    store.close();
    const before = new Set(fs.readdirSync(dir));
    store = LogStore.open(options);
    store.append('t', 'a2');
    for (let i = 0; i < 3; i++) store.readNext('t');
    store.close();
    // The power cut: the second open's segment never reached the disk (its directory entry was not
    // durable), while CURSORS and the cursor log, with the default consumer at 3, did.
    for (const name of fs.readdirSync(dir))
      if (!before.has(name) && /\.(seg|sum)$/.test(name)) fs.rmSync(path.join(dir, name));
    fs.rmSync(path.join(dir, 'MANIFEST.clean'), { force: true });
    store = open(options);
    expect(store.append('t', 'p')).toBe(3);
    store.close();
    opened.splice(0);
    store = open(options);
    expect(store.recovery.damage).toEqual([]);
    // Seq 2 is gone: recorded as a gap, not counted, and skipped by the read (LogStore's batches go
    // on past a gap; the checkpoint moves the position past the last entry read).
    expect(store.recovery.gaps).toEqual([{ topic: 't', fromSeq: 2, toSeq: 3 }]);
    expect(store.count('t', { consumer: 'behind' })).toBe(3);
    expect(
      store.batchRead('t', { maxBytes: 1000, consumer: 'behind' }).map((e) => [e.seq, Buffer.from(e.data).toString()]),
    ).toEqual([
      [0, 'a0'],
      [1, 'a1'],
      [3, 'p'],
    ]);
    expect(store.count('t', { consumer: 'behind' })).toBe(0);
    expect(store.position('t', { consumer: 'behind' })).toBe(4);
    // The gap stays recorded: one more open still accepts the entries after it.
    store.close();
    opened.splice(0);
    store = open(options);
    expect(store.recovery.damage).toEqual([]);
    expect(store.append('t', 'q')).toBe(4);
  });
});
