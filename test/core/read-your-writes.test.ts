import { afterEach, describe, expect, it } from 'vitest';
import { LogStore } from '../../src/storage/log-store.js';
import { bytesOf, patterned, texts } from '../helpers/log-store-reads.js';
import { TmpDirs } from '../helpers/tmp-dir.js';

describe('rule 2 (docs/SEMANTICS.md): read-your-writes — an entry is readable as soon as its append returns', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it('returns an appended entry to the very next read, without sync or close', () => {
    const store = LogStore.open({ dir: tmp.make(), fsync: 'none', segmentBytes: 64 * 1024, blockBytes: 4096 });
    for (let i = 0; i < 300; i++) {
      const data = patterned(i * 37, i);
      const seq = store.append('t', data);
      expect(store.count('t')).toBe(1);
      const entry = store.readNext('t');
      expect(entry?.seq).toBe(seq);
      expect(bytesOf(entry!.data).equals(data)).toBe(true);
      expect(store.readNext('t')).toBeNull();
      expect(store.count('t')).toBe(0);
    }
    store.close();
  });

  it('makes a whole batch readable as soon as batchAppend returns', () => {
    const store = LogStore.open({ dir: tmp.make(), fsync: 'none', blockBytes: 4096, segmentBytes: 64 * 1024 });
    store.append('t', 'before');
    const batch = ['b0', '', 'x'.repeat(10_000), 'b3'];
    expect(store.batchAppend('t', batch)).toEqual([1, 2, 3, 4]);
    expect(store.count('t')).toBe(5);
    expect(texts(store.batchRead('t', { maxBytes: 1 << 20 }))).toEqual(['before', ...batch]);
    store.close();
  });

  it('a topic read to exhaustion sees later appends (seed: write_after_read_exhaustion)', () => {
    const store = LogStore.open({ dir: tmp.make(), fsync: 'none' });
    expect(store.readNext('later')).toBeNull();
    store.append('later', 'one');
    expect(texts([store.readNext('later')!])).toEqual(['one']);
    expect(store.readNext('later')).toBeNull();
    store.append('later', 'two');
    store.append('later', 'three');
    expect(texts(store.batchRead('later', { maxBytes: 100 }))).toEqual(['two', 'three']);
    store.close();
  });

  it('is visible under every fsync mode', () => {
    for (const fsync of ['each', 'none', { intervalMs: 50 }] as const) {
      const store = LogStore.open({ dir: tmp.make(), fsync });
      store.append('t', `mode ${JSON.stringify(fsync)}`);
      expect(texts([store.readNext('t')!])).toEqual([`mode ${JSON.stringify(fsync)}`]);
      store.close();
    }
  });

  it('lists a topic in topics() once it has an entry', () => {
    const store = LogStore.open({ dir: tmp.make(), fsync: 'none' });
    expect(store.topics()).toEqual([]);
    store.append('b', 'x');
    store.append('a', 'y');
    expect([...store.topics()].sort()).toEqual(['a', 'b']);
    store.close();
  });
});
