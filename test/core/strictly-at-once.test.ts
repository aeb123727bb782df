import { afterEach, describe, expect, it } from 'vitest';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import { drain, seqs, texts } from '../helpers/log-store-reads.js';
import { TmpDirs, crashCopy } from '../helpers/tmp-dir.js';

const TOPICS = ['alpha', 'beta', 'gamma'];
const PER_TOPIC = 30;

function seed(store: LogStore): void {
  for (let i = 0; i < PER_TOPIC; i++)
    for (const topic of TOPICS) store.append(topic, `${topic}-${i}-${'p'.repeat(i * 40)}`);
}

function expectedFrom(topic: string, from: number): string[] {
  return Array.from({ length: PER_TOPIC - from }, (_, k) => `${topic}-${from + k}-${'p'.repeat((from + k) * 40)}`);
}

/** Consumes `k` entries of `topic` mixing readNext and batchRead, returning what was delivered. */
function consume(store: LogStore, topic: string, k: number): string[] {
  const got: string[] = [];
  while (got.length < k) {
    if (got.length % 3 === 1) {
      const batch = store.batchRead(topic, { maxBytes: 1 });
      got.push(...texts(batch));
    } else {
      got.push(...texts([store.readNext(topic)!]));
    }
  }
  return got;
}

describe('rule 3 (docs/SEMANTICS.md): strictly-at-once — a consumed entry is never delivered again', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  const base = (dir: string): LogStoreOptions => ({
    dir,
    readConsistency: 'strictly-at-once',
    fsync: 'none',
    segmentBytes: 64 * 1024,
    blockBytes: 4096,
  });

  for (const ending of ['close then reopen', 'crash (copy of the open directory)'] as const) {
    it(`never redelivers a consumed entry after ${ending}`, () => {
      const dir = tmp.make();
      const store = LogStore.open(base(dir));
      seed(store);
      const consumed = { alpha: 0, beta: 7, gamma: PER_TOPIC };
      for (const [topic, k] of Object.entries(consumed))
        expect(consume(store, topic, k)).toEqual(expectedFrom(topic, 0).slice(0, k));
      // A poll of a caught-up topic must not move its durable cursor backwards (seed B1).
      expect(store.readNext('gamma')).toBeNull();
      let reopenDir = dir;
      if (ending === 'close then reopen') store.close();
      else {
        reopenDir = crashCopy(dir, tmp);
        store.close();
      }
      const again = LogStore.open(base(reopenDir));
      for (const [topic, k] of Object.entries(consumed)) {
        expect(again.count(topic)).toBe(PER_TOPIC - k);
        const rest = drain(again, topic);
        expect(seqs(rest)[0] ?? PER_TOPIC).toBe(k);
        expect(texts(rest)).toEqual(expectedFrom(topic, k));
      }
      again.close();
    });
  }

  it('resumes exactly after a chain of crashes, each consuming a little', () => {
    let dir = tmp.make();
    let store = LogStore.open(base(dir));
    seed(store);
    const delivered: string[] = [];
    for (let round = 0; round < 6; round++) {
      delivered.push(...consume(store, 'beta', 4));
      store.append('beta', `late-${round}`);
      const copy = crashCopy(dir, tmp);
      store.close();
      dir = copy;
      store = LogStore.open(base(dir));
    }
    delivered.push(...texts(drain(store, 'beta')));
    const written = [...expectedFrom('beta', 0)];
    // Appends made between rounds land after the seeded entries of the topic.
    for (let round = 0; round < 6; round++) written.push(`late-${round}`);
    expect(delivered).toEqual(written);
    store.close();
  });

  it('peeks (checkpoint: false) never move the durable cursor', () => {
    const dir = tmp.make();
    const store = LogStore.open(base(dir));
    seed(store);
    consume(store, 'alpha', 2);
    for (let i = 0; i < 5; i++) {
      expect(store.readNext('alpha', { checkpoint: false })?.seq).toBe(2);
      expect(seqs(store.batchRead('alpha', { maxBytes: 10_000, checkpoint: false }))[0]).toBe(2);
    }
    const copy = crashCopy(dir, tmp);
    store.close();
    const again = LogStore.open(base(copy));
    expect(again.readNext('alpha')?.seq).toBe(2);
    again.close();
  });

  it('is the default read consistency', () => {
    const dir = tmp.make();
    const store = LogStore.open({ dir, fsync: 'none' });
    for (let i = 0; i < 10; i++) store.append('t', `m${i}`);
    for (let i = 0; i < 5; i++) store.readNext('t');
    const copy = crashCopy(dir, tmp);
    store.close();
    const again = LogStore.open({ dir: copy, fsync: 'none' });
    expect(texts(drain(again, 't'))).toEqual(['m5', 'm6', 'm7', 'm8', 'm9']);
    again.close();
  });
});
