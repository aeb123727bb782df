/**
 * Named consumers, seek, get, offsets, entry times and retention, exactly as the public contract
 * names them (docs/SEMANTICS.md rules 11–12 and the API rows for consumers, random access and
 * retention), through the built package. Written from the contract, apart from the implementation:
 * every assertion here is something a user of the documented API may rely on.
 */
import { describe, expect, it } from 'vitest';
import { WalError, type Walrus } from '../../dist/src/index.js';
import { SMALL, openWal, tempDir } from '../helpers/wal.js';

const text = (e: { data: Uint8Array }): string => Buffer.from(e.data).toString('utf8');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function appendTexts(wal: Walrus, topic: string, texts: string[]): Promise<void> {
  await Promise.all(texts.map((t) => wal.append(topic, t)));
}

type Reader = Pick<Walrus, 'readNext'>;
async function readAll(reader: Reader, topic: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const e = await reader.readNext(topic);
    if (e === null) return out;
    out.push(text(e));
  }
}

const range = (from: number, to: number, prefix = 'e'): string[] =>
  Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

async function expectInvalid(p: Promise<unknown> | (() => unknown)): Promise<void> {
  let err: unknown = null;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(WalError);
  expect((err as WalError).code).toBe('ERR_INVALID_ARGUMENT');
}

describe('rule 11 (docs/SEMANTICS.md): consumers are independent', () => {
  it('two named consumers and the default one each read every entry of a topic, in order', async () => {
    const wal = await openWal(SMALL);
    await appendTexts(wal, 't', range(0, 50));
    const a = wal.consumer('indexer');
    const b = wal.consumer('shipper');
    expect(await readAll(a, 't')).toEqual(range(0, 50));
    expect(await readAll(b, 't')).toEqual(range(0, 50));
    expect(await readAll(wal, 't')).toEqual(range(0, 50));
    expect(await a.readNext('t')).toBeNull();
  });

  it('what one consumer consumes, seeks or deletes does not change what another reads', async () => {
    const wal = await openWal(SMALL);
    await appendTexts(wal, 't', range(0, 20));
    const a = wal.consumer('a');
    const b = wal.consumer('b');
    expect((await a.batchRead('t', { maxBytes: 1 << 20 })).map(text)).toEqual(range(0, 20));
    await a.seek('t', { seq: 5 });
    expect(text((await a.readNext('t'))!)).toBe('e5');
    await a.delete();
    expect(await b.count('t')).toBe(20);
    expect(await readAll(b, 't')).toEqual(range(0, 20));
    expect(await wal.count('t')).toBe(20);
  });

  it('two handles of one name share one position; concurrent reads hand each entry out once', async () => {
    const wal = await openWal(SMALL);
    await appendTexts(wal, 't', range(0, 300));
    const h1 = wal.consumer('shared');
    const h2 = wal.consumer('shared');
    const reads: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      reads.push(h1.readNext('t'));
      reads.push(h2.readNext('t'));
      reads.push(h1.batchRead('t', { maxBytes: 10 }));
    }
    const got: string[] = [];
    for (const r of await Promise.all(reads)) {
      if (r === null) continue;
      if (Array.isArray(r)) got.push(...r.map(text));
      else got.push(text(r as { data: Uint8Array }));
    }
    got.push(...(await readAll(h2, 't')));
    expect(got.sort()).toEqual(range(0, 300).sort());
  });

  it("a named consumer's position and registration survive close and reopen", async () => {
    const dir = tempDir();
    const first = await openWal({ ...SMALL, dir });
    await appendTexts(first, 't', range(0, 10));
    const c = first.consumer('durable');
    expect(await readAll(c, 't')).toEqual(range(0, 10));
    await first.append('t', 'e10');
    await first.close();
    const second = await openWal({ ...SMALL, dir });
    expect(await second.consumers()).toContain('durable');
    expect(await readAll(second.consumer('durable'), 't')).toEqual(['e10']);
    // The default consumer read nothing: it still has every entry.
    expect(await second.count('t')).toBe(11);
  });

  it("startAt 'latest' skips what exists at registration, on topics that exist then", async () => {
    const wal = await openWal(SMALL);
    await appendTexts(wal, 'old', range(0, 5));
    const c = wal.consumer('late', { startAt: 'latest' });
    await wal.append('old', 'e5');
    await appendTexts(wal, 'new', range(0, 3));
    expect(await readAll(c, 'old')).toEqual(['e5']);
    // A topic created after registration: the consumer sees every entry.
    expect(await readAll(c, 'new')).toEqual(range(0, 3));
  });

  it('startAt applies only when the name is first registered; a deleted name starts afresh', async () => {
    const wal = await openWal(SMALL);
    await appendTexts(wal, 't', range(0, 5));
    const c = wal.consumer('x', { startAt: 'earliest' });
    expect(text((await c.readNext('t'))!)).toBe('e0');
    // Registered already: 'latest' is ignored, the position stays after e0.
    const again = wal.consumer('x', { startAt: 'latest' });
    expect(text((await again.readNext('t'))!)).toBe('e1');
    await again.delete();
    expect(await wal.consumers()).not.toContain('x');
    const fresh = wal.consumer('x');
    expect(await readAll(fresh, 't')).toEqual(range(0, 5));
  });

  it('consumers() lists the named consumers', async () => {
    const wal = await openWal(SMALL);
    wal.consumer('one');
    wal.consumer('two');
    await wal.append('t', 'x');
    const names = await wal.consumers();
    expect([...names].sort()).toEqual(expect.arrayContaining(['one', 'two']));
    expect(names.filter((n) => n === 'one')).toHaveLength(1);
  });

  it("stats() reports every consumer's position and lag per topic", async () => {
    const wal = await openWal(SMALL);
    await appendTexts(wal, 'topic-for-stats', range(0, 7));
    const c = wal.consumer('lagging-consumer');
    await c.readNext('topic-for-stats');
    await c.readNext('topic-for-stats');
    const report = JSON.stringify(await wal.stats());
    expect(report).toContain('lagging-consumer');
  });

  it('consumer names: 1–255 bytes of well-formed UTF-8, anything else is ERR_INVALID_ARGUMENT', async () => {
    const wal = await openWal(SMALL);
    await expectInvalid(() => wal.consumer(''));
    await expectInvalid(() => wal.consumer('x'.repeat(256)));
    await expectInvalid(() => wal.consumer('\ud800'));
    await expectInvalid(() => wal.consumer(42 as unknown as string));
    await expectInvalid(() => wal.consumer('ok', { startAt: 'sometime' as 'latest' }));
    // 255 bytes (multi-byte characters counted in bytes) is fine; a path-like name is just a name.
    expect(() => wal.consumer('é'.repeat(127) + 'x')).not.toThrow();
    expect(() => wal.consumer('../../etc/passwd')).not.toThrow();
    await wal.append('t', 'x');
    expect(await wal.consumers()).toContain('../../etc/passwd');
  });
});

