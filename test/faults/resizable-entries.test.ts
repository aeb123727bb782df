/**
 * An entry is copied at the length it was validated with (issue 12, defect 7; docs/ERRORS.md): a
 * Uint8Array over a resizable ArrayBuffer (`new ArrayBuffer(n, { maxByteLength })`) may be resized
 * while its append waits for ring space. One that grew is stored at its validated length, one that
 * shrank (or whose buffer was detached) rejects alone with ERR_INVALID_ARGUMENT; neighbouring
 * records are intact and the writer goes on. Through the built engine (dist/).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WalError } from '../../dist/src/index.js';
import { SMALL, openWal } from '../helpers/wal.js';
import { within } from '../helpers/within.js';

const ENTRY_BYTES = 1000;
/** Far more than a 64 KiB ring holds: appends made in one synchronous run queue behind a full ring. */
const APPENDS = 200;

function entryBytes(i: number): Uint8Array {
  return Uint8Array.from({ length: ENTRY_BYTES }, (_, k) => (i * 7 + k) & 0xff);
}

/** ES2024 resizable ArrayBuffers (Node 20 has them; the TypeScript lib of this project predates them). */
interface ResizableArrayBuffer extends ArrayBuffer {
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (
  byteLength: number,
  options: { maxByteLength: number },
) => ResizableArrayBuffer;

/** A length-tracking view (its length follows its buffer's) holding entry i. */
function resizableEntry(i: number): { view: Uint8Array; buffer: ResizableArrayBuffer } {
  const buffer = new ResizableArrayBuffer(ENTRY_BYTES, { maxByteLength: 4 * ENTRY_BYTES });
  const view = new Uint8Array(buffer);
  view.set(entryBytes(i));
  return { view, buffer };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);
afterEach(() => {
  expect(unhandled.splice(0)).toEqual([]);
});

describe('an entry is copied at the length it was validated with, even if its ArrayBuffer is resized while it waits for ring space', () => {
  it.each([
    ['append', false],
    ['batchAppend', true],
  ])('%s: a grown view is stored at its validated length, a shrunk one rejects alone', async (_name, batch) => {
    const wal = await openWal({ ...SMALL, writers: 1, ringBytes: 64 * 1024, fsync: 'none' });
    const grown = resizableEntry(150);
    const shrunk = resizableEntry(160);
    const results: Array<Promise<unknown>> = [];
    for (let i = 0; i < APPENDS; i++) {
      const data = i === 150 ? grown.view : i === 160 ? shrunk.view : entryBytes(i);
      results.push(batch ? wal.batchAppend('t', [data]) : wal.append('t', data));
    }
    // Still queued: nothing of this synchronous run has been published to the writer yet.
    grown.buffer.resize(3 * ENTRY_BYTES);
    new Uint8Array(grown.buffer).fill(0xee, ENTRY_BYTES);
    shrunk.buffer.resize(10);
    const settled = await within(Promise.allSettled(results), 'appends');
    settled.forEach((s, i) => {
      if (i !== 160) expect(s, `append ${i}`).toEqual({ status: 'fulfilled', value: undefined });
    });
    const refused = settled[160]!;
    expect(refused.status).toBe('rejected');
    const err = (refused as PromiseRejectedResult).reason as WalError;
    expect(err).toBeInstanceOf(WalError);
    expect(err.code).toBe('ERR_INVALID_ARGUMENT');
    // The writer goes on after the refused append.
    await within(wal.append('t', entryBytes(APPENDS)), 'append after');
    const entries = await within(wal.batchRead('t', { maxBytes: Infinity, checkpoint: false }), 'read');
    const expected = Array.from({ length: APPENDS + 1 }, (_, i) => i).filter((i) => i !== 160);
    expect(entries.length).toBe(expected.length);
    entries.forEach((entry, k) => {
      expect(entry.seq).toBe(k);
      expect(Buffer.from(entry.data).equals(Buffer.from(entryBytes(expected[k]!))), `entry ${k}`).toBe(true);
    });
  });
});
