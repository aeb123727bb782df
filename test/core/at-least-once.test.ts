import { afterEach, describe, expect, it } from 'vitest';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import { drain, seqs, texts } from '../helpers/log-store-reads.js';
import { TmpDirs, crashCopy } from '../helpers/tmp-dir.js';

const TOPICS = ['a', 'b'];
const PER_TOPIC = 25;

describe('rule 4 (docs/SEMANTICS.md): at-least-once — a crash redelivers at most persistEvery entries per topic, a clean close none', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  const options = (dir: string, persistEvery: number): LogStoreOptions => ({
    dir,
    readConsistency: { atLeastOnce: { persistEvery } },
    fsync: 'none',
    segmentBytes: 64 * 1024,
    blockBytes: 4096,
  });

  function seeded(persistEvery: number): { dir: string; store: LogStore } {
    const dir = tmp.make();
    const store = LogStore.open(options(dir, persistEvery));
    for (let i = 0; i < PER_TOPIC; i++)
      for (const topic of TOPICS) store.append(topic, `${topic}${i}-${'q'.repeat(200)}`);
    return { dir, store };
  }

  /** After a crash the topic restarts somewhere in [consumed - n, consumed] and then continues in order. */
  function expectBoundedReplay(store: LogStore, topic: string, consumed: number, bound: number): void {
    const rest = drain(store, topic);
    const resumeAt = rest[0]?.seq ?? PER_TOPIC;
    expect(resumeAt).toBeLessThanOrEqual(consumed);
    expect(consumed - resumeAt).toBeLessThanOrEqual(bound);
    expect(seqs(rest)).toEqual(Array.from({ length: PER_TOPIC - resumeAt }, (_, i) => resumeAt + i));
  }

  for (const n of [1, 2, 3, 5, 8]) {
    it(`n = ${n}: a crash after k readNext calls redelivers at most ${n} per topic, for every k`, () => {
      for (let k = 0; k <= 12; k++) {
        const { dir, store } = seeded(n);
        for (let i = 0; i < k; i++) {
          expect(store.readNext('a')?.seq).toBe(i);
          if (i % 2 === 0) expect(store.readNext('b')?.seq).toBe(i / 2);
        }
        const copy = crashCopy(dir, tmp);
        store.close();
        const again = LogStore.open(options(copy, n));
        expectBoundedReplay(again, 'a', k, n);
        expectBoundedReplay(again, 'b', Math.ceil(k / 2), n);
        again.close();
      }
    });
  }

  it('counts every entry of a checkpointed batchRead toward n (a batch read is not "one read")', () => {
    const n = 4;
    const { dir, store } = seeded(n);
    expect(store.batchRead('a', { maxBytes: 10 * 220 })).toHaveLength(10);
    expect(store.batchRead('a', { maxBytes: 3 * 220 })).toHaveLength(3);
    const copy = crashCopy(dir, tmp);
    store.close();
    const again = LogStore.open(options(copy, n));
    expectBoundedReplay(again, 'a', 13, n);
    again.close();
  });

  it('redelivers nothing after a clean close', () => {
    for (const n of [1, 3, 7, 100]) {
      const { dir, store } = seeded(n);
      for (let i = 0; i < 11; i++) store.readNext('a');
      store.batchRead('b', { maxBytes: 5 * 210 });
      store.close();
      const again = LogStore.open(options(dir, n));
      expect(again.readNext('a')?.seq).toBe(11);
      expect(again.count('b')).toBe(PER_TOPIC - 5);
      expect(again.readNext('b')?.seq).toBe(5);
      again.close();
    }
  });

  it('persistEvery 0 acts as 1: a crash right after a read does not replay it (seed: persist_every_zero_clamping)', () => {
    for (const n of [0, 1]) {
      const { dir, store } = seeded(n);
      expect(texts([store.readNext('a')!])).toEqual([`a0-${'q'.repeat(200)}`]);
      expect(store.readNext('a')?.seq).toBe(1);
      const copy = crashCopy(dir, tmp);
      store.close();
      const again = LogStore.open(options(copy, n));
      expect(again.readNext('a')?.seq).toBe(2);
      again.close();
    }
  });

  it('peeks never advance the durable cursor', () => {
    const { dir, store } = seeded(2);
    for (let i = 0; i < 10; i++) store.readNext('a', { checkpoint: false });
    store.batchRead('a', { maxBytes: 10_000, checkpoint: false });
    const copy = crashCopy(dir, tmp);
    store.close();
    const again = LogStore.open(options(copy, 2));
    expect(again.readNext('a')?.seq).toBe(0);
    expect(again.count('a')).toBe(PER_TOPIC - 1);
    again.close();
  });
});
