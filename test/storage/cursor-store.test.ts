import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { callLoggingIo } from '../helpers/call-log-io.js';
import { CheckpointPolicy, parseReadConsistency } from '../../src/storage/checkpoint-policy.js';
import {
  CURSOR_RECORD_BYTES,
  CURSORS_FILE_NAME,
  CursorStore,
  cursorLogPath,
  decodeCursorRecord,
  encodeCursorRecord,
} from '../../src/storage/cursor-store.js';
import { packControlFile, unpackControlMap } from '../../src/storage/disk-codec.js';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import { CURSOR_LOG_SNAPSHOT_BYTES } from '../../src/storage/limits.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const logName = (generation: number) => path.basename(cursorLogPath('/', generation));

function logBytes(dir: string, generation: number): Buffer {
  return fs.readFileSync(cursorLogPath(dir, generation));
}

function cursorsFile(dir: string): Record<string, unknown> {
  return unpackControlMap(fs.readFileSync(path.join(dir, CURSORS_FILE_NAME)));
}

function writeCursorsFile(dir: string, fields: Record<string, unknown>): void {
  fs.writeFileSync(
    path.join(dir, CURSORS_FILE_NAME),
    packControlFile({ format: 'walrus-ts/cursors', version: 1, generation: 0, topics: [], ...fields }),
  );
}

/** A FileIo that logs durability calls (not renames) and can be told to fail renames. */
function instrumentedIo(calls: string[], failRename = { on: false }): FileIo {
  return {
    ...callLoggingIo(calls),
    rename: (from, to) => {
      if (failRename.on)
        throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC', syscall: 'rename' });
      nodeFileIo.rename(from, to);
    },
  };
}

describe('cursor records (FORMAT §6)', () => {
  it('have the documented 32-byte layout with a CRC-32 over bytes 0…27', () => {
    const bytes = Buffer.from(encodeCursorRecord({ generation: 0x01020304, topicId: 7, nextSeq: 2 ** 40 + 5 }));
    expect(bytes).toHaveLength(CURSOR_RECORD_BYTES);
    expect([...bytes.subarray(0, 4)]).toEqual([0x43, 0x55, 0x52, 0x53]);
    expect(bytes.readUInt32LE(4)).toBe(0x01020304);
    expect(bytes.readUInt32LE(8)).toBe(7);
    expect(bytes.readUInt32LE(12)).toBe(5);
    expect(bytes.readUInt32LE(16)).toBe(2 ** 8);
    expect(bytes.readUInt32LE(20)).toBe(0);
    expect(bytes.readUInt32LE(24)).toBe(0);
    expect(bytes.readUInt32LE(28)).toBe(crc32(bytes.subarray(0, 28)) >>> 0);
    expect(decodeCursorRecord(bytes, 0)).toEqual({ generation: 0x01020304, topicId: 7, nextSeq: 2 ** 40 + 5 });
  });

  it('decode to null when torn, flipped, reserved bits set or topic id 0', () => {
    const good = Buffer.from(encodeCursorRecord({ generation: 1, topicId: 3, nextSeq: 9 }));
    expect(decodeCursorRecord(good.subarray(0, 31), 0)).toBeNull();
    for (let bit = 0; bit < 32 * 8; bit += 13) {
      const flipped = Buffer.from(good);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      expect(decodeCursorRecord(flipped, 0)).toBeNull();
    }
    for (const at of [24, 25, 27]) {
      // byte 24 is the kind (0, a position, is the only one), 25 … 27 are reserved (FORMAT §18.2)
      const reserved = Buffer.from(good);
      reserved[at] = 1;
      reserved.writeUInt32LE(crc32(reserved.subarray(0, 28)) >>> 0, 28);
      expect(decodeCursorRecord(reserved, 0)).toBeNull();
    }
    expect(decodeCursorRecord(encodeCursorRecord({ generation: 1, topicId: 0, nextSeq: 9 }), 0)).toBeNull();
  });
});