describe('random access (docs/SEMANTICS.md): seek, get, offsets and entry times', () => {
  it("seek to { seq }, 'earliest' and 'latest' moves only that consumer's position on that topic", async () => {
    const wal = await openWal(SMALL);
    await appendTexts(wal, 't', range(0, 30));
    await appendTexts(wal, 'u', range(0, 3));
    const c = wal.consumer('seeker');
    await c.seek('t', { seq: 17 });
    expect(text((await c.readNext('t'))!)).toBe('e17');
    await c.seek('t', 'latest');
    expect(await c.readNext('t')).toBeNull();
    await wal.append('t', 'e30');
    expect(text((await c.readNext('t'))!)).toBe('e30');
    await c.seek('t', 'earliest');
    expect(text((await c.readNext('t'))!)).toBe('e0');
    expect(await readAll(c, 'u')).toEqual(range(0, 3));
  });

  it('seek to { timeMs } finds the first entry appended at or after that time', async () => {
    const wal = await openWal(SMALL);
    await appendTexts(wal, 't', range(0, 5));
    await sleep(30);
    const t = Date.now();
    await sleep(30);
    await appendTexts(wal, 't', range(5, 10));
    const c = wal.consumer('by-time');
    await c.seek('t', { timeMs: t });
    expect(text((await c.readNext('t'))!)).toBe('e5');
    await c.seek('t', { timeMs: 0 });
    expect(text((await c.readNext('t'))!)).toBe('e0');
  });

  it('Entry.timeMs is the append time in ms since the epoch, never decreasing within a topic', async () => {
    const wal = await openWal(SMALL);
    const before = Date.now();
    for (let i = 0; i < 20; i++) {
      await wal.append('t', `e${i}`);
      if (i % 5 === 0) await sleep(2);
    }
    const after = Date.now();
    const entries = await wal.batchRead('t', { maxBytes: 1 << 20 });
    expect(entries).toHaveLength(20);
    let last = -Infinity;
    for (const e of entries) {
      expect(typeof e.timeMs).toBe('number');
      expect(e.timeMs).toBeGreaterThanOrEqual(last);
      expect(e.timeMs).toBeGreaterThanOrEqual(before - 1);
      expect(e.timeMs).toBeLessThanOrEqual(after + 1);
      last = e.timeMs;
    }
  });

  it('get(topic, seq) returns one entry and moves no position; null when never appended', async () => {
    const wal = await openWal(SMALL);
    await appendTexts(wal, 't', range(0, 10));
    const e = await wal.get('t', 4);
    expect(e).not.toBeNull();
    expect(text(e!)).toBe('e4');
    expect(await wal.get('t', 10)).toBeNull();
    expect(await wal.get('never-written', 0)).toBeNull();
    expect(await wal.count('t')).toBe(10);
    expect(text((await wal.readNext('t'))!)).toBe('e0');
  });

  it('offsets(topic) is { first, next }: the first retained seq and the next to be assigned', async () => {
    const wal = await openWal(SMALL);
    await appendTexts(wal, 't', range(0, 12));
    expect(await wal.offsets('t')).toEqual({ first: 0, next: 12 });
    await wal.readNext('t');
    expect((await wal.offsets('t')).next).toBe(12);
  });

  it('bad positions and sequence numbers are ERR_INVALID_ARGUMENT', async () => {
    const wal = await openWal(SMALL);
    await wal.append('t', 'x');
    const c = wal.consumer('bad-input');
    await expectInvalid(c.seek('t', { seq: -1 }));
    await expectInvalid(c.seek('t', { seq: 1.5 }));
    await expectInvalid(c.seek('t', 'middle' as 'latest'));
    await expectInvalid(c.seek('t', { timeMs: Number.NaN }));
    await expectInvalid(wal.get('t', -1));
    await expectInvalid(wal.get('t', 0.5));
    // Nothing moved.
    expect(text((await c.readNext('t'))!)).toBe('x');
  });
});

