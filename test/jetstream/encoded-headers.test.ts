/**
 * The mirror's window publishes carry headers it encodes itself (src/jetstream/encoded-headers.ts),
 * not the client's `headers()` object. That relies on the client serialising the headers it is
 * given with `encode()`: pinned here against a real server, with what a subscriber receives. The
 * MsgHdrs methods behave like the client's own for the exact-match keys the mirror uses, and a
 * value that cannot go on the wire as one ASCII line is refused instead of sent.
 */
import { describe, expect, it } from 'vitest';
import { EncodedHeaders } from '../../dist/src/jetstream/encoded-headers.js';
import { describeWithNats } from './nats-harness.js';

describeWithNats('headers the mirror encodes itself reach a subscriber as sent', 1, (suite) => {
  it('every header, with repeated keys in order, arrives with the payload', async () => {
    const nc = await suite.fleet.connect();
    try {
      const sub = nc.subscribe('pinned.headers', { max: 1 });
      const h = new EncodedHeaders();
      h.append('Walrus-Topic', 'orders%2Feu');
      h.append('Walrus-Seq', '42');
      h.append('Nats-Msg-Id', 'w1.abc.42');
      h.append('Walrus-Seq', '43');
      nc.publish('pinned.headers', 'payload', { headers: h });
      for await (const msg of sub) {
        expect(msg.string()).toBe('payload');
        expect(msg.headers?.get('Walrus-Topic')).toBe('orders%2Feu');
        expect(msg.headers?.values('Walrus-Seq')).toEqual(['42', '43']);
        expect(msg.headers?.get('Nats-Msg-Id')).toBe('w1.abc.42');
        expect(msg.headers?.keys().sort()).toEqual(['Nats-Msg-Id', 'Walrus-Seq', 'Walrus-Topic']);
      }
    } finally {
      await nc.close();
    }
  });
});

describe('EncodedHeaders keeps the MsgHdrs contract and refuses what the wire cannot carry', () => {
  it('get, values, last, has, keys, set, delete and iteration', () => {
    const h = new EncodedHeaders();
    h.append('A', '1');
    h.append('B', '2');
    h.append('A', '3');
    expect(h.get('A')).toBe('1');
    expect(h.last('A')).toBe('3');
    expect(h.values('A')).toEqual(['1', '3']);
    expect(h.has('B')).toBe(true);
    expect(h.has('C')).toBe(false);
    expect(h.get('C')).toBe('');
    expect(h.keys()).toEqual(['A', 'B']);
    h.set('A', '9');
    expect(h.values('A')).toEqual(['9']);
    h.delete('B');
    expect([...h]).toEqual([['A', ['9']]]);
    expect(Buffer.from(h.encode()).toString('latin1')).toBe('NATS/1.0\r\nA: 9\r\n\r\n');
  });

  it.each([
    ['a value with CR LF', 'K', 'v\r\nInjected: 1'],
    ['a value with LF', 'K', 'v\n'],
    ['a non-ASCII value', 'K', 'é'],
    ['a key with a colon', 'K:x', 'v'],
    ['a key with a space', 'K x', 'v'],
    ['an empty key', '', 'v'],
  ])('refuses %s with a TypeError and keeps what it had', (_what, key, value) => {
    const h = new EncodedHeaders();
    h.append('Kept', 'yes');
    expect(() => h.append(key, value)).toThrow(TypeError);
    expect(Buffer.from(h.encode()).toString('latin1')).toBe('NATS/1.0\r\nKept: yes\r\n\r\n');
  });
});
