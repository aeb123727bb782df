/**
 * stats().topics is keyed by topic name, and a topic name is any valid string: names that are also
 * Object.prototype's own names (`__proto__`, `constructor`, `toString`) must be plain own keys like
 * any other, never a prototype swap or a shadowed method.
 */
import { describe, expect, it } from 'vitest';
import { SMALL, openWal } from '../helpers/wal.js';
import { within } from '../helpers/within.js';

describe('stats().topics: every topic name is an own key', () => {
  it('counts a topic named __proto__, constructor or toString like any other', async () => {
    const wal = await within(openWal(SMALL), 'open');
    const names = ['__proto__', 'constructor', 'toString', 'plain'];
    for (const name of names) await within(wal.append(name, 'x'), `append ${name}`);
    await within(wal.readNext('constructor'), 'consume one');
    const { topics } = await within(wal.stats(), 'stats');
    expect(Object.keys(topics).sort()).toEqual([...names].sort());
    expect(Object.getPrototypeOf(topics)).toBeNull();
    for (const name of names) {
      expect(Object.hasOwn(topics, name), name).toBe(true);
      const consumed = name === 'constructor' ? 1 : 0;
      expect(topics[name], name).toEqual({ appended: 1, consumed, unread: 1 - consumed });
    }
  });
});
