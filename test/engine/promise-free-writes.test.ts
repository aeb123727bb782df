/**
 * docs/SEMANTICS.md rule D17: `write(topic, data) → boolean`, the `'drain'` event and `flush()`.
 * One describe per clause of the rule; the durability of written entries across a SIGKILL is
 * proven by test/crash/write-flush.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WalError, type Walrus } from '../../dist/src/index.js';
import { SMALL_WHOLE_TOPIC, openWal, openWithFaults, peekTexts, tempDir } from '../helpers/wal.js';
import { within } from '../helpers/within.js';

function thrownBy(call: () => unknown): WalError {
  let thrown: unknown = null;
  try {
    call();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'it should throw synchronously').toBeInstanceOf(WalError);
  return thrown as WalError;
}

async function rejectionOf(promise: Promise<unknown>): Promise<WalError> {
  let thrown: unknown = null;
  try {
    await within(promise, 'call');
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'it should reject').toBeInstanceOf(WalError);
  return thrown as WalError;
}

/** Writes `texts`, waiting for 'drain' whenever write() says the ring is full; how often it did. */
async function writeAll(wal: Walrus, topic: string, texts: readonly string[]): Promise<number> {
  let refusals = 0;
  for (const t of texts) {
    if (!wal.write(topic, t)) {
      refusals++;
      await within(new Promise<void>((resolve) => wal.once('drain', resolve)), 'drain');
    }
  }
  return refusals;
}

describe('rule D17: write() queues an entry exactly like append, in call order with the topic’s appends', () => {
  it('interleaved write() and append() land in call order, and flush() resolves once all are written', async () => {
    const wal = await openWal(SMALL_WHOLE_TOPIC);
    const expected: string[] = [];
    let appends = 0;
    let settled = 0;
    for (let i = 0; i < 500; i++) {
      const text = `e-${i}`;
      expected.push(text);
      if (i % 3 === 0) {
        appends++;
        void wal.append('t', text).then(() => settled++);
      } else expect(wal.write('t', text)).toBe(true);
    }
    await within(wal.flush(), 'flush');
    // flush() covers the appends before it too: their promises settled first.
    expect(settled).toBe(appends);
    expect(await peekTexts(wal, 't')).toEqual(expected);
  });

  it('takes bytes, strings, empty entries, msgpack values and entries larger than half the ring', async () => {
    const wal = await openWal({ ...SMALL_WHOLE_TOPIC, codec: 'msgpack' });
    const big = 'L'.repeat(48 * 1024); // above half the 64 KiB ring: it travels by port
    expect(wal.write('t', 'text')).toBe(true);
    expect(wal.write('t', new Uint8Array([1, 2, 3]))).toBe(true);
    expect(wal.write('t', '')).toBe(true);
    expect(wal.write('t', { a: 1 })).toBe(true);
    expect(typeof wal.write('t', big)).toBe('boolean');
    await within(wal.flush(), 'flush');
    const entries = await within(wal.batchRead('t', { maxBytes: Infinity }), 'read');
    expect(entries.map((e) => e.codec)).toEqual(['raw', 'raw', 'raw', 'msgpack', 'raw']);
    expect(entries[0]!.text()).toBe('text');
    expect([...entries[1]!.data]).toEqual([1, 2, 3]);
    expect(entries[2]!.data.byteLength).toBe(0);
    expect(entries[3]!.value).toEqual({ a: 1 });
    expect(entries[4]!.text()).toBe(big);
  });
});

describe('rule D17: bad input to write() throws synchronously the typed error append rejects with, and changes nothing', () => {
  it('throws what append rejects with, and creates no topic', async () => {
    const wal = await openWal({ ...SMALL_WHOLE_TOPIC, maxEntryBytes: 100 });
    const cases: Array<[string, unknown]> = [
      ['', 'x'],
      ['t', 42],
      ['t', 'x'.repeat(101)],
      ['t', '\ud800'],
      ['t', null],
    ];
    for (const [topic, data] of cases) {
      const thrown = thrownBy(() => wal.write(topic, data));
      const rejected = await rejectionOf(wal.append(topic, data));
      expect(thrown.code, `${JSON.stringify(topic)} ${String(data).slice(0, 10)}`).toBe(rejected.code);
    }
    expect(thrownBy(() => wal.write('t', 'x', { codec: 'bogus' as 'raw' })).code).toBe('ERR_INVALID_ARGUMENT');
    expect(await within(wal.topics(), 'topics')).toEqual([]);
    await within(wal.flush(), 'flush');
  });

  it('after close(), write() throws ERR_CLOSED and flush() rejects with it', async () => {
    const wal = await openWal(SMALL_WHOLE_TOPIC);
    wal.write('t', 'before');
    await within(wal.close(), 'close');
    expect(thrownBy(() => wal.write('t', 'after')).code).toBe('ERR_CLOSED');
    expect((await rejectionOf(wal.flush())).code).toBe('ERR_CLOSED');
  });
});

