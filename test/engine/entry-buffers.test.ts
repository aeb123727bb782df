/**
 * Entries of one read share one ArrayBuffer (src/engine/main/entry.ts). A caller that transfers
 * `entry.data.buffer` detaches the siblings the WAL has read ahead; those must then be read again,
 * never handed out — and consumed — as empty entries.
 */
import { describe, expect, it } from 'vitest';
import { SMALL, openWal } from '../helpers/wal.js';
import { within } from '../helpers/within.js';

const TEXTS = Array.from({ length: 8 }, (_, i) => `entry-${i}-${'x'.repeat(100)}`);

function transfer(buffer: ArrayBufferLike): void {
  structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
}

describe('a transferred entry buffer never turns a cached sibling into an empty entry', () => {
  it('readNext re-reads the siblings of a peeked entry whose buffer was transferred', async () => {
    const wal = await within(openWal(SMALL), 'open');
    await within(wal.batchAppend('t', TEXTS), 'append');
    const peeked = await within(wal.readNext('t', { checkpoint: false }), 'peek');
    expect(peeked!.text()).toBe(TEXTS[0]);
    transfer(peeked!.data.buffer);
    expect(peeked!.data.byteLength).toBe(0);
    const got: string[] = [];
    for (let e = await wal.readNext('t'); e !== null; e = await wal.readNext('t')) got.push(e.text());
    expect(got).toEqual(TEXTS);
    expect(await wal.count('t')).toBe(0);
  });

  it('batchRead re-reads the cached rest of a batch whose buffer was transferred', async () => {
    const wal = await within(openWal(SMALL), 'open');
    await within(wal.batchAppend('t', TEXTS), 'append');
    const [first] = await within(wal.batchRead('t', { maxBytes: 1 }), 'first batch');
    expect(first!.text()).toBe(TEXTS[0]);
    transfer(first!.data.buffer);
    const rest = await within(wal.batchRead('t', { maxBytes: Infinity }), 'rest');
    expect(rest.map((e) => e.text())).toEqual(TEXTS.slice(1));
    expect(await wal.count('t')).toBe(0);
  });

  it('zero-length entries too: each is delivered once, with its siblings', async () => {
    const wal = await within(openWal(SMALL), 'open');
    await within(wal.batchAppend('t', ['', '', 'last']), 'append');
    const first = await within(wal.readNext('t'), 'first');
    expect(first!.data.byteLength).toBe(0);
    transfer(first!.data.buffer);
    const second = await within(wal.readNext('t'), 'second');
    const third = await within(wal.readNext('t'), 'third');
    expect([second?.seq, second?.text(), third?.seq, third?.text()]).toEqual([1, '', 2, 'last']);
    expect(await wal.readNext('t')).toBeNull();
  });
});