describe('CursorStore', () => {
  const tmp = new TmpDirs();
  const open: CursorStore[] = [];
  afterEach(() => {
    for (const store of open.splice(0)) store.close();
    tmp.removeAll();
  });
  const openStore = (dir: string, io: FileIo = nodeFileIo, durable = false) => {
    const store = CursorStore.open(io, dir, { durable });
    open.push(store);
    return store;
  };
  const reopen = (store: CursorStore) => {
    store.close();
    return openStore(store.dir);
  };

  it('starts a new directory at generation 0 with no topics and an empty live log', () => {
    const dir = tmp.make();
    const store = openStore(dir);
    expect(store.generation).toBe(0);
    expect(store.topicTable()).toEqual(new Map());
    expect(store.cursor(1)).toBe(0);
    expect(store.maxTopicId).toBe(0);
    expect(store.logPath).toBe(cursorLogPath(dir, 0));
    expect(fs.readdirSync(dir)).toEqual([logName(0)]);
    expect(logBytes(dir, 0)).toHaveLength(0);
  });

  it('persists an advance as one log record that a reopen replays; an unpersisted one is lost', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.advance(1, 5, true);
    store.advance(2, 3, false);
    expect(store.cursor(2)).toBe(3);
    expect(store.recordsWritten).toBe(1);
    const log = logBytes(dir, 0);
    expect(log).toHaveLength(CURSOR_RECORD_BYTES);
    expect(decodeCursorRecord(log, 0)).toEqual({ generation: 0, topicId: 1, nextSeq: 5 });
    store = reopen(store);
    expect(store.cursor(1)).toBe(5);
    expect(store.cursor(2)).toBe(0);
  });

  it('applies records in file order, the last one per topic winning', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.advance(1, 1, true);
    store.advance(2, 10, true);
    store.advance(1, 4, true);
    store.advance(1, 2 ** 52, true);
    store = reopen(store);
    expect(store.cursor(1)).toBe(2 ** 52);
    expect(store.cursor(2)).toBe(10);
    expect(store.maxTopicId).toBe(2);
  });

  it('never moves a cursor back through advance, and writes no record for an unchanged value', () => {
    const dir = tmp.make();
    const store = openStore(dir);
    store.advance(1, 8, true);
    store.advance(1, 3, true);
    store.advance(1, 8, true);
    expect(store.cursor(1)).toBe(8);
    expect(store.recordsWritten).toBe(1);
    store.advance(1, 9, false);
    store.advance(1, 9, true); // persists the value reached without persisting
    expect(store.recordsWritten).toBe(2);
    expect(reopen(store).cursor(1)).toBe(9);
  });

  it('leaves the cursor where it was when its record cannot be written', () => {
    const dir = tmp.make();
    const full = { on: false };
    const io: FileIo = {
      ...nodeFileIo,
      pwrite: (fd, data, offset, length, position) => {
        if (full.on) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC', syscall: 'write' });
        return nodeFileIo.pwrite(fd, data, offset, length, position);
      },
    };
    const store = openStore(dir, io);
    store.advance(1, 2, true);
    full.on = true;
    expectWalError(() => store.advance(1, 5, true), 'ERR_DISK_FULL');
    expect(store.cursor(1)).toBe(2);
    expect(store.recordsWritten).toBe(1);
    full.on = false;
    store.advance(1, 5, true);
    expect(reopen(store).cursor(1)).toBe(5);
  });

  it('clamp moves a cursor back and persists it', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.advance(1, 30, true);
    store.clamp(1, 12);
    store.clamp(1, 20); // never forward
    expect(store.cursor(1)).toBe(12);
    store = reopen(store);
    expect(store.cursor(1)).toBe(12);
  });

  it('stops replaying at a torn tail, cuts it off, and appends valid records after the prefix', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.advance(1, 1, true);
    store.advance(1, 2, true);
    store.close();
    const torn = encodeCursorRecord({ generation: 0, topicId: 1, nextSeq: 99 }).subarray(0, 17);
    fs.appendFileSync(cursorLogPath(dir, 0), torn);
    store = openStore(dir);
    expect(store.cursor(1)).toBe(2);
    expect(logBytes(dir, 0)).toHaveLength(2 * CURSOR_RECORD_BYTES);
    store.advance(1, 3, true);
    store = reopen(store);
    expect(store.cursor(1)).toBe(3);
  });

  it('ignores everything after a damaged record or one of another generation', () => {
    for (const damage of ['flip', 'generation'] as const) {
      const dir = tmp.make();
      const store = openStore(dir);
      for (let i = 1; i <= 4; i++) store.advance(i, i * 10, true);
      store.close();
      const log = logBytes(dir, 0);
      if (damage === 'flip') log[CURSOR_RECORD_BYTES + 13]! ^= 0x10;
      else log.set(encodeCursorRecord({ generation: 5, topicId: 2, nextSeq: 20 }), CURSOR_RECORD_BYTES);
      fs.writeFileSync(cursorLogPath(dir, 0), log);
      const again = openStore(dir);
      expect([1, 2, 3, 4].map((id) => again.cursor(id))).toEqual([10, 0, 0, 0]);
    }
  });

  it('snapshot writes CURSORS generation g+1 with every named cursor, switches logs and deletes the old one', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.registerTopic('alpha', 1);
    store.registerTopic('βeta', 2);
    store.advance(1, 4, true);
    store.advance(2, 2 ** 33, false);
    store.advance(9, 5, true); // a cursor of a topic with no name yet is kept in memory, not snapshotted
    store.snapshot();
    expect(store.generation).toBe(1);
    expect(cursorsFile(dir)).toEqual({
      format: 'walrus-ts/cursors',
      version: 2,
      generation: 1,
      topics: [
        ['alpha', 1, 0],
        ['βeta', 2, 0],
      ],
      consumers: [
        [
          0,
          '',
          0,
          [
            [1, 4],
            [2, 2 ** 33],
          ],
        ],
      ],
      nextConsumerId: 1,
    });
    expect(fs.readdirSync(dir).sort()).toEqual([CURSORS_FILE_NAME, logName(1)]);
    expect(store.snapshotCursors()).toEqual(
      new Map([
        [1, 4],
        [2, 2 ** 33],
      ]),
    );
    expect(store.cursor(9)).toBe(5);
    store.advance(1, 6, true);
    expect(decodeCursorRecord(logBytes(dir, 1), 0)).toEqual({ generation: 1, topicId: 1, nextSeq: 6 });
    expect(store.snapshotCursors().get(1)).toBe(4);
    store = reopen(store);
    expect(store.generation).toBe(1);
    expect(store.topicTable()).toEqual(
      new Map([
        ['alpha', 1],
        ['βeta', 2],
      ]),
    );
    expect([store.cursor(1), store.cursor(2), store.cursor(9)]).toEqual([6, 2 ** 33, 0]);
    expect(store.snapshotCursors()).toEqual(
      new Map([
        [1, 4],
        [2, 2 ** 33],
      ]),
    );
  });

  it('on open applies the log of a snapshot begun but never completed, and deletes every other log', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.registerTopic('t', 1);
    store.snapshot();
    store.advance(1, 3, true);
    store.close();
    // Generation 2's log exists but CURSORS is still generation 1: its records are the newest.
    fs.writeFileSync(cursorLogPath(dir, 2), encodeCursorRecord({ generation: 2, topicId: 1, nextSeq: 50 }));
    fs.writeFileSync(cursorLogPath(dir, 0), encodeCursorRecord({ generation: 0, topicId: 1, nextSeq: 60 }));
    fs.writeFileSync(cursorLogPath(dir, 0xab), 'junk');
    fs.writeFileSync(path.join(dir, 'cursors-notes.log'), 'not ours');
    store = openStore(dir);
    expect(store.cursor(1)).toBe(50);
    expect(store.generation).toBe(2);
    expect(fs.readdirSync(dir).sort()).toEqual([CURSORS_FILE_NAME, logName(1), logName(2), 'cursors-notes.log']);
    store.advance(1, 51, true);
    expect(decodeCursorRecord(logBytes(dir, 2), CURSOR_RECORD_BYTES)).toEqual({
      generation: 2,
      topicId: 1,
      nextSeq: 51,
    });
    store.snapshot();
    expect(cursorsFile(dir).generation).toBe(3);
    expect(logBytes(dir, 3)).toHaveLength(0);
    store = reopen(store);
    expect(store.cursor(1)).toBe(51);
    expect(fs.readdirSync(dir).sort()).toEqual([CURSORS_FILE_NAME, logName(3), 'cursors-notes.log']);
  });

  it('beginSnapshot switches logs at once; completeSnapshot, once CURSORS is written, hands back the old log', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.registerTopic('t', 1);
    store.advance(1, 4, true);
    const pending = store.beginSnapshot();
    expect(pending.generation).toBe(1);
    expect(pending.path).toBe(path.join(dir, CURSORS_FILE_NAME));
    expect(unpackControlMap(pending.bytes)).toEqual({
      format: 'walrus-ts/cursors',
      version: 2,
      generation: 1,
      topics: [['t', 1, 0]],
      consumers: [[0, '', 0, [[1, 4]]]],
      nextConsumerId: 1,
    });
    store.advance(1, 7, true);
    expect(decodeCursorRecord(logBytes(dir, 1), 0)).toEqual({ generation: 1, topicId: 1, nextSeq: 7 });
    // A crash before CURSORS is written: both logs are applied, nothing is lost (the name, never
    // snapshotted, comes back from the segments' TOPIC_DEF frames in a real recovery).
    store = reopen(store);
    expect(store.cursor(1)).toBe(7);
    store.registerTopic('t', 1);
    const again = store.beginSnapshot();
    store.advance(1, 8, true);
    expect(store.beginSnapshot(), 'a pending snapshot is returned again, not a generation further').toBe(again);
    expect(store.generation).toBe(2);
    fs.writeFileSync(again.path, again.bytes);
    expect(store.snapshotCursors().get(1)).toBeUndefined();
    expect(store.completeSnapshot()).toEqual([cursorLogPath(dir, 1)]);
    expect(store.snapshotCursors()).toEqual(new Map([[1, 7]]));
    expect(store.completeSnapshot()).toEqual([]);
    expect(reopen(store).cursor(1)).toBe(8);
  });

  it('a failed snapshot changes nothing: the old generation and its log stay live', () => {
    const dir = tmp.make();
    const failRename = { on: false };
    const calls: string[] = [];
    let store = openStore(dir, instrumentedIo(calls, failRename));
    store.registerTopic('t', 1);
    store.snapshot();
    store.advance(1, 2, true);
    failRename.on = true;
    expectWalError(() => store.snapshot(), 'ERR_DISK_FULL');
    failRename.on = false;
    expect(store.generation).toBe(1);
    expect(fs.existsSync(cursorLogPath(dir, 2))).toBe(false);
    store.advance(1, 3, true);
    store = reopen(store);
    expect(store.generation).toBe(1);
    expect(store.cursor(1)).toBe(3);
  });

  it('is durable only when asked: fdatasync of the log; the snapshot always (a torn CURSORS would not open)', () => {
    const dir = tmp.make();
    const durableCalls: string[] = [];
    const durable = openStore(dir, instrumentedIo(durableCalls), true);
    durable.advance(1, 1, true);
    durable.syncLog();
    durable.snapshot();
    expect(durableCalls).toEqual(['fdatasync', 'fsync', 'fsyncDir']);
    durable.close();
    const laxCalls: string[] = [];
    const lax = openStore(dir, instrumentedIo(laxCalls), false);
    lax.advance(1, 2, true);
    lax.syncLog();
    expect(laxCalls).toEqual([]);
    lax.snapshot();
    expect(laxCalls).toEqual(['fsync', 'fsyncDir']);
  });

  it('asks for a snapshot once the log holds 1 MiB of records', () => {
    const store = openStore(tmp.make());
    const records = CURSOR_LOG_SNAPSHOT_BYTES / CURSOR_RECORD_BYTES;
    for (let i = 1; i < records; i++) store.advance(1, i, true);
    expect(store.wantsSnapshot()).toBe(false);
    store.advance(1, records, true);
    expect(store.wantsSnapshot()).toBe(true);
    expect(store.recordsWritten).toBe(records);
    store.snapshot();
    expect(store.wantsSnapshot()).toBe(false);
    expect(store.recordsWritten).toBe(records);
  });

  it('keeps the topic table consistent: re-registering is a no-op, conflicts are refused', () => {
    const store = openStore(tmp.make());
    store.registerTopic('a', 1);
    store.registerTopic('a', 1);
    expectWalError(() => store.registerTopic('a', 2), 'ERR_CORRUPT');
    expectWalError(() => store.registerTopic('b', 1), 'ERR_CORRUPT');
    expectWalError(() => store.registerTopic('c', 0), 'ERR_INVALID_ARGUMENT');
    expectWalError(() => store.advance(1, -1, true), 'ERR_INVALID_ARGUMENT');
    expectWalError(() => store.advance(1, 1.5, true), 'ERR_INVALID_ARGUMENT');
    expect(store.topicTable()).toEqual(new Map([['a', 1]]));
  });

  it('rejects an unreadable or inconsistent CURSORS with ERR_CORRUPT, another version with ERR_UNSUPPORTED_FORMAT', () => {
    const dir = tmp.make();
    const file = path.join(dir, CURSORS_FILE_NAME);
    fs.writeFileSync(file, Buffer.from([0x92, 0x01]));
    expect(expectWalError(() => openStore(dir), 'ERR_CORRUPT').message).toContain(file);
    const corrupt: Array<Record<string, unknown>> = [
      { generation: -1 },
      { topics: 'none' },
      { topics: [['a', 1]] },
      { topics: [['', 1, 0]] },
      { topics: [['a', 0, 0]] },
      { topics: [['a', 1, -2]] },
      {
        topics: [
          ['a', 1, 0],
          ['a', 2, 0],
        ],
      },
      {
        topics: [
          ['a', 1, 0],
          ['b', 1, 0],
        ],
      },
    ];
    for (const fields of corrupt) {
      writeCursorsFile(dir, fields);
      expectWalError(() => openStore(dir), 'ERR_CORRUPT');
    }
    writeCursorsFile(dir, { version: 3 });
    expect(expectWalError(() => openStore(dir), 'ERR_UNSUPPORTED_FORMAT').message).toContain(file);
    writeCursorsFile(dir, { generation: 3, topics: [['a', 1, 7]] });
    const store = openStore(dir);
    expect([store.generation, store.cursor(1)]).toEqual([3, 7]);
  });

  it('refuses use after close; close is idempotent', () => {
    const store = openStore(tmp.make());
    store.close();
    store.close();
    expectWalError(() => store.advance(1, 1, true), 'ERR_CLOSED');
    expectWalError(() => store.snapshot(), 'ERR_CLOSED');
    expectWalError(() => store.syncLog(), 'ERR_CLOSED');
  });
});

