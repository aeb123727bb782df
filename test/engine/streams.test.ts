/**
 * The Node stream adapters through the built package: `topicReadable` (object-mode Entries,
 * pulls only when asked, ends on abort or close, destroy is clean) and `topicWritable` (append per
 * chunk, callback after the append resolved, `_writev` as ordered batches, errors as stream errors).
 */
import { once } from 'node:events';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { WalError, topicReadable, topicWritable, type Entry } from '../../dist/src/index.js';
import { SMALL, drain, openWal } from '../helpers/wal.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('topicReadable', () => {
  it('streams the topic as Entry objects in order and ends cleanly on abort', async () => {
    const wal = await openWal(SMALL);
    for (let i = 0; i < 40; i++) await wal.append('in', `e${i}`);
    const controller = new AbortController();
    const stream = topicReadable(wal, 'in', { signal: controller.signal });
    const texts: string[] = [];
    const late = (async () => {
      for (let i = 40; i < 60; i++) await wal.append('in', `e${i}`);
    })();
    for await (const entry of stream as AsyncIterable<Entry>) {
      expect(entry.topic).toBe('in');
      expect(entry.seq).toBe(texts.length);
      texts.push(entry.text());
      if (texts.length === 60) controller.abort();
    }
    await late;
    expect(texts).toEqual(Array.from({ length: 60 }, (_, i) => `e${i}`));
    expect(stream.readableEnded).toBe(true);
    expect(stream.errored).toBeNull();
    expect(await wal.count('in')).toBe(0);
  });

  it('honours backpressure: an unread stream stops taking entries from the WAL', async () => {
    const wal = await openWal(SMALL);
    await wal.batchAppend(
      'bp',
      Array.from({ length: 100 }, (_, i) => `v${i}`),
    );
    const controller = new AbortController();
    const stream = topicReadable(wal, 'bp', { signal: controller.signal, highWaterMark: 2, maxBytes: 1 });
    stream.read(0); // asks the stream to fill its buffer, and nothing reads it afterwards
    await tick(100);
    // One entry per batch (maxBytes: 1): the stream took what fills its buffer, then stopped.
    expect(stream.readableLength).toBe(2);
    expect(await wal.count('bp')).toBe(98);

    const texts: string[] = [];
    for await (const entry of stream as AsyncIterable<Entry>) {
      texts.push(entry.text());
      if (texts.length === 100) controller.abort();
    }
    expect(texts).toEqual(Array.from({ length: 100 }, (_, i) => `v${i}`));
    expect(await wal.count('bp')).toBe(0);
  });

  it('ends when the WAL closes', async () => {
    const wal = await openWal(SMALL);
    await wal.append('c', 'one');
    const stream = topicReadable(wal, 'c');
    const got: string[] = [];
    stream.on('data', (entry: Entry) => got.push(entry.text()));
    const ended = once(stream, 'end');
    await tick(30);
    await wal.close();
    await ended;
    expect(got).toEqual(['one']);
  });

  it('destroy() while waiting closes the stream without an error and lets the WAL close', async () => {
    const wal = await openWal(SMALL);
    const stream = topicReadable(wal, 'nothing-yet');
    stream.resume();
    await tick(30);
    const closed = once(stream, 'close');
    stream.destroy();
    await closed;
    expect(stream.errored).toBeNull();
    await wal.close(); // would hang if the subscription kept a read or a wait open
    await expect(wal.append('nothing-yet', 'x')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('surfaces a read failure as a stream error', async () => {
    const wal = await openWal(SMALL);
    await wal.append('f', 'x');
    wal.batchRead = () => Promise.reject(new WalError('ERR_CORRUPT', 'simulated checksum failure'));
    const stream = topicReadable(wal, 'f');
    stream.resume();
    const [err] = (await once(stream, 'error')) as [WalError];
    expect(err).toBeInstanceOf(WalError);
    expect(err.code).toBe('ERR_CORRUPT');
  });

  it('with checkpoint: false it leaves the entries unread', async () => {
    const wal = await openWal(SMALL);
    await wal.batchAppend('peek', ['a', 'b', 'c']);
    const controller = new AbortController();
    const texts: string[] = [];
    for await (const entry of topicReadable(wal, 'peek', {
      signal: controller.signal,
      checkpoint: false,
    }) as AsyncIterable<Entry>) {
      texts.push(entry.text());
      if (texts.length === 3) controller.abort();
    }
    expect(texts).toEqual(['a', 'b', 'c']);
    expect(await wal.count('peek')).toBe(3);
  });

  it('rejects bad arguments at creation', async () => {
    const wal = await openWal(SMALL);
    expect(() => topicReadable(wal, '')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => topicReadable(wal, 't', { maxBytes: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => topicReadable(wal, 't', { signal: 'stop' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });
});

describe('topicWritable', () => {
  it('appends every chunk in order (pipeline from an iterable)', async () => {
    const wal = await openWal(SMALL);
    const source = Array.from({ length: 500 }, (_, i) => (i % 2 === 0 ? `s${i}` : Buffer.from(`b${i}`)));
    await pipeline(Readable.from(source), topicWritable(wal, 'out'));
    const got = await drain(wal, 'out');
    expect(got.map((e) => e.text)).toEqual(source.map((c) => c.toString()));
  });

  it('calls back only once the append resolved (read-your-writes from the callback)', async () => {
    const wal = await openWal(SMALL);
    const stream = topicWritable(wal, 'ryw');
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve, reject) => stream.write(`w${i}`, (err) => (err ? reject(err) : resolve())));
      expect((await wal.readNext('ryw'))?.text()).toBe(`w${i}`);
    }
    stream.end();
    await once(stream, 'finish');
  });

  it('signals backpressure: write() returns false at highWaterMark, drain follows', async () => {
    const wal = await openWal(SMALL);
    const stream = topicWritable(wal, 'hw', { highWaterMark: 4 });
    const results = Array.from({ length: 6 }, (_, i) => stream.write(`x${i}`));
    expect(results.slice(0, 3)).toEqual([true, true, true]);
    expect(results[5]).toBe(false);
    await once(stream, 'drain');
    stream.end();
    await once(stream, 'finish');
    expect((await drain(wal, 'hw')).map((e) => e.text)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'x5']);
  });

  it('writes queued chunks as ordered batches, within the WAL batch limit, keeping raw chunks raw', async () => {
    const wal = await openWal({ ...SMALL, codec: 'msgpack', maxBatchEntries: 4 });
    const calls: number[] = [];
    const batchAppend = wal.batchAppend.bind(wal);
    wal.batchAppend = (topic, entries, options) => {
      calls.push((entries as unknown[]).length);
      return batchAppend(topic, entries, options);
    };
    const stream = topicWritable(wal, 'mixed', { highWaterMark: 64 });
    stream.write('first'); // goes out alone (_write); the rest queue behind it (_writev)
    const chunks: unknown[] = [];
    for (let i = 0; i < 10; i++) chunks.push(`raw-${i}`);
    chunks.push({ n: 1 }, { n: 2n ** 70n }, new Map([[1, 'one']]));
    chunks.push(Buffer.from('tail-bytes'));
    for (const c of chunks) stream.write(c);
    stream.end();
    await once(stream, 'finish');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.slice(1).every((n) => n <= 4)).toBe(true); // the first oversized batch taught the limit

    const all: Entry[] = [];
    for (
      let batch = await wal.batchRead('mixed', { maxBytes: 1 << 20 });
      batch.length > 0;
      batch = await wal.batchRead('mixed', { maxBytes: 1 << 20 })
    ) {
      all.push(...batch);
    }
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(all.map((e) => e.codec)).toEqual([...Array<string>(11).fill('raw'), 'msgpack', 'msgpack', 'msgpack', 'raw']);
    expect(all.slice(0, 11).map((e) => e.text())).toEqual([
      'first',
      ...Array.from({ length: 10 }, (_, i) => `raw-${i}`),
    ]);
    expect(all.slice(11, 14).map((e) => e.value)).toEqual([{ n: 1 }, { n: 2n ** 70n }, new Map([[1, 'one']])]);
    expect(all[14]!.text()).toBe('tail-bytes');
  });

  it('decodes strings written with an explicit encoding', async () => {
    const wal = await openWal(SMALL);
    const stream = topicWritable(wal, 'enc');
    stream.write('68656c6c6f', 'hex');
    stream.end('d29ybGQ=', 'base64');
    await once(stream, 'finish');
    expect((await drain(wal, 'enc')).map((e) => e.text)).toEqual(['hello', 'world']);
  });

  it('turns a rejected append into a stream error', async () => {
    const wal = await openWal(SMALL); // raw codec: objects are refused
    const stream = topicWritable(wal, 'bad');
    stream.write({ not: 'bytes' });
    const [err] = (await once(stream, 'error')) as [WalError];
    expect(err.code).toBe('ERR_INVALID_ARGUMENT');
    expect(stream.destroyed).toBe(true);

    const closedWal = await openWal(SMALL);
    await closedWal.close();
    const late = topicWritable(closedWal, 'late');
    late.write('x');
    const [closedErr] = (await once(late, 'error')) as [WalError];
    expect(closedErr.code).toBe('ERR_CLOSED');
  });

  it('is destroyed by its signal; appends already handed over still land', async () => {
    const wal = await openWal(SMALL);
    const controller = new AbortController();
    const stream = topicWritable(wal, 'ab', { signal: controller.signal });
    await new Promise<void>((resolve) => stream.write('kept', () => resolve()));
    const errored = once(stream, 'error');
    controller.abort();
    const [err] = (await errored) as [Error];
    expect(err.name).toBe('AbortError');
    expect(stream.destroyed).toBe(true);
    expect((await drain(wal, 'ab')).map((e) => e.text)).toEqual(['kept']);
  });

  it('rejects bad arguments at creation', async () => {
    const wal = await openWal(SMALL);
    expect(() => topicWritable(wal, '')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => topicWritable(wal, 't', { codec: 'json' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });
});

describe('topicReadable → Transform → topicWritable', () => {
  it('copies a topic through a pipeline and finishes when the source is aborted', async () => {
    const wal = await openWal(SMALL);
    const n = 300;
    await wal.batchAppend(
      'src',
      Array.from({ length: n }, (_, i) => `m${i}`),
    );
    const controller = new AbortController();
    let copied = 0;
    const upper = new Transform({
      objectMode: true,
      transform(entry: Entry, _encoding, callback) {
        if (++copied === n) controller.abort();
        callback(null, entry.text().toUpperCase());
      },
    });
    const sink: Writable = topicWritable(wal, 'dst');
    await pipeline(topicReadable(wal, 'src', { signal: controller.signal }), upper, sink);
    expect((await drain(wal, 'dst')).map((e) => e.text)).toEqual(Array.from({ length: n }, (_, i) => `M${i}`));
    expect(await wal.count('src')).toBe(0);
  });
});
