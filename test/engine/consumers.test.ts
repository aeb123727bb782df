/**
 * Named consumers, random access and retention (docs/SEMANTICS.md rules 11–12 and D19–D22) through the public
 * API of the built package. One describe per rule of docs/SEMANTICS.md: 11, 12, D19–D22.
 * (Crashes: test/crash/consumers-sigkill.test.ts; the cursor files: test/storage/cursor-store.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { WalError, topicReadable, type Walrus } from '../../dist/src/index.js';
import { SMALL, drain, openWal, tempDir } from '../helpers/wal.js';
import { within } from '../helpers/within.js';

type Consumer = ReturnType<Walrus['consumer']>;

async function fill(wal: Walrus, topic: string, n: number, from = 0, pad = 0): Promise<void> {
  const all: Promise<void>[] = [];
  for (let i = from; i < from + n; i++) all.push(wal.append(topic, `${topic}-${i}`.padEnd(pad, '.')));
  await Promise.all(all);
}

async function drainConsumer(c: Consumer, topic: string): Promise<number[]> {
  const seqs: number[] = [];
  for (;;) {
    const batch = await within(c.batchRead(topic, { maxBytes: 1 << 20 }), 'consumer batchRead');
    if (batch.length === 0) return seqs;
    for (const e of batch) seqs.push(e.seq);
  }
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(WalError);
  expect((err as WalError).code).toBe(code);
}

function throwsWith(fn: () => unknown, code: string): void {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(WalError);
  expect((err as WalError).code).toBe(code);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('rule 11 (docs/SEMANTICS.md): consumers are independent', () => {
  it('every consumer reads every entry in order; what one consumes never changes what another reads', async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 50);
    const a = wal.consumer('indexer');
    const b = wal.consumer('shipper');
    expect(await drainConsumer(a, 't')).toEqual(range(0, 50));
    expect(await b.count('t')).toBe(50);
    expect(await wal.count('t')).toBe(50);
    expect((await b.readNext('t'))?.text()).toBe('t-0');
    expect((await drain(wal, 't')).map((e) => e.seq)).toEqual(range(0, 50));
    expect(await drainConsumer(b, 't')).toEqual(range(1, 50));
    expect([await a.count('t'), await b.count('t'), await wal.count('t')]).toEqual([0, 0, 0]);
  });

  it('a seek or a delete of one consumer leaves the others where they were', async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 10);
    const a = wal.consumer('a');
    const b = wal.consumer('b');
    await a.batchRead('t', { maxBytes: 1 << 20 });
    await b.readNext('t');
    await a.seek('t', { seq: 3 });
    expect((await b.readNext('t'))?.seq).toBe(1);
    expect((await wal.readNext('t'))?.seq).toBe(0);
    await a.delete();
    expect((await b.readNext('t'))?.seq).toBe(2);
    expect(await wal.count('t')).toBe(9);
  });

  it('concurrent reads of one consumer and topic hand each entry out once', async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 200);
    const c = wal.consumer('c');
    const other = wal.consumer('c'); // a second handle of the same name shares the position
    const reads: Promise<{ seq: number } | null>[] = [];
    for (let i = 0; i < 120; i++) reads.push((i % 2 ? c : other).readNext('t'));
    const batches = [c.batchRead('t', { maxBytes: 500 }), other.batchRead('t', { maxBytes: 500 })];
    const seqs = [
      ...(await Promise.all(reads)).map((e) => e!.seq),
      ...(await Promise.all(batches)).flat().map((e) => e.seq),
    ];
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(await c.count('t')).toBe(200 - seqs.length);
  });

  it('each consumer’s position survives a close and reopen on its own (strictly-at-once)', async () => {
    const dir = tempDir();
    let wal = await openWal({ ...SMALL, dir });
    await fill(wal, 't', 20);
    const a = wal.consumer('a');
    const b = wal.consumer('b');
    for (let i = 0; i < 7; i++) await a.readNext('t');
    for (let i = 0; i < 3; i++) await b.readNext('t');
    await wal.readNext('t');
    await wal.close();
    wal = await openWal({ ...SMALL, dir });
    expect((await wal.consumer('a').readNext('t'))?.seq).toBe(7);
    expect((await wal.consumer('b').readNext('t'))?.seq).toBe(3);
    expect((await wal.readNext('t'))?.seq).toBe(1);
  });

  it('under at-least-once each consumer counts its own reads, and a clean close redelivers nothing', async () => {
    const dir = tempDir();
    const options = { ...SMALL, dir, readConsistency: { atLeastOnce: { persistEvery: 5 } } };
    let wal = await openWal(options);
    await fill(wal, 't', 30);
    const a = wal.consumer('a');
    const b = wal.consumer('b');
    for (let i = 0; i < 8; i++) await a.readNext('t');
    for (let i = 0; i < 2; i++) await b.readNext('t');
    await wal.close();
    wal = await openWal(options);
    expect((await wal.consumer('a').readNext('t'))?.seq).toBe(8);
    expect((await wal.consumer('b').readNext('t'))?.seq).toBe(2);
  });

  it('under fsync each, reads of several consumers in one turn resolve, each persisted, and survive a reopen', async () => {
    const dir = tempDir();
    let wal = await openWal({ ...SMALL, dir, fsync: 'each' });
    await fill(wal, 't', 6);
    const consumers = ['a', 'b', 'c'].map((name) => wal.consumer(name));
    const got = await within(Promise.all(consumers.map((c) => c.readNext('t'))), 'reads under each');
    expect(got.map((e) => e?.seq)).toEqual([0, 0, 0]);
    await within(consumers[1]!.batchRead('t', { maxBytes: 1 << 20 }), 'batch under each');
    await wal.close();
    wal = await openWal({ ...SMALL, dir, fsync: 'each' });
    expect(await Promise.all(['a', 'b', 'c'].map((n) => wal.consumer(n).count('t')))).toEqual([5, 0, 5]);
  });
});

describe('rule 12 (docs/SEMANTICS.md): space held by a consumer', () => {
  const big = { ...SMALL, writers: 1 };

  it('without limits nothing a registered consumer has not consumed is deleted; once all consumed, it goes', async () => {
    const wal = await openWal(big);
    const slow = wal.consumer('slow');
    await fill(wal, 't', 400, 0, 1000);
    await fill(wal, 'u', 1); // a roll past the last segment of t
    expect((await drain(wal, 't')).length).toBe(400);
    expect(await wal.reclaim()).toBe(0);
    expect((await wal.get('t', 0))?.text()).toBe('t-0'.padEnd(1000, '.'));
    expect(await drainConsumer(slow, 't')).toEqual(range(0, 400));
    expect(await wal.reclaim()).toBeGreaterThan(0);
  });

  it('a deleted consumer no longer holds space', async () => {
    const wal = await openWal(big);
    const slow = wal.consumer('slow');
    await fill(wal, 't', 400, 0, 1000);
    expect((await drain(wal, 't')).length).toBe(400);
    expect(await wal.reclaim()).toBe(0);
    await slow.delete();
    expect(await wal.reclaim()).toBeGreaterThan(0);
  });
});

describe('rule D19 (docs/SEMANTICS.md): named consumers (SPEC 3.5)', () => {
  it("startAt: 'earliest' (default) reads what is retained, 'latest' only what is appended after", async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 5);
    const early = wal.consumer('early');
    const late = wal.consumer('late', { startAt: 'latest' });
    await wal.append('t', 'after');
    await wal.append('fresh', 'x'); // a topic created after registration: every entry is seen
    expect(await drainConsumer(early, 't')).toEqual(range(0, 6));
    expect(await drainConsumer(late, 't')).toEqual([5]);
    expect((await late.readNext('fresh'))?.text()).toBe('x');
    // startAt applies only when the name is first registered
    expect((await wal.consumer('late', { startAt: 'earliest' }).readNext('t'))?.seq).toBeUndefined();
  });

  it('consumers() lists the named ones; a deleted name registered again starts afresh', async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 3);
    const a = wal.consumer('b-second');
    wal.consumer('a-first');
    expect(await wal.consumers()).toEqual(['a-first', 'b-second']);
    await a.readNext('t');
    await a.delete();
    expect(await wal.consumers()).toEqual(['a-first']);
    await rejectsWith(a.readNext('t'), 'ERR_INVALID_ARGUMENT'); // a handle of a deleted consumer
    expect((await wal.consumer('b-second').readNext('t'))?.seq).toBe(0);
  });

  it('registrations racing reclaims, reads and sync() all land, with every position', async () => {
    const dir = tempDir();
    let wal = await openWal({ ...SMALL, dir });
    await fill(wal, 't', 20);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      const c = wal.consumer(`c${i}`);
      work.push(c.readNext('t'), wal.reclaim(), wal.readNext('t'));
      if (i % 3 === 0) work.push(wal.sync());
    }
    await within(Promise.all(work), 'racing snapshots');
    await wal.close();
    wal = await openWal({ ...SMALL, dir });
    expect((await wal.consumers()).length).toBe(12);
    for (let i = 0; i < 12; i++) expect((await wal.consumer(`c${i}`).readNext('t'))?.seq, `c${i}`).toBe(1);
    expect((await wal.readNext('t'))?.seq).toBe(12);
  });

  it('a deletion is durable once delete() resolved', async () => {
    const dir = tempDir();
    let wal = await openWal({ ...SMALL, dir });
    await fill(wal, 't', 3);
    await wal.consumer('gone').readNext('t');
    wal.consumer('stays');
    await wal.consumer('gone').delete();
    await wal.close();
    wal = await openWal({ ...SMALL, dir });
    expect(await wal.consumers()).toEqual(['stays']);
    expect((await wal.consumer('gone').readNext('t'))?.seq, 'registered afresh').toBe(0);
  });

  it('a registration survives a reopen once sync() resolved after it', async () => {
    const dir = tempDir();
    let wal = await openWal({ ...SMALL, dir });
    await fill(wal, 't', 4);
    wal.consumer('kept', { startAt: 'latest' });
    await wal.sync();
    await wal.close();
    wal = await openWal({ ...SMALL, dir });
    expect(await wal.consumers()).toEqual(['kept']);
    await wal.append('t', 'new');
    expect(await drainConsumer(wal.consumer('kept'), 't')).toEqual([4]);
  });

  it('subscribe and topicReadable follow the tail for a consumer', async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 3);
    const c = wal.consumer('follower');
    const ac = new AbortController();
    const seen: number[] = [];
    const loop = (async () => {
      for await (const e of c.subscribe('t', { signal: ac.signal })) {
        seen.push(e.seq);
        if (seen.length === 5) ac.abort();
      }
    })();
    await fill(wal, 't', 2, 3);
    await within(loop, 'subscription');
    expect(seen).toEqual(range(0, 5));
    expect(await wal.count('t')).toBe(5); // the default consumer did not move
    await wal.append('t', 'more');
    const stream = topicReadable(c, 't');
    const first = await within(new Promise<{ seq: number }>((resolve) => stream.once('data', resolve)), 'stream');
    stream.destroy();
    expect(first.seq).toBe(5);
  });

  it('stats() reports every consumer’s position and lag per topic', async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 10);
    const a = wal.consumer('a');
    for (let i = 0; i < 4; i++) await a.readNext('t');
    await wal.readNext('t');
    const { consumers } = await wal.stats();
    expect(consumers['a']!.topics['t']).toEqual({ position: 4, lag: 6 });
    expect(consumers['']!.topics['t']).toEqual({ position: 1, lag: 9 });
    expect(consumers['a']!.skipped).toBe(0);
  });

  it('refuses bad names and options with ERR_INVALID_ARGUMENT, names are never paths', async () => {
    const wal = await openWal(SMALL);
    for (const bad of ['', 'x'.repeat(256), '\ud800', 42, null, undefined, {}]) {
      throwsWith(() => wal.consumer(bad as string), 'ERR_INVALID_ARGUMENT');
    }
    throwsWith(() => wal.consumer('ok', { startAt: 'middle' as 'latest' }), 'ERR_INVALID_ARGUMENT');
    throwsWith(() => wal.consumer('ok', 7 as unknown as { startAt: 'latest' }), 'ERR_INVALID_ARGUMENT');
    expect(await wal.consumers()).toEqual([]);
    const odd = wal.consumer('../../etc/passwd ☃ ' + 'é'.repeat(100)); // 255 bytes or less
    await wal.append('t', 'x');
    expect((await odd.readNext('t'))?.text()).toBe('x');
    const c = wal.consumer('c');
    await rejectsWith(c.readNext('t', { checkpoint: 'yes' as unknown as boolean }), 'ERR_INVALID_ARGUMENT');
    await rejectsWith(c.batchRead('t', { maxBytes: 0 }), 'ERR_INVALID_ARGUMENT');
    await rejectsWith(c.readNext(''), 'ERR_INVALID_ARGUMENT');
    await wal.close();
    throwsWith(() => wal.consumer('late'), 'ERR_CLOSED');
    await rejectsWith(c.readNext('t'), 'ERR_CLOSED');
  });
});

describe('rule D20 (docs/SEMANTICS.md): get and offsets (SPEC 3.6)', () => {
  it('get returns one entry by seq and moves no position; null when never appended', async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 100);
    const c = wal.consumer('c');
    for (const seq of [0, 57, 99, 13]) expect((await wal.get('t', seq))?.text()).toBe(`t-${seq}`);
    expect(await wal.get('t', 100)).toBeNull();
    expect(await wal.get('nobody', 0)).toBeNull();
    expect(await wal.count('t')).toBe(100);
    expect(await c.count('t')).toBe(100);
    expect(await wal.offsets('t')).toEqual({ first: 0, next: 100 });
    expect(await wal.offsets('nobody')).toEqual({ first: 0, next: 0 });
    for (const bad of [-1, 1.5, NaN, '3', 2 ** 53])
      await rejectsWith(wal.get('t', bad as number), 'ERR_INVALID_ARGUMENT');
    await rejectsWith(wal.get('', 0), 'ERR_INVALID_ARGUMENT');
    await rejectsWith(wal.offsets(7 as unknown as string), 'ERR_INVALID_ARGUMENT');
  });

  it('after a reclaim, offsets().first is the first retained entry and get below it is null', async () => {
    const wal = await openWal({ ...SMALL, writers: 1 });
    await fill(wal, 't', 400, 0, 1000);
    expect((await drain(wal, 't')).length).toBe(400);
    expect(await wal.reclaim()).toBeGreaterThan(0);
    const { first, next } = await wal.offsets('t');
    expect(next).toBe(400);
    expect(first).toBeGreaterThan(0);
    expect(await wal.get('t', first - 1)).toBeNull();
    expect((await wal.get('t', first))?.seq).toBe(first);
  });
});

describe('rule D21 (docs/SEMANTICS.md): seek', () => {
  it("moves a consumer to { seq }, 'earliest' or 'latest', within what is retained", async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 10);
    const c = wal.consumer('c');
    await c.seek('t', { seq: 6 });
    expect((await c.readNext('t'))?.seq).toBe(6);
    await c.seek('t', 'earliest');
    expect((await c.readNext('t'))?.seq).toBe(0);
    await c.seek('t', 'latest');
    expect(await c.readNext('t')).toBeNull();
    await c.seek('t', { seq: 1000 }); // past the end: the next seq to be assigned
    await wal.append('t', 'x');
    expect((await c.readNext('t'))?.seq).toBe(10);
    await c.seek('t', { seq: 2 });
    expect(await c.count('t')).toBe(9);
    await c.seek('nobody', { seq: 2 }); // no topic: nothing to move
  });

  it('a seek is persisted like a checkpoint', async () => {
    const dir = tempDir();
    let wal = await openWal({ ...SMALL, dir });
    await fill(wal, 't', 10);
    const c = wal.consumer('c');
    await drainConsumer(c, 't');
    await c.seek('t', { seq: 4 });
    await wal.close();
    wal = await openWal({ ...SMALL, dir });
    expect((await wal.consumer('c').readNext('t'))?.seq).toBe(4);
  });

  it('{ timeMs } moves to the first entry appended at or after that time', async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 5);
    const before = (await wal.get('t', 4))!.timeMs;
    while (Date.now() <= before + 1) await new Promise((r) => setTimeout(r, 1)); // a later millisecond
    const between = Date.now();
    await fill(wal, 't', 5, 5);
    const times = await Promise.all(range(0, 10).map(async (seq) => (await wal.get('t', seq))!.timeMs));
    const c = wal.consumer('c');
    for (const t of [0, before, before + 1, between, times[9]!, times[9]! + 1]) {
      await c.seek('t', { timeMs: t });
      const expected = times.findIndex((time) => time >= t);
      expect(await c.count('t'), `timeMs ${t}`).toBe(expected < 0 ? 0 : 10 - expected);
      if (expected >= 0) expect((await c.readNext('t', { checkpoint: false }))?.seq).toBe(expected);
    }
    expect(times.slice(5).every((t) => t >= between)).toBe(true);
  });

  it('refuses bad targets with ERR_INVALID_ARGUMENT', async () => {
    const wal = await openWal(SMALL);
    await fill(wal, 't', 3);
    const c = wal.consumer('c');
    for (const bad of [
      { seq: -1 },
      { seq: 1.5 },
      { seq: '1' },
      { timeMs: NaN },
      'first',
      null,
      {},
      { seq: 1, timeMs: 2 },
    ])
      await rejectsWith(c.seek('t', bad as { seq: number }), 'ERR_INVALID_ARGUMENT');
    expect((await c.readNext('t'))?.seq).toBe(0);
  });
});

describe('rule D22 (docs/SEMANTICS.md): retention (SPEC 3.7)', () => {
  const one = { ...SMALL, writers: 1 };

  it('keepConsumed keeps consumed segments, so a consumer can seek back and read them again', async () => {
    const wal = await openWal({ ...one, retention: { keepConsumed: true } });
    await fill(wal, 't', 400, 0, 1000);
    expect((await drain(wal, 't')).length).toBe(400);
    expect(await wal.reclaim()).toBe(0);
    const c = wal.consumer('replay', { startAt: 'latest' });
    await c.seek('t', 'earliest');
    expect(await drainConsumer(c, 't')).toEqual(range(0, 400));
  });

  it("maxBytes deletes the oldest sealed segments, consumed or not, and reports each consumer's loss exactly", async () => {
    const maxBytes = 200_000;
    const wal = await openWal({ ...one, retention: { maxBytes } });
    const skipped: Array<{ consumer: string; topic: string; fromSeq: number; toSeq: number }> = [];
    wal.on('skipped', (e) => skipped.push(e));
    const slow = wal.consumer('slow');
    const fresh = wal.consumer('fresh');
    await fill(wal, 't', 400, 0, 1000);
    expect((await slow.readNext('t'))?.seq).toBe(0);
    expect(await wal.reclaim()).toBeGreaterThan(0);
    const { first, next } = await wal.offsets('t');
    expect(first).toBeGreaterThan(1);
    expect(next).toBe(400);
    expect((await wal.stats()).segments.bytes).toBeLessThanOrEqual(maxBytes);
    expect(await wal.get('t', first - 1)).toBeNull();
    expect((await wal.get('t', first))?.seq).toBe(first);
    // The default consumer and 'slow' have readers: told at once; 'fresh' when it next reads.
    expect((await slow.readNext('t'))?.seq).toBe(first);
    expect((await wal.readNext('t'))?.seq).toBe(first);
    expect((await fresh.readNext('t'))?.seq).toBe(first);
    const byConsumer = Object.fromEntries(skipped.map((e) => [e.consumer, e]));
    expect(byConsumer).toEqual({
      '': { consumer: '', topic: 't', fromSeq: 0, toSeq: first - 1 },
      slow: { consumer: 'slow', topic: 't', fromSeq: 1, toSeq: first - 1 },
      fresh: { consumer: 'fresh', topic: 't', fromSeq: 0, toSeq: first - 1 },
    });
    expect(skipped).toHaveLength(3);
    const { consumers } = await wal.stats();
    expect([consumers['']!.skipped, consumers['slow']!.skipped, consumers['fresh']!.skipped]).toEqual([
      first,
      first - 1,
      first,
    ]);
  });

  it('a limit survives a reopen: what it gave up never comes back', async () => {
    const dir = tempDir();
    let wal = await openWal({ ...one, dir, retention: { maxBytes: 200_000 } });
    await fill(wal, 't', 400, 0, 1000);
    expect(await wal.reclaim()).toBeGreaterThan(0);
    const { first } = await wal.offsets('t');
    await wal.close();
    wal = await openWal({ ...one, dir });
    expect((await wal.offsets('t')).first).toBe(first);
    expect((await wal.readNext('t'))?.seq).toBe(first);
    await wal.append('t', 'next');
    expect((await wal.offsets('t')).next).toBe(401);
  });

  it('maxAgeMs deletes sealed segments whose newest entry is older than it, consumed or not', async () => {
    const wal = await openWal({ ...one, retention: { maxAgeMs: 1 } });
    const skipped: Array<{ consumer: string; fromSeq: number; toSeq: number }> = [];
    wal.on('skipped', (e) => skipped.push(e));
    await fill(wal, 't', 400, 0, 1000);
    const newest = (await wal.get('t', 399))!.timeMs;
    while (Date.now() <= newest + 2) await new Promise((r) => setTimeout(r, 1)); // older than 1 ms
    expect(await wal.reclaim()).toBeGreaterThan(0);
    const { first } = await wal.offsets('t');
    expect(first).toBeGreaterThan(0);
    expect((await wal.get('t', first))?.seq).toBe(first); // the live segment is never deleted
    expect(await wal.get('t', first - 1)).toBeNull();
    expect((await wal.readNext('t'))?.seq).toBe(first);
    expect(skipped).toEqual([{ consumer: '', topic: 't', fromSeq: 0, toSeq: first - 1 }]);
  });

  it('maxAgeMs keeps what is younger than it', async () => {
    const wal = await openWal({ ...one, retention: { maxAgeMs: 3_600_000 } });
    await fill(wal, 't', 400, 0, 1000);
    expect(await wal.reclaim()).toBe(0);
    expect((await wal.offsets('t')).first).toBe(0);
  });

  it('refuses bad retention options with ERR_INVALID_ARGUMENT', async () => {
    for (const retention of [
      7,
      { maxBytes: 0 },
      { maxBytes: 1.5 },
      { keepConsumed: 'yes' },
      { maxAgeMs: -1 },
      { other: 1 },
    ])
      await rejectsWith(openWal({ ...SMALL, retention: retention as { maxBytes: number } }), 'ERR_INVALID_ARGUMENT');
  });
});
