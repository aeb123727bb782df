/**
 * `wal.subscribe(topic)` through the built package: follows the tail, waits (no polling) for new
 * entries, ends cleanly on abort and on close, consumes at batch granularity, and competing
 * subscribers in strictly-at-once mode get each entry exactly once.
 */
import { describe, expect, it } from 'vitest';
import { WalError, type Entry, type Walrus } from '../../dist/src/index.js';
import { armWait } from '../../dist/src/engine/main/write-waits.js';
import { SMALL, openWal, tempDir } from '../helpers/wal.js';
import { within } from '../helpers/within.js';

/** Collects entries' texts until `stop(collected)` says so, then aborts; returns what the loop yielded. */
async function collect(
  wal: Walrus,
  topic: string,
  stop: (texts: string[]) => boolean,
  options: { checkpoint?: boolean; maxBytes?: number } = {},
): Promise<string[]> {
  const controller = new AbortController();
  const texts: string[] = [];
  if (stop(texts)) controller.abort();
  for await (const entry of wal.subscribe(topic, { ...options, signal: controller.signal })) {
    texts.push(entry.text());
    if (stop(texts)) controller.abort();
  }
  return texts;
}

/** Counts the subscription's reads, to tell waiting from polling. */
function countReads(wal: Walrus): { reads: () => number } {
  let reads = 0;
  const original = wal.batchRead.bind(wal);
  wal.batchRead = (topic, options) => {
    reads++;
    return original(topic, options);
  };
  return { reads: () => reads };
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('subscribe: following the tail', () => {
  it('yields what is unread, then entries appended later, in order', async () => {
    const wal = await openWal(SMALL);
    for (let i = 0; i < 50; i++) await wal.append('t', `old-${i}`);
    const expected = [
      ...Array.from({ length: 50 }, (_, i) => `old-${i}`),
      ...Array.from({ length: 150 }, (_, i) => `new-${i}`),
    ];
    const reading = collect(wal, 't', (texts) => texts.length === expected.length);
    for (let i = 0; i < 150; i++) {
      await wal.append('t', `new-${i}`);
      if (i % 10 === 0) await tick(1); // let the subscriber catch up and go back to waiting
    }
    expect(await reading).toEqual(expected);
    expect(await wal.count('t')).toBe(0);
  });

  it('never misses a write that lands while it goes back to waiting (one entry at a time)', async () => {
    const wal = await openWal({ ...SMALL, writers: 1 });
    const n = 300;
    let delivered = 0;
    const reading = collect(wal, 'pingpong', (texts) => {
      delivered = texts.length;
      return texts.length === n;
    });
    // Each append waits until the previous entry was delivered, so every entry arrives while the
    // subscriber is between "found nothing" and "sleeping": a lost wakeup would hang this test.
    for (let i = 0; i < n; i++) {
      await wal.append('pingpong', `e${i}`);
      while (delivered <= i) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await reading).toEqual(Array.from({ length: n }, (_, i) => `e${i}`));
  });

  it('wakes for a topic that did not exist when it started waiting', async () => {
    const wal = await openWal(SMALL);
    const reading = collect(wal, 'born-later', (texts) => texts.length === 3);
    await tick(20);
    await wal.batchAppend('born-later', ['a', 'b', 'c']);
    expect(await reading).toEqual(['a', 'b', 'c']);
  });

  it('waits instead of polling: no reads while nothing is appended', async () => {
    const wal = await openWal(SMALL);
    await wal.append('idle', 'first');
    const { reads } = countReads(wal);
    const controller = new AbortController();
    const iterator = wal.subscribe('idle', { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.text()).toBe('first');
    const pending = iterator.next();
    await tick(50);
    const readsWhileWaiting = reads();
    await tick(300);
    // A poller would have read again and again; a waiter reads nothing until a write arrives.
    expect(reads()).toBe(readsWhileWaiting);
    expect(readsWhileWaiting).toBeLessThanOrEqual(4);
    await wal.append('idle', 'second');
    expect((await pending).value?.text()).toBe('second');
    controller.abort();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('decodes msgpack entries like reads do', async () => {
    const wal = await openWal({ ...SMALL, codec: 'msgpack' });
    await wal.append('objects', { id: 1, at: new Date(0), tags: new Set(['x']) });
    await wal.append('objects', 'plain text');
    const controller = new AbortController();
    const values: unknown[] = [];
    for await (const entry of wal.subscribe('objects', { signal: controller.signal })) {
      values.push(entry.codec === 'msgpack' ? entry.value : entry.text());
      if (values.length === 2) controller.abort();
    }
    expect(values).toEqual([{ id: 1, at: new Date(0), tags: new Set(['x']) }, 'plain text']);
  });
});

describe('subscribe: ending', () => {
  it('ends at once, without reading, when the signal is already aborted', async () => {
    const wal = await openWal(SMALL);
    await wal.append('t', 'x');
    const seen: Entry[] = [];
    for await (const entry of wal.subscribe('t', { signal: AbortSignal.abort() })) seen.push(entry);
    expect(seen).toEqual([]);
    expect(await wal.count('t')).toBe(1);
  });

  it('ends cleanly (no throw) when aborted while waiting', async () => {
    const wal = await openWal(SMALL);
    const controller = new AbortController();
    const loop = (async () => {
      let n = 0;
      for await (const _ of wal.subscribe('quiet', { signal: controller.signal })) n++;
      return n;
    })();
    await tick(30);
    controller.abort();
    await expect(loop).resolves.toBe(0);
  });

  it('ends cleanly when the WAL closes while it waits, and when it is already closed', async () => {
    const wal = await openWal(SMALL);
    await wal.append('t', 'only');
    const loop = (async () => {
      const texts: string[] = [];
      for await (const entry of wal.subscribe('t')) texts.push(entry.text());
      return texts;
    })();
    await tick(30);
    await wal.close();
    await expect(loop).resolves.toEqual(['only']);
    const after: Entry[] = [];
    for await (const entry of wal.subscribe('t')) after.push(entry);
    expect(after).toEqual([]);
  });

  it('after an abort, still yields the rest of the batch it already consumed, then ends', async () => {
    const wal = await openWal(SMALL);
    await wal.batchAppend(
      'jobs',
      Array.from({ length: 10 }, (_, i) => `job-${i}`),
    );
    const controller = new AbortController();
    const texts: string[] = [];
    for await (const entry of wal.subscribe('jobs', { signal: controller.signal, maxBytes: 1 << 20 })) {
      texts.push(entry.text());
      controller.abort(); // first entry: the batch of 10 was already taken
    }
    expect(texts).toEqual(Array.from({ length: 10 }, (_, i) => `job-${i}`));
    expect(await wal.count('jobs')).toBe(0);
  });

  it('consumes a batch at a time: break drops the rest of the batch, maxBytes: 1 keeps it unread', async () => {
    const wal = await openWal(SMALL);
    await wal.batchAppend(
      'big',
      Array.from({ length: 10 }, (_, i) => `b${i}`),
    );
    for await (const _ of wal.subscribe('big', { maxBytes: 1 << 20 })) break;
    expect(await wal.count('big')).toBe(0); // all 10 were consumed by the one batch read

    await wal.batchAppend(
      'small',
      Array.from({ length: 10 }, (_, i) => `s${i}`),
    );
    for await (const entry of wal.subscribe('small', { maxBytes: 1 })) {
      expect(entry.text()).toBe('s0');
      break;
    }
    expect(await wal.count('small')).toBe(9);
    expect((await wal.readNext('small'))?.text()).toBe('s1');
  });

  it('next() calls made before a batch arrived get its entries in order; return() drops the rest', async () => {
    const wal = await openWal(SMALL);
    await wal.batchAppend(
      't',
      Array.from({ length: 6 }, (_, i) => `e${i}`),
    );
    const iterator = wal.subscribe('t')[Symbol.asyncIterator]();
    // Three calls at once, as an iterator may be driven: one batch read, each entry handed out once.
    const first = await Promise.all([iterator.next(), iterator.next(), iterator.next()]);
    expect(first.map((r) => (r.done ? null : r.value.text()))).toEqual(['e0', 'e1', 'e2']);
    expect(await iterator.return!()).toEqual({ value: undefined, done: true });
    expect((await iterator.next()).done).toBe(true);
    expect(await wal.count('t')).toBe(0); // the batch was consumed when it was read (rule D8)
  });

  it('a failed read ends the iteration: next() calls queued behind it end too', async () => {
    const wal = await openWal(SMALL);
    await wal.append('t', 'x');
    wal.batchRead = () => Promise.reject(new WalError('ERR_IO', 'simulated read failure'));
    const iterator = wal.subscribe('t')[Symbol.asyncIterator]();
    const [failed, queued] = await Promise.allSettled([iterator.next(), iterator.next()]);
    expect(failed).toMatchObject({ status: 'rejected', reason: { code: 'ERR_IO' } });
    expect(queued).toEqual({ status: 'fulfilled', value: { value: undefined, done: true } });
  });

  it('rethrows failures other than close', async () => {
    const wal = await openWal(SMALL);
    await wal.append('t', 'x');
    wal.batchRead = () => Promise.reject(new WalError('ERR_IO', 'simulated read failure'));
    const iterator = wal.subscribe('t')[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toMatchObject({ code: 'ERR_IO' });
  });
});

describe('subscribe: consistency', () => {
  it('competing subscribers (strictly-at-once) get every entry exactly once', async () => {
    const wal = await openWal(SMALL);
    const total = 1200;
    const seen: number[][] = [[], [], []];
    let delivered = 0;
    const controller = new AbortController();
    const workers = seen.map(async (mine) => {
      for await (const entry of wal.subscribe('work', { signal: controller.signal, maxBytes: 64 })) {
        mine.push(Number(entry.text()));
        if (++delivered === total) controller.abort();
        if (delivered % 7 === 0) await tick(0); // give the others a turn
      }
    });
    const appends: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      appends.push(wal.append('work', String(i)));
      if (i % 100 === 99) await Promise.all(appends.splice(0));
    }
    await Promise.all(appends);
    await Promise.all(workers);
    const all = seen.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: total }, (_, i) => i));
    for (const mine of seen) expect(mine).toEqual([...mine].sort((a, b) => a - b)); // each in order
    expect(await wal.count('work')).toBe(0);
  });

  it('checkpoint: false observes without consuming and follows new entries', async () => {
    const wal = await openWal(SMALL);
    await wal.batchAppend('watched', ['a', 'b']);
    const reading = collect(wal, 'watched', (texts) => texts.length === 4, { checkpoint: false });
    await tick(20);
    await wal.append('watched', 'c');
    await wal.append('watched', 'd');
    expect(await reading).toEqual(['a', 'b', 'c', 'd']);
    expect(await wal.count('watched')).toBe(4);
    expect((await wal.readNext('watched'))?.text()).toBe('a');
  });

  it('checkpoint: false keeps following far past maxBatchEntries unconsumed entries, and skips what consumers took', async () => {
    const wal = await openWal({ ...SMALL, maxBatchEntries: 16 });
    for (let i = 0; i < 10; i++)
      await wal.batchAppend(
        'far',
        Array.from({ length: 10 }, (_, k) => `f${i * 10 + k}`),
      );
    const reading = collect(wal, 'far', (texts) => texts.length === 150, { checkpoint: false, maxBytes: 64 });
    await tick(20);
    for (let i = 100; i < 150; i++) await wal.append('far', `f${i}`);
    expect(await reading).toEqual(Array.from({ length: 150 }, (_, i) => `f${i}`));
    expect(await wal.count('far')).toBe(150);
    // A new observer starts at the cursor: what a consumer took is not replayed to it.
    expect((await wal.batchRead('far', { maxBytes: Infinity })).length).toBe(16);
    expect(await collect(wal, 'far', (texts) => texts.length === 3, { checkpoint: false })).toEqual([
      'f16',
      'f17',
      'f18',
    ]);
  });

  it('a consumed position survives reopen: a new subscription starts after it', async () => {
    const dir = tempDir();
    const first = await openWal({ ...SMALL, dir, readConsistency: { atLeastOnce: { persistEvery: 10 } } });
    await first.batchAppend(
      'q',
      Array.from({ length: 25 }, (_, i) => `q${i}`),
    );
    expect(await collect(first, 'q', (texts) => texts.length === 25, { maxBytes: 16 })).toHaveLength(25);
    await first.append('q', 'after');
    await first.close();
    const second = await openWal({ ...SMALL, dir });
    expect(await collect(second, 'q', (texts) => texts.length === 1)).toEqual(['after']);
  });
});

describe('subscribe: arguments', () => {
  it('validates at the call with ERR_INVALID_ARGUMENT', async () => {
    const wal = await openWal(SMALL);
    const bad: Array<[unknown, unknown]> = [
      ['', undefined],
      [42, undefined],
      ['t', 'not options'],
      ['t', { signal: {} }],
      ['t', { checkpoint: 'yes' }],
      ['t', { maxBytes: 0 }],
      ['t', { maxBytes: 1.5 }],
      ['t', { maxBytes: Number.NaN }],
    ];
    for (const [topic, options] of bad) {
      let thrown: unknown;
      try {
        wal.subscribe(topic as string, options as never);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify([topic, options])).toBeInstanceOf(WalError);
      expect((thrown as WalError).code).toBe('ERR_INVALID_ARGUMENT');
    }
  });
});

describe('the idle wait (armWait) shared by subscribe and the JetStream mirror', () => {
  it('ends at once when its signal was aborted before it was armed (a mirror stopped during its last peek hung in stop())', async () => {
    const wal = await openWal(SMALL);
    await wal.append('other', 'x'); // the topic exists; no write to it follows
    const stopped = new AbortController();
    stopped.abort();
    const wait = armWait(wal, ['other', 'never-written'], stopped.signal);
    expect(await within(wait.done, 'armWait on an aborted signal', 5_000)).toBe('woke');
  });

  it('wakes on a write to any of its topics, and ends the waits on the others', async () => {
    const wal = await openWal(SMALL);
    const wait = armWait(wal, ['a', 'b', 'c'], undefined);
    await wal.append('b', 'written');
    expect(await within(wait.done, 'armWait over three topics')).toBe('woke');
  });
});