describe("rule D17: write() returns false once the writer's ring is full, and 'drain' says when to go on", () => {
  it('20 MB through a 64 KiB ring: false, then drain, and nothing lost or reordered', async () => {
    const wal = await openWal(SMALL_WHOLE_TOPIC);
    const texts = Array.from({ length: 20_000 }, (_, i) => `${i}:${'p'.repeat(1000)}`);
    const refusals = await writeAll(wal, 't', texts);
    expect(refusals).toBeGreaterThan(0);
    await within(wal.flush(), 'flush');
    const seen = await peekTexts(wal, 't');
    expect(seen.length).toBe(texts.length);
    expect(seen.every((t, i) => t === texts[i])).toBe(true);
  });

  it("'drain' is never lost: thousands of refusals of small entries through a 64 KiB ring, each awaited", async () => {
    // A refused entry can find space at once (the writer freed it between the two tries): 'drain'
    // is then owed at once too, or a producer awaiting it would wait forever (found by the bench).
    const wal = await openWal(SMALL_WHOLE_TOPIC);
    const texts = Array.from({ length: 200_000 }, (_, i) => `${i}:${'s'.repeat(90)}`);
    const refusals = await writeAll(wal, 't', texts);
    expect(refusals).toBeGreaterThan(100);
    await within(wal.flush(), 'flush');
    expect((await wal.stats()).topics.t?.appended).toBe(texts.length);
  });

  it("'drain' is never lost for entries larger than half the ring either (they go by port), mixed with small ones", async () => {
    // A large entry is refused when the ring has no room for its marker; the marker may then find
    // room at once, exactly as a small entry may: the refusal owes 'drain' before that retry.
    const wal = await openWal(SMALL_WHOLE_TOPIC);
    const texts = Array.from(
      { length: 6_000 },
      (_, i) => `${i}:${(i % 3 === 0 ? 'L' : 's').repeat(i % 3 === 0 ? 40_000 : 90)}`,
    );
    const refusals = await writeAll(wal, 't', texts);
    expect(refusals).toBeGreaterThan(10);
    await within(wal.flush(), 'flush');
    const seen = await peekTexts(wal, 't');
    expect(seen.length).toBe(texts.length);
    expect(seen.every((t, i) => t === texts[i])).toBe(true);
  });

  it("a write refused while appends wait behind a full ring keeps its place, and 'drain' follows", async () => {
    const wal = await openWal(SMALL_WHOLE_TOPIC);
    const expected: string[] = [];
    const appends: Array<Promise<void>> = [];
    let refused = false;
    let drains = 0;
    wal.on('drain', () => drains++);
    for (let i = 0; i < 400; i++) {
      const text = `${i}:${'q'.repeat(1000)}`;
      expected.push(text);
      if (i % 2 === 0) appends.push(wal.append('t', text));
      else if (!wal.write('t', text)) refused = true;
    }
    expect(refused).toBe(true);
    await within(Promise.all(appends), 'appends');
    await within(wal.flush(), 'flush');
    await new Promise((resolve) => setImmediate(resolve));
    expect(drains).toBeGreaterThan(0);
    expect(await peekTexts(wal, 't')).toEqual(expected);
  });
});

