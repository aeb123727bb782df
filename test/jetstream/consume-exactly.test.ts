/**
 * The mirror's two NATS-free pieces: consuming exactly what was published (zero-length entries
 * must not be swept along by a byte-budgeted batchRead) and the message id format.
 */
import { describe, expect, it } from 'vitest';
import { consumeExactly } from '../../dist/src/jetstream/consume-exactly.js';
import { defaultSubject, messageId } from '../../dist/src/jetstream/index.js';
import { openWal } from '../helpers/wal.js';

const OPTIONS = { key: 'k', fsync: 'none', writers: 1 } as const;

describe('consumeExactly', () => {
  it('consumes exactly the published entries when zero-length entries follow them', async () => {
    const wal = await openWal(OPTIONS);
    await wal.batchAppend('t', ['abc', '', 'defgh', '', '', 'x']);
    const peek = await wal.batchRead('t', { maxBytes: 1 << 20, checkpoint: false });
    const published = peek.slice(0, 4); // abc, '', defgh, '' — then '' follows unpublished
    await consumeExactly(wal, 't', published);
    expect((await wal.readNext('t', { checkpoint: false }))?.seq).toBe(4);
    // Only zero-length entries left before 'x': each one alone.
    await consumeExactly(wal, 't', [peek[4]!]);
    expect((await wal.readNext('t', { checkpoint: false }))?.seq).toBe(5);
    await consumeExactly(wal, 't', [peek[5]!]);
    expect(await wal.count('t')).toBe(0);
  });

  it('rejects with ERR_CONFLICT when someone else consumed the topic', async () => {
    const wal = await openWal(OPTIONS);
    await wal.batchAppend('t', ['a', 'b', 'c']);
    const peek = await wal.batchRead('t', { maxBytes: 1 << 20, checkpoint: false });
    await wal.readNext('t'); // a competing consumer takes seq 0
    await expect(consumeExactly(wal, 't', peek)).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
  });
});

describe('message ids', () => {
  it('are deterministic, distinct per (namespace, topic, seq), and ASCII whatever the topic', () => {
    const weird = 'a.b c\n*>ü'.repeat(400);
    expect(messageId('ns', 'orders', 7)).toBe(messageId('ns', 'orders', 7));
    expect(messageId('ns', 'orders', 7)).toMatch(/^w1\.[A-Za-z0-9_-]{22}\.7$/);
    expect(messageId('ab', 'c', 1)).not.toBe(messageId('a', 'bc', 1));
    expect(messageId('ns', 'orders', 7)).not.toBe(messageId('ns', 'orders', 8));
    expect(messageId('ns', weird, 0)).toMatch(/^w1\.[A-Za-z0-9_-]{22}\.0$/);
    expect(defaultSubject('S', 'orders')).toBe('S.orders');
    expect(defaultSubject('S', weird)).toMatch(/^S\.~[A-Za-z0-9_-]{22}$/);
  });
});
