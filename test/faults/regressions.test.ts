/**
 * One named test per counterexample found by the power-loss simulator (power-loss.test.ts) and the
 * corrupt-file fuzzer (corrupt-open.test.ts), reduced to the few steps that matter, so each stays
 * fixed once it is fixed. Each test names the fuzz run that found it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WalError } from '../../src/errors.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import {
  RecordingFileIo,
  crashStateOf,
  keepAllExcept,
  materialize,
  withoutLock,
} from '../helpers/recording-file-io.js';
import { textOf, texts } from '../helpers/log-store-reads.js';
import { TmpDirs } from '../helpers/tmp-dir.js';

const tmp = new TmpDirs();
afterEach(() => tmp.removeAll());

const small = (dir: string): LogStoreOptions => ({ dir, fsync: 'none', segmentBytes: 64 * 1024, blockBytes: 4096 });

describe('regressions from the power-loss simulator', () => {
  /**
   * Found by power-loss.test.ts (POWER_LOSS_SEED=4 POWER_LOSS_DEPTH=3, fsync { intervalMs },
   * strictly-at-once): no crash is needed. Recovery derives a topic's next seq from the segments
   * that are left (recover.ts resolveTopic: `nextSeq = expected`) and then clamps the cursor to it
   * (namespace-opening.ts finishRecovery), so once the segment holding a topic's last, consumed
   * entries is reclaimed, the topic's end moves back and new appends reuse seqs already delivered.
   */
  it('reclaiming the segment with a topic’s last entries does not make the next open reuse their seqs', () => {
    const dir = tmp.make('walrus-regression');
    let store = LogStore.open(small(dir));
    store.append('x', 'x0');
    store.append('keep', 'k0'); // keeps the first segment alive: it still holds an unread entry
    store.close();
    store = LogStore.open(small(dir));
    store.append('x', 'x1'); // the only entry of x in the second epoch's segment
    expect(texts([store.readNext('x')!, store.readNext('x')!])).toEqual(['x0', 'x1']);
    store.close();
    store = LogStore.open(small(dir));
    expect(store.reclaim().map((p) => path.basename(p))).toEqual(['00000002-0000-00000000.seg']);
    store.close();

    store = LogStore.open(small(dir));
    try {
      expect(store.count('x')).toBe(0);
      expect(store.append('x', 'x2'), 'seqs 0 and 1 were delivered: the next one is 2').toBe(2);
    } finally {
      store.close();
    }
  });

  /**
   * Found by power-loss.test.ts (same run, other cut points; the same root cause as above). Under
   * { intervalMs }, a cursor snapshot (here from reclaim(), also from cursor-log rotation) makes
   * the cursor durable while the entries it consumed are not yet synced. A power cut then keeps the
   * cursor and loses the entries; recovery clamps the cursor back to the data and hands the
   * delivered seqs out again, to different entries.
   */
  it('after a power cut, a durable cursor past lost unsynced entries does not make their seqs reused', () => {
    const root = fs.realpathSync(tmp.make('walrus-regression'));
    const io = new RecordingFileIo(root);
    const store = LogStore.open({ dir: root, io, fsync: { intervalMs: 86_400_000 } });
    store.append('x', 'x0');
    store.sync(); // x0 is durable
    store.append('x', 'x1');
    store.append('x', 'x2'); // written, not synced
    expect(texts([store.readNext('x')!, store.readNext('x')!, store.readNext('x')!])).toEqual(['x0', 'x1', 'x2']);
    store.reclaim(); // snapshots the cursors: CURSORS (x at 3) is durable, nothing is deleted
    // The power cut: only what was made durable survives.
    const state = crashStateOf(io.snapshot(), { dirOps: [], files: {} });
    store.close();
    const dir = tmp.make('walrus-regression-state');
    materialize(state, root, dir);

    const recovered = LogStore.open(small(dir));
    try {
      expect(recovered.count('x')).toBe(0);
      expect(recovered.append('x', 'new'), 'seqs 1 and 2 were delivered before the cut: the next one is 3').toBe(3);
    } finally {
      recovered.close();
    }
  });

  /**
   * Found by power-loss.test.ts (POWER_LOSS_SEED=303, depth 2, an earlier tuning of the workload;
   * fsync { intervalMs }, at-least-once). Two power cuts. The first leaves a segment whose
   * unsynced writes reached the disk out of order: t#1 is lost, t#2 and t#3 are intact after the
   * hole, so recovery ends t at 1 and ignores them. New t#1 and t#2 are appended (not yet synced)
   * and consumed. The second cut loses them but keeps the cursor (3). Recovery then takes the old
   * run [2, 3] for consumed entries (recover.ts resolveTopic: a run above `expected` and at or
   * below the cursor is accepted) and delivers the old t#3, an entry the first recovery had
   * declared gone (docs/FORMAT.md §5.3: ignored frames never come back). Fixed by MANIFEST fences:
   * the first recovery fences t's frames from seq 2 in that segment, so the second never sees them.
   */
  it('a frame one recovery ignored never comes back after the entries that replaced it are lost', () => {
    const root = fs.realpathSync(tmp.make('walrus-regression'));
    const io = new RecordingFileIo(root);
    const options: LogStoreOptions = { dir: root, io, fsync: { intervalMs: 86_400_000 } };
    let store = LogStore.open(options);
    store.append('t', 'old-0');
    store.sync();
    const firstSegment = io.inodeOf(path.join(root, '00000001-0000-00000000.seg'))!;
    for (const text of ['old-1', 'old-2', 'old-3']) store.append('t', text); // one write each, unsynced
    // First cut: the write of old-1 is lost, the two after it reached the disk.
    let snapshot = io.snapshot();
    const first = crashStateOf(snapshot, keepAllExcept(snapshot, { [firstSegment]: ['d', 'k', 'k'] }));
    store.close();
    io.resetTo(withoutLock(first.files, root));

    store = LogStore.open(options);
    expect(store.count('t'), 'the first recovery keeps t#0 only').toBe(1);
    expect(store.append('t', 'new-1')).toBe(1);
    expect(store.append('t', 'new-2')).toBe(2);
    expect(texts([store.readNext('t')!, store.readNext('t')!, store.readNext('t')!])).toEqual([
      'old-0',
      'new-1',
      'new-2',
    ]);
    // Second cut: the new segment's writes are lost, the cursor records (t at 3) are not.
    const secondSegment = io.inodeOf(path.join(root, '00000002-0000-00000000.seg'))!;
    snapshot = io.snapshot();
    const second = crashStateOf(snapshot, keepAllExcept(snapshot, { [secondSegment]: [] }));
    store.close();
    const dir = tmp.make('walrus-regression-state');
    materialize(second, root, dir);

    const recovered = LogStore.open(small(dir));
    try {
      const next = recovered.readNext('t');
      expect(next === null ? null : textOf(next), 'old-3 was discarded by the first recovery').toBeNull();
    } finally {
      recovered.close();
    }
  });
});

