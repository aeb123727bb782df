/**
 * One validator per input (src/argument-checks.ts): the facade, subscribe, the streams and the
 * synchronous LogStore accept and refuse the same values. Two splits this closes: an AbortSignal
 * from another realm (or a polyfill) was accepted by subscribe() and refused by waitForWrites(), and
 * `maxBytes: Infinity` was accepted by Walrus.batchRead and refused by LogStore.batchRead.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalError, Walrus, topicReadable, topicWritable } from '../../dist/src/index.js';
import { LogStore } from '../../dist/src/storage/log-store.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { within } from '../helpers/within.js';

const CALL_TIMEOUT_MS = 10_000;

/**
 * A signal as another realm or a polyfill makes it: it behaves as an AbortSignal, yet
 * `instanceof AbortSignal` is false (a vm context has no AbortController of its own to build one).
 */
class ForeignSignal extends EventTarget {
  aborted = false;
  reason: unknown = undefined;
  onabort = null;
  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }
}

function foreignController(): { signal: AbortSignal; abort: () => void } {
  const signal = new ForeignSignal();
  return {
    signal: signal as unknown as AbortSignal,
    abort: () => {
      signal.aborted = true;
      signal.reason = new Error('aborted');
      signal.dispatchEvent(new Event('abort'));
    },
  };
}

function codeOf(call: () => unknown): string | null {
  try {
    call();
    return null;
  } catch (err) {
    return err instanceof WalError ? err.code : `not a WalError: ${String(err)}`;
  }
}

async function asyncCodeOf(call: () => Promise<unknown>): Promise<string | null> {
  try {
    await within(call(), 'call', CALL_TIMEOUT_MS);
    return null;
  } catch (err) {
    return err instanceof WalError ? err.code : `not a WalError: ${String(err)}`;
  }
}

const BAD_MAX_BYTES: unknown[] = [0, -1, 1.5, Number.NaN, -Infinity, 2 ** 53, '100', null, 5n];

describe('one validator per input: every surface accepts and refuses the same values', () => {
  const tmp = new TmpDirs();
  let wal: Walrus;
  let store: LogStore;

  beforeAll(async () => {
    wal = await within(
      Walrus.open({ dir: path.join(tmp.make(), 'wal'), fsync: 'none', writers: 1 }),
      'open',
      CALL_TIMEOUT_MS,
    );
    await wal.append('t', 'x');
    store = LogStore.open({ dir: path.join(tmp.make(), 'store'), fsync: 'none' });
    store.append('t', 'x');
  });

  afterAll(async () => {
    await wal.close();
    store.close();
    tmp.removeAll();
  });

  it('an AbortSignal of another realm (or a polyfill) is accepted by waitForWrites, subscribe and both streams', async () => {
    const foreign = foreignController();
    expect(foreign.signal instanceof AbortSignal).toBe(false);
    const waiting = wal.waitForWrites('t', { signal: foreign.signal });
    const iterator = wal.subscribe('t', { signal: foreign.signal })[Symbol.asyncIterator]();
    const readable = topicReadable(wal, 't', { signal: foreign.signal, checkpoint: false });
    const writable = topicWritable(wal, 'w', { signal: foreign.signal });
    foreign.abort();
    await within(waiting, 'waitForWrites ends on the foreign abort', CALL_TIMEOUT_MS);
    await within(iterator.return!(), 'subscription ends', CALL_TIMEOUT_MS);
    readable.destroy();
    writable.destroy();
  });

  it('a non-signal is refused the same way everywhere', async () => {
    const fake = { aborted: 'no' };
    expect(await asyncCodeOf(() => wal.waitForWrites('t', { signal: fake as never }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => wal.subscribe('t', { signal: fake as never }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => topicReadable(wal, 't', { signal: fake as never }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => topicWritable(wal, 't', { signal: fake as never }))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('maxBytes: Infinity reads everything in the engine and in the LogStore alike', async () => {
    expect((await wal.batchRead('t', { maxBytes: Infinity, checkpoint: false })).length).toBe(1);
    expect(store.batchRead('t', { maxBytes: Infinity, checkpoint: false }).length).toBe(1);
  });

  it.each(BAD_MAX_BYTES.map((v) => [String(v), v]))(
    'maxBytes %s is refused by batchRead, subscribe and LogStore',
    async (_label, maxBytes) => {
      expect(await asyncCodeOf(() => wal.batchRead('t', { maxBytes: maxBytes as number }))).toBe(
        'ERR_INVALID_ARGUMENT',
      );
      expect(codeOf(() => wal.subscribe('t', { maxBytes: maxBytes as number }))).toBe('ERR_INVALID_ARGUMENT');
      expect(codeOf(() => store.batchRead('t', { maxBytes: maxBytes as number }))).toBe('ERR_INVALID_ARGUMENT');
    },
  );

  it('a non-boolean checkpoint is refused by readNext, batchRead, subscribe and LogStore', async () => {
    const bad = { checkpoint: 'false' as unknown as boolean };
    expect(await asyncCodeOf(() => wal.readNext('t', bad))).toBe('ERR_INVALID_ARGUMENT');
    expect(await asyncCodeOf(() => wal.batchRead('t', { maxBytes: 1, ...bad }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => wal.subscribe('t', bad))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => store.readNext('t', bad))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => store.batchRead('t', { maxBytes: 1, ...bad }))).toBe('ERR_INVALID_ARGUMENT');
  });
});