describe("rule D17: a failure of a written entry is emitted as 'error' and rejects the next flush()", () => {
  const failingWrites = (dir: string, armed: string): Promise<Walrus> =>
    openWithFaults(path.join(dir, 'wal'), SMALL_WHOLE_TOPIC, [
      { op: 'pwrite', pathIncludes: '.seg', errno: 'EIO', whenFileExists: armed, thread: 'writer' },
    ]);

  it("EIO on the segment write: 'error' with ERR_IO, the next flush() rejects, the one after resolves", async () => {
    const dir = tempDir('walrus-write-');
    const armed = path.join(dir, 'armed');
    const wal = await failingWrites(dir, armed);
    const errors: WalError[] = [];
    wal.on('error', (err) => errors.push(err));
    wal.write('t', 'ok-0');
    await within(wal.flush(), 'flush before');
    fs.writeFileSync(armed, '');
    for (let i = 0; i < 10; i++) wal.write('t', `lost-${i}`);
    const failure = await rejectionOf(wal.flush());
    expect(failure.code).toBe('ERR_IO');
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.code === 'ERR_IO')).toBe(true);
    fs.rmSync(armed);
    wal.write('t', 'ok-1');
    await within(wal.flush(), 'flush after');
    expect(await peekTexts(wal, 't')).toEqual(['ok-0', 'ok-1']);
  });

  it('without an error listener: a process warning (not an uncaught exception), and flush() still rejects', async () => {
    const dir = tempDir('walrus-write-');
    const armed = path.join(dir, 'armed');
    const wal = await failingWrites(dir, armed);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      fs.writeFileSync(armed, '');
      wal.write('t', 'lost');
      expect((await rejectionOf(wal.flush())).code).toBe('ERR_IO');
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(warnings.some((w) => w.name === 'WalrusWriteWarning' && /write\(\) entry failed/.test(w.message))).toBe(
        true,
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a failure no flush() took rejects close()', async () => {
    const dir = tempDir('walrus-write-');
    const armed = path.join(dir, 'armed');
    const wal = await failingWrites(dir, armed);
    wal.on('error', () => undefined);
    fs.writeFileSync(armed, '');
    wal.write('t', 'lost');
    // Wait for the report (written counter moves after it) without taking it.
    await within(wal.sync(), 'sync');
    fs.rmSync(armed);
    expect((await rejectionOf(wal.close())).code).toBe('ERR_IO');
  });

  it("a writer that dies: the written entries it never processed are reported ('error', ERR_WORKER_FAILED)", async () => {
    const dir = tempDir('walrus-write-');
    // The writer's second segment write ends the worker (test/tools/): the first commit lands.
    const wal = await openWithFaults(path.join(dir, 'wal'), { ...SMALL_WHOLE_TOPIC, writers: 1 }, [
      { op: 'pwrite', pathIncludes: '.seg', thread: 'writer', after: 1, crash: true },
    ]);
    const errors: WalError[] = [];
    wal.on('error', (err) => errors.push(err));
    wal.write('t', 'e0');
    await within(wal.flush(), 'flush first');
    for (let i = 1; i <= 200; i++) wal.write('t', `e${i}`);
    expect((await rejectionOf(wal.flush())).code).toBe('ERR_WORKER_FAILED');
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors.map((e) => e.code)).toEqual(['ERR_WORKER_FAILED']);
    expect(thrownBy(() => wal.write('t', 'later')).code).toBe('ERR_WORKER_FAILED');
  });

  it("fsync 'each': a failed fdatasync fails the written entries ('error', flush() rejects ERR_FSYNC_FAILED)", async () => {
    const dir = tempDir('walrus-write-');
    const armed = path.join(dir, 'armed');
    const wal = await openWithFaults(path.join(dir, 'wal'), { ...SMALL_WHOLE_TOPIC, fsync: 'each' }, [
      { op: 'fdatasync', errno: 'EIO', whenFileExists: armed, thread: 'flusher' },
    ]);
    const errors: WalError[] = [];
    wal.on('error', (err) => errors.push(err));
    wal.write('t', 'durable');
    await within(wal.flush(), 'flush before');
    fs.writeFileSync(armed, '');
    wal.write('t', 'not durable');
    expect((await rejectionOf(wal.flush())).code).toBe('ERR_FSYNC_FAILED');
    await within(
      (async () => {
        while (errors.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      "'error'",
    );
    expect(errors[0]!.code).toBe('ERR_FSYNC_FAILED');
  });
});

describe("rule D17: flush() resolves once everything written or appended before it was handed to the OS (durable under 'each')", () => {
  for (const fsync of ['each', { intervalMs: 60_000 }, 'none'] as const) {
    it(`fsync ${JSON.stringify(fsync)}: entries written before flush() are readable once it resolves`, async () => {
      const wal = await openWal({ ...SMALL_WHOLE_TOPIC, fsync });
      for (let round = 0; round < 5; round++) {
        const texts = Array.from({ length: 50 }, (_, i) => `r${round}-${i}`);
        for (const t of texts) wal.write(`t${round % 2}`, t);
        await within(wal.flush(), 'flush');
        const stats = await within(wal.stats(), 'stats');
        const written = stats.writers.reduce((n, w) => n + w.writtenOps, 0);
        expect(written).toBeGreaterThanOrEqual((round + 1) * 50);
      }
      expect((await peekTexts(wal, 't0')).length).toBe(150);
      expect((await peekTexts(wal, 't1')).length).toBe(100);
    });
  }

  it("fsync 'each': flush() waits for the flusher's round (the durable counter covers the writes)", async () => {
    const wal = await openWal({ ...SMALL_WHOLE_TOPIC, fsync: 'each' });
    const before = (await within(wal.stats(), 'stats')).flusher.rounds;
    for (let i = 0; i < 100; i++) wal.write('t', `d-${i}`);
    await within(wal.flush(), 'flush');
    expect((await within(wal.stats(), 'stats')).flusher.rounds).toBeGreaterThan(before);
  });

  it('flush() with nothing written resolves at once', async () => {
    const wal = await openWal(SMALL_WHOLE_TOPIC);
    await within(wal.flush(), 'flush');
  });
});