describe('CheckpointPolicy', () => {
  it('strictly-at-once persists every checkpointed read that consumed something', () => {
    const policy = new CheckpointPolicy('strictly-at-once');
    expect(policy.recordCheckpoint(1, 1)).toBe(true);
    expect(policy.recordCheckpoint(1, 7)).toBe(true);
    expect(policy.recordCheckpoint(1, 0)).toBe(false);
    expect(policy.pending()).toEqual([]);
  });

  it('at-least-once persists once persistEvery entries were consumed, counting entries, per topic', () => {
    const policy = new CheckpointPolicy({ atLeastOnce: { persistEvery: 3 } });
    expect([1, 1].map(() => policy.recordCheckpoint(1, 1))).toEqual([false, false]);
    expect(policy.recordCheckpoint(2, 2)).toBe(false);
    expect(policy.pending().sort()).toEqual([1, 2]);
    expect(policy.recordCheckpoint(1, 1)).toBe(true);
    expect(policy.pending()).toEqual([2]);
    expect(policy.recordCheckpoint(2, 5)).toBe(true);
    expect(policy.pending()).toEqual([]);
  });

  it('treats persistEvery 0 as 1 and validates the option', () => {
    expect(parseReadConsistency({ atLeastOnce: { persistEvery: 0 } })).toEqual({ atLeastOnce: { persistEvery: 1 } });
    expect(parseReadConsistency(undefined)).toBe('strictly-at-once');
    expect(new CheckpointPolicy({ atLeastOnce: { persistEvery: 0 } }).recordCheckpoint(1, 1)).toBe(true);
    for (const bad of [
      'at-least-once',
      { atLeastOnce: {} },
      { atLeastOnce: { persistEvery: -1 } },
      { atLeastOnce: { persistEvery: 1.5 } },
      null,
      3,
    ]) {
      expectWalError(() => new CheckpointPolicy(bad), 'ERR_INVALID_ARGUMENT');
    }
  });
});