describe('rule 12 (docs/SEMANTICS.md): space held by a consumer, and retention limits', () => {
  const SEGMENT = { ...SMALL, writers: 1, segmentBytes: 64 * 1024, blockBytes: 4096 };
  const payload = 'p'.repeat(900);

  async function fillSegments(wal: Walrus, topic: string, entries: number): Promise<void> {
    for (let i = 0; i < entries; i += 100)
      await wal.batchAppend(
        topic,
        Array.from({ length: Math.min(100, entries - i) }, () => payload),
      );
  }

  it('without limits nothing a registered consumer has not consumed is deleted', async () => {
    const wal = await openWal(SEGMENT);
    const slow = wal.consumer('slow');
    await fillSegments(wal, 't', 600);
    // The default consumer consumes everything; 'slow' consumed nothing.
    while ((await wal.batchRead('t', { maxBytes: 1 << 20 })).length > 0);
    await wal.reclaim();
    expect((await wal.offsets('t')).first).toBe(0);
    expect(await wal.get('t', 0)).not.toBeNull();
    let read = 0;
    for (;;) {
      const batch = await slow.batchRead('t', { maxBytes: 1 << 20 });
      if (batch.length === 0) break;
      read += batch.length;
    }
    expect(read).toBe(600);
  });

  it('keepConsumed keeps consumed segments for seek', async () => {
    const wal = await openWal({ ...SEGMENT, retention: { keepConsumed: true } });
    await fillSegments(wal, 't', 600);
    while ((await wal.batchRead('t', { maxBytes: 1 << 20 })).length > 0);
    await wal.reclaim();
    expect((await wal.offsets('t')).first).toBe(0);
    const again = wal.consumer('re-reader');
    await again.seek('t', 'earliest');
    expect(text((await again.readNext('t'))!)).toBe(payload);
    expect(await wal.get('t', 0)).not.toBeNull();
  });

  it("maxBytes deletes the oldest sealed segments consumed or not, and a consumer left behind gets 'skipped'", async () => {
    const wal = await openWal({ ...SEGMENT, retention: { maxBytes: 256 * 1024 } });
    const behind = wal.consumer('behind');
    const skipped: Array<{ consumer: string; topic: string; fromSeq: number; toSeq: number }> = [];
    wal.on('skipped', (s) => skipped.push(s));
    await fillSegments(wal, 't', 3000);
    await wal.reclaim();
    let first = (await wal.offsets('t')).first;
    for (let i = 0; i < 50 && first === 0; i++) {
      await sleep(100);
      await wal.reclaim();
      first = (await wal.offsets('t')).first;
    }
    expect(first).toBeGreaterThan(0);
    expect(await wal.get('t', 0)).toBeNull();
    const e = await behind.readNext('t');
    expect(e).not.toBeNull();
    expect(e!.seq).toBeGreaterThanOrEqual(first);
    for (let i = 0; i < 20 && !skipped.some((s) => s.consumer === 'behind'); i++) await sleep(50);
    const mine = skipped.filter((s) => s.consumer === 'behind' && s.topic === 't');
    expect(mine.length).toBeGreaterThan(0);
    expect(mine[0]!.fromSeq).toBe(0);
    expect(mine[mine.length - 1]!.toSeq).toBeGreaterThanOrEqual(e!.seq - 1);
    expect(mine[mine.length - 1]!.toSeq).toBeLessThanOrEqual(e!.seq);
  });

  it('retention options are validated', async () => {
    await expectInvalid(openWal({ ...SMALL, retention: { maxBytes: -1 } }));
    await expectInvalid(openWal({ ...SMALL, retention: { maxAgeMs: Number.NaN } }));
    await expectInvalid(openWal({ ...SMALL, retention: { keepConsumed: 'yes' as unknown as boolean } }));
  });
});