describe('regressions from the corrupt-file fuzzer', () => {
  /**
   * Found by corrupt-open.test.ts (CORRUPT_OPEN_SEED=1535391488, case 6: 10 bytes of CURSORS
   * replaced by garbage). CURSORS has no checksum (docs/FORMAT.md §6), and recovery names a topic
   * after CURSORS rather than after its CRC-checked TOPIC_DEF frames (recover.ts collectNames), so
   * one damaged byte silently renames a topic: its entries are served under the garbage name, the
   * real name reads as empty (an append to it starts a new topic at seq 0), and the next snapshot
   * writes the garbage name back for good. Only a stats entry mentions it.
   */
  it('one damaged byte in a CURSORS topic name neither renames the topic nor hides its entries', () => {
    const dir = tmp.make('walrus-regression');
    const store = LogStore.open(small(dir));
    for (let i = 0; i < 5; i++) store.append('orders', `o${i}`);
    expect(store.readNext('orders')?.seq).toBe(0);
    store.close();
    const cursorsPath = path.join(dir, 'CURSORS');
    const bytes = fs.readFileSync(cursorsPath);
    const at = bytes.indexOf(Buffer.from('orders'));
    expect(at).toBeGreaterThan(0);
    bytes[at + 4] = 'R'.charCodeAt(0); // "ordeRs": same length, still a well-formed msgpack map
    fs.writeFileSync(cursorsPath, bytes);

    let reopened: LogStore;
    try {
      reopened = LogStore.open(small(dir));
    } catch (err) {
      // Refusing is a correct outcome too, as long as it names the damaged file.
      expect(err).toBeInstanceOf(WalError);
      expect((err as WalError).code).toBe('ERR_CORRUPT');
      expect((err as WalError).details.path).toBe(cursorsPath);
      return;
    }
    try {
      expect(reopened.topics()).toEqual(['orders']);
      expect(reopened.count('orders')).toBe(4);
      expect(reopened.readNext('orders')?.seq).toBe(1);
    } finally {
      reopened.close();
    }
  });
});