describe('a topic name read from CURSORS is held to the topic-name rule: 1 … 4096 bytes of well-formed UTF-8 (FORMAT §10)', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it('an over-long name is ERR_CORRUPT naming the file; the longest allowed one and the last id are accepted', () => {
    const dir = tmp.make();
    const file = path.join(dir, CURSORS_FILE_NAME);
    writeCursorsFile(dir, { topics: [['x'.repeat(4097), 1, 0]] });
    const err = expectWalError(() => CursorStore.open(nodeFileIo, dir, { durable: false }), 'ERR_CORRUPT');
    expect(err.details.path).toBe(file);
    writeCursorsFile(dir, { topics: [['é'.repeat(2048), 0xffff_ffff, 0]] });
    const store = CursorStore.open(nodeFileIo, dir, { durable: false });
    expect(store.maxTopicId).toBe(0xffff_ffff);
    store.close();
  });
});

describe('CursorStore version 2: many consumers (FORMAT §18)', () => {
  const tmp = new TmpDirs();
  const open: CursorStore[] = [];
  afterEach(() => {
    for (const store of open.splice(0)) store.close();
    tmp.removeAll();
  });
  const openStore = (dir: string) => {
    const store = CursorStore.open(nodeFileIo, dir, { durable: false });
    open.push(store);
    return store;
  };
  const reopen = (store: CursorStore) => {
    store.close();
    return openStore(store.dir);
  };

  it('loads a version-1 CURSORS and its log as the default consumer (§18.3), and snapshots version 2', () => {
    const dir = tmp.make();
    writeCursorsFile(dir, {
      generation: 4,
      topics: [
        ['a', 1, 7],
        ['b', 2, 3],
      ],
    });
    // A version-1 record (bytes 20 … 27 zero) is a position record of consumer 0.
    fs.writeFileSync(cursorLogPath(dir, 4), encodeCursorRecord({ generation: 4, topicId: 2, nextSeq: 9 }));
    let store = openStore(dir);
    expect([store.cursor(1), store.cursor(2), store.firstSeq(1)]).toEqual([7, 9, 0]);
    expect(store.namedConsumers()).toEqual([]);
    store.snapshot();
    expect(cursorsFile(dir)).toMatchObject({
      version: 2,
      topics: [
        ['a', 1, 0],
        ['b', 2, 0],
      ],
      consumers: [
        [
          0,
          '',
          0,
          [
            [1, 7],
            [2, 9],
          ],
        ],
      ],
      nextConsumerId: 1,
    });
    store = reopen(store);
    expect([store.cursor(1), store.cursor(2)]).toEqual([7, 9]);
  });

  it('keeps each consumer’s positions apart, in records naming the consumer, across a reopen', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.registerTopic('t', 1);
    const id = store.registerConsumer('indexer', new Map([[1, 2]]));
    expect(id).toBe(1);
    expectWalError(() => store.advance(1, 5, true, id), 'ERR_INVALID_ARGUMENT'); // not durable yet
    store.snapshot();
    expect(store.isDurable(id)).toBe(true);
    store.advance(1, 5, true, id);
    store.advance(1, 3, true);
    const record = decodeCursorRecord(logBytes(dir, store.generation), 0);
    expect(record).toEqual({ generation: store.generation, topicId: 1, nextSeq: 5, consumerId: 1 });
    store = reopen(store);
    expect([store.position(id, 1), store.cursor(1)]).toEqual([5, 3]);
    expect(store.consumerId('indexer')).toBe(id);
    expect(store.namedConsumers()).toEqual([[1, 'indexer']]);
  });

  it('ignores a record of a consumer the loaded table does not hold, and raises nextConsumerId past it', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.registerTopic('t', 1);
    store.snapshot();
    const g = store.generation;
    store.close();
    const bytes = Buffer.concat([
      encodeCursorRecord({ generation: g, topicId: 1, nextSeq: 40, consumerId: 7 }),
      encodeCursorRecord({ generation: g, topicId: 1, nextSeq: 2 }),
    ]);
    fs.writeFileSync(cursorLogPath(dir, g), bytes);
    store = openStore(dir);
    expect(store.cursor(1)).toBe(2); // the replay went on past the unknown consumer's record
    expect(store.namedConsumers()).toEqual([]);
    expect(store.registerConsumer('late', new Map()), 'never id 7: its stale record must not move it').toBe(8);
  });

  it('never reuses a deleted consumer’s id; a name registered again starts afresh', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.registerTopic('t', 1);
    const first = store.registerConsumer('x', new Map());
    store.snapshot();
    store.advance(1, 9, true, first);
    store.deleteConsumer(first);
    expect(store.consumerId('x')).toBeUndefined();
    store.snapshot();
    store = reopen(store);
    const second = store.registerConsumer('x', new Map());
    expect(second).toBeGreaterThan(first);
    store.snapshot();
    expect(store.position(second, 1)).toBe(0);
    store = reopen(store);
    expect(store.position(second, 1)).toBe(0);
    expect(cursorsFile(dir).nextConsumerId).toBe(second + 1);
  });

  it('a registration or deletion that never reached a snapshot is not on disk (§18.2)', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.registerTopic('t', 1);
    store.registerConsumer('a', new Map());
    store.snapshot();
    store.registerConsumer('b', new Map());
    store.deleteConsumer(store.consumerId('a')!);
    expect(store.consumersChanged()).toBe(true);
    store = reopen(store);
    expect(store.namedConsumers()).toEqual([[1, 'a']]);
  });

  it('firstSeq rises only, is snapshotted, and floors every position', () => {
    const dir = tmp.make();
    let store = openStore(dir);
    store.registerTopic('t', 1);
    store.advance(1, 3, true);
    const id = store.registerConsumer('c', new Map([[1, 8]]));
    store.raiseFirstSeq(1, 5);
    store.raiseFirstSeq(1, 4);
    expect([store.firstSeq(1), store.cursor(1), store.position(id, 1)]).toEqual([5, 5, 8]);
    expect([store.minPosition(1), store.maxPosition(1)]).toEqual([5, 8]);
    store.snapshot();
    expect(store.durableConsumedBelow(1)).toBe(5);
    store = reopen(store);
    expect([store.firstSeq(1), store.cursor(1)]).toEqual([5, 5]);
  });

  it('reclamation sees the minimum over every consumer in the last completed snapshot', () => {
    const dir = tmp.make();
    const store = openStore(dir);
    store.registerTopic('t', 1);
    store.registerTopic('u', 2);
    store.advance(1, 10, true);
    store.advance(2, 10, true);
    store.snapshot();
    const id = store.registerConsumer('slow', new Map([[1, 4]]));
    expect(store.durableConsumedBelow(1), 'the registration is not snapshotted yet').toBe(10);
    const file = store.beginSnapshot();
    fs.writeFileSync(file.path, file.bytes);
    store.completeSnapshot();
    expect(store.durableConsumedBelow(1)).toBe(4);
    expect(store.durableConsumedBelow(2), 'no position: holds the topic from its firstSeq').toBe(0);
    store.advance(1, 12, true, id);
    expect(store.durableConsumedBelow(1), 'until the next snapshot').toBe(4);
  });

  it('refuses malformed consumer tables with ERR_CORRUPT', () => {
    const dir = tmp.make();
    const base = { version: 2, topics: [['t', 1, 0]], nextConsumerId: 3 };
    const bad: Array<Record<string, unknown>> = [
      { consumers: 'x' },
      {
        consumers: [
          [1, 'a', 0, []],
          [1, 'b', 0, []],
        ],
      },
      {
        consumers: [
          [1, 'a', 0, []],
          [2, 'a', 0, []],
        ],
      },
      { consumers: [[3, 'a', 0, []]] },
      { consumers: [[1, '', 0, []]] },
      { consumers: [[1, 'x'.repeat(256), 0, []]] },
      { consumers: [[1, 'a', 1, []]] },
      { consumers: [[1, 'a', 0, [[2, 0]]]] },
      {
        consumers: [
          [
            1,
            'a',
            0,
            [
              [1, 0],
              [1, 2],
            ],
          ],
        ],
      },
      { consumers: [[1, 'a', 0, [[1, -1]]]] },
      { consumers: [[0, 'zero', 0, []]] },
      { consumers: [], nextConsumerId: 0 },
      { consumers: [[1, 'a', 0]] },
    ];
    for (const fields of bad) {
      writeCursorsFile(dir, { ...base, ...fields });
      expectWalError(() => CursorStore.open(nodeFileIo, dir, { durable: false }), 'ERR_CORRUPT');
    }
    writeCursorsFile(dir, { ...base, consumers: [[2, 'ok', 0, [[1, 5]]]] });
    const store = openStore(dir);
    expect([store.consumerId('ok'), store.position(2, 1), store.cursor(1)]).toEqual([2, 5, 0]);
  });
});
