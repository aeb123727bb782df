import { afterEach, describe, expect, it } from 'vitest';
import { LogStore } from '../../src/storage/log-store.js';
import { drain, seqs, texts } from '../helpers/log-store-reads.js';
import { TmpDirs } from '../helpers/tmp-dir.js';

const SMALL = { fsync: 'none', segmentBytes: 64 * 1024, blockBytes: 4096 } as const;

describe('rule 1 (docs/SEMANTICS.md): per-topic order — entries are read in append order, topics never mix', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it('reads each topic in append order with consecutive sequence numbers, never another topic’s entries', () => {
    const dir = tmp.make();
    const store = LogStore.open({ dir, ...SMALL });
    const topics = ['a', 'b', 'c/ü', 'd d'];
    const written = new Map<string, string[]>(topics.map((t) => [t, []]));
    for (let i = 0; i < 600; i++) {
      const topic = topics[(i * 7) % topics.length]!;
      const text = `${topic}:${written.get(topic)!.length}:${'x'.repeat(i % 300)}`;
      const seq = store.append(topic, text);
      expect(seq).toBe(written.get(topic)!.length);
      written.get(topic)!.push(text);
    }
    for (const topic of topics) {
      const entries = drain(store, topic);
      expect(entries.every((e) => e.topic === topic)).toBe(true);
      expect(seqs(entries)).toEqual(written.get(topic)!.map((_, i) => i));
      expect(texts(entries)).toEqual(written.get(topic));
    }
    store.close();
  });

  it('keeps order across segment rollovers, epochs (reopens) and atomic batches', () => {
    const dir = tmp.make();
    const expected: string[] = [];
    for (let epoch = 0; epoch < 4; epoch++) {
      const store = LogStore.open({ dir, ...SMALL });
      for (let i = 0; i < 40; i++) {
        if (i % 5 === 0) {
          const batch = [0, 1, 2].map((j) => `e${epoch}-batch${i}-${j}-${'y'.repeat(900)}`);
          expect(store.batchAppend('ordered', batch)).toEqual(batch.map((_, j) => expected.length + j));
          expected.push(...batch);
        } else {
          const text = `e${epoch}-single${i}-${'z'.repeat(1500)}`;
          expect(store.append('ordered', text)).toBe(expected.length);
          expected.push(text);
        }
        store.append('noise', `noise-${epoch}-${i}`);
      }
      store.close();
    }
    const store = LogStore.open({ dir, ...SMALL });
    const entries = drain(store, 'ordered');
    expect(seqs(entries)).toEqual(expected.map((_, i) => i));
    expect(texts(entries)).toEqual(expected);
    expect(drain(store, 'noise')).toHaveLength(4 * 40);
    store.close();
  });

  it('batchRead and readNext share one cursor and one order', () => {
    const dir = tmp.make();
    const store = LogStore.open({ dir, ...SMALL });
    const expected = Array.from({ length: 100 }, (_, i) => `m${i}`);
    for (const text of expected) store.append('t', text);
    const seen: string[] = [];
    while (seen.length < expected.length) {
      seen.push(...texts(store.batchRead('t', { maxBytes: 12 })));
      const one = store.readNext('t');
      if (one) seen.push(Buffer.from(one.data).toString());
    }
    expect(seen).toEqual(expected);
    expect(store.readNext('t')).toBeNull();
    store.close();
  });
});
