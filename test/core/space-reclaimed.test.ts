import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KIND_ENTRY } from '../../src/storage/frame.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import { readSegmentLayout, segmentPaths } from '../helpers/corrupt.js';
import { drain, seqs, texts } from '../helpers/log-store-reads.js';
import { TmpDirs } from '../helpers/tmp-dir.js';

const options = (dir: string): LogStoreOptions => ({ dir, fsync: 'none', segmentBytes: 64 * 1024, blockBytes: 4096 });
const names = (paths: string[]) => paths.map((p) => path.basename(p)).sort();
const text = (topic: string, i: number) => `${topic}-${i}-${'r'.repeat(1000)}`;

/** Highest sequence number per topic name in each segment file, read from the frames on disk. */
function lastSeqPerTopic(dir: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const segmentPath of segmentPaths(dir)) {
    const layout = readSegmentLayout(segmentPath);
    const perTopic = new Map<string, number>();
    for (const frame of layout.frames) {
      if (frame.kind !== KIND_ENTRY) continue;
      const name = layout.topicNames.get(frame.topicId)!;
      perTopic.set(name, Math.max(perTopic.get(name) ?? -1, frame.seq));
    }
    out.set(segmentPath, perTopic);
  }
  return out;
}

/** FORMAT §9: sealed segments whose every topic's cursor is past its last entry there. */
function expectedReclaimable(dir: string, cursors: Record<string, number>, current: string | null): string[] {
  return [...lastSeqPerTopic(dir)]
    .filter(
      ([segmentPath, perTopic]) =>
        segmentPath !== current && [...perTopic].every(([topic, last]) => (cursors[topic] ?? 0) > last),
    )
    .map(([segmentPath]) => segmentPath);
}

function write(store: LogStore, topics: string[], perTopic: number): void {
  for (let i = 0; i < perTopic; i++) for (const topic of topics) store.append(topic, text(topic, i));
}

describe('rule 9 (docs/SEMANTICS.md): space is reclaimed — a sealed segment whose entries are all consumed is deleted', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it('deletes nothing while any entry is unconsumed, and never the current segment', () => {
    const dir = tmp.make();
    const store = LogStore.open(options(dir));
    write(store, ['a', 'b'], 150);
    const before = segmentPaths(dir);
    expect(before.length).toBeGreaterThan(3);
    expect(store.reclaim()).toEqual([]);
    drain(store, 'a');
    expect(store.reclaim()).toEqual([]); // every segment also holds unread entries of b
    drain(store, 'b');
    const current = before.at(-1)!;
    const deleted = store.reclaim();
    expect(names(deleted)).toEqual(names(before.slice(0, -1)));
    expect(segmentPaths(dir)).toEqual([current]);
    for (const gone of deleted) expect(fs.existsSync(gone)).toBe(false);
    expect(store.reclaim()).toEqual([]);
    store.close();
  });

  it('deletes exactly the sealed segments whose entries are all consumed, topic by topic', () => {
    const dir = tmp.make();
    const store = LogStore.open(options(dir));
    store.append('rare', 'one entry in the first segment');
    write(store, ['a', 'b'], 200);
    for (let i = 0; i < 200; i++) store.readNext('a');
    for (let i = 0; i < 120; i++) store.readNext('b');
    const all = segmentPaths(dir);
    const expected = expectedReclaimable(dir, { a: 200, b: 120, rare: 0 }, all.at(-1)!);
    // The first segment holds `rare` (unread), so at least it must survive; some later ones must go.
    expect(expected).not.toContain(all[0]);
    expect(expected.length).toBeGreaterThan(0);
    expect(names(store.reclaim())).toEqual(names(expected));
    expect(segmentPaths(dir)).toEqual(all.filter((p) => !expected.includes(p)));

    expect(texts(drain(store, 'rare'))).toEqual(['one entry in the first segment']);
    expect(seqs(drain(store, 'b'))).toEqual(Array.from({ length: 80 }, (_, i) => 120 + i));
    store.close();
  });

  it('keeps data, cursors and sequence numbers correct after reclaiming and reopening', () => {
    const dir = tmp.make();
    let store = LogStore.open(options(dir));
    write(store, ['a', 'b'], 150);
    drain(store, 'a');
    for (let i = 0; i < 149; i++) store.readNext('b');
    const deleted = store.reclaim();
    expect(deleted.length).toBeGreaterThan(0);
    store.close();

    store = LogStore.open(options(dir));
    expect(store.count('a')).toBe(0);
    expect(store.readNext('a')).toBeNull();
    expect(texts(drain(store, 'b'))).toEqual([text('b', 149)]);
    expect(store.append('a', 'next-a')).toBe(150);
    expect(store.append('b', 'next-b')).toBe(150);
    expect([...store.topics()].sort()).toEqual(['a', 'b']);
    store.close();

    store = LogStore.open(options(dir));
    expect(drain(store, 'a').map((e) => [e.seq, Buffer.from(e.data).toString()])).toEqual([[150, 'next-a']]);
    expect(drain(store, 'b').map((e) => e.seq)).toEqual([150]);
    store.close();
  });

  it('reclaims segments of earlier epochs, including their last one, once consumed', () => {
    const dir = tmp.make();
    let store = LogStore.open(options(dir));
    write(store, ['a'], 200);
    store.close();
    const oldEpoch = segmentPaths(dir);

    store = LogStore.open(options(dir));
    drain(store, 'a');
    expect(names(store.reclaim())).toEqual(names(oldEpoch));
    expect(segmentPaths(dir).filter((p) => oldEpoch.includes(p))).toEqual([]);
    store.close();

    store = LogStore.open(options(dir));
    expect(store.readNext('a')).toBeNull();
    expect(store.append('a', 'again')).toBe(200);
    store.close();
  });

  it('a peek does not make its segments reclaimable', () => {
    const dir = tmp.make();
    const store = LogStore.open(options(dir));
    write(store, ['a'], 200);
    for (let round = 0; round < 3; round++) {
      store.batchRead('a', { maxBytes: 1 << 30, checkpoint: false });
      store.readNext('a', { checkpoint: false });
    }
    expect(store.reclaim()).toEqual([]);
    expect(drain(store, 'a')).toHaveLength(200);
    store.close();
  });
});
