/**
 * Issue 17: the mirror publishes windows without waiting per message (core publishes, one
 * acknowledged publish at the end of each; two windows in flight) and consumes a window only when
 * that acknowledgement confirms it. What can go wrong inside a window is injected between the mirror and a real nats-server, by
 * handing the mirror a connection whose `publish` (the core publishes; acknowledged publishes are
 * requests and pass untouched) misbehaves once:
 *   - a message lost on the way: the stream must keep only the prefix before it (the expected-last
 *     chain rejects every later one), the window must not confirm, and the entries come again;
 *   - another writer's message landing mid-window: the chain must break there too (a sequence check
 *     alone would accept the message after it and skip one), so the window does not confirm.
 * Each ends with every entry in the stream exactly once, in per-topic order.
 */
import { expect, it } from 'vitest';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { Walrus } from '../../dist/src/index.js';
import { mirror } from '../../dist/src/jetstream/index.js';
import { until } from '../helpers/within.js';
import { checkExactlyOnce, describeWithNats, readStream } from './nats-harness.js';

const TOPICS = ['left', 'right'];
const PER_TOPIC = 3000;
const payloadOf = (t: string, s: number): string => `${t}:${s}`;

type Publish = NatsConnection['publish'];

/** `nc` with its core `publish` replaced by `wrap(original, callNumber)`; everything else is `nc`'s own. */
function withPublish(
  nc: NatsConnection,
  wrap: (original: Publish, call: number, ...args: Parameters<Publish>) => void,
): NatsConnection {
  let calls = 0;
  const original: Publish = nc.publish.bind(nc);
  return new Proxy(nc, {
    get(target, prop) {
      if (prop === 'publish') return (...args: Parameters<Publish>) => wrap(original, ++calls, ...args);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** `nc` whose core publish number `lost` never reaches the server. */
function losing(nc: NatsConnection, lost: number): NatsConnection {
  return withPublish(nc, (original, call, ...args) => {
    if (call !== lost) original(...args);
  });
}

async function mirrorAll(
  suite: { tmp: { make(prefix: string): string } },
  nc: NatsConnection,
  stream: string,
): Promise<{ unconfirmedWindows: number; duplicates: number; published: number }> {
  const wal = await Walrus.open({ dir: suite.tmp.make(`walrus-js-${stream}`), key: stream, fsync: 'none' });
  try {
    // Appended before the mirror starts, so the first window is a big one (up to windowMaxEntries).
    for (const t of TOPICS)
      for (let from = 0; from < PER_TOPIC; from += 1000)
        await wal.batchAppend(
          t,
          Array.from({ length: 1000 }, (_, k) => payloadOf(t, from + k)),
        );
    const m = mirror(wal, {
      ...{ topics: TOPICS, connection: nc, stream, namespace: 'window-test' },
      ...{ windowMaxEntries: 2000, ackTimeoutMs: 3000 },
    });
    try {
      await until(async () => {
        const s = await m.stats();
        return s.published >= PER_TOPIC * TOPICS.length && Object.values(s.topics).every((t) => t.lag === 0);
      }, 'every entry mirrored');
      const s = await m.stats();
      return { unconfirmedWindows: s.unconfirmedWindows, duplicates: s.duplicates, published: s.published };
    } finally {
      await m.stop();
    }
  } finally {
    await wal.close();
  }
}

describeWithNats('a window is consumed only when the stream confirms all of it', 1, (suite) => {
  it('a core publish lost mid-window: the stream keeps the prefix, the rest comes again, in order', async () => {
    const nc = await suite.fleet.connect();
    try {
      const s = await mirrorAll(suite, losing(nc, 700), 'LOSS');
      expect(s.unconfirmedWindows).toBeGreaterThanOrEqual(1);
      // The 699 stored before the loss are published again and recognized by their ids.
      expect(s.duplicates).toBeGreaterThanOrEqual(699);
      expect(s.published).toBe(PER_TOPIC * TOPICS.length);
    } finally {
      await nc.close();
    }
    const stored = await readStream(suite.fleet.servers, 'LOSS');
    expect(checkExactlyOnce(stored, new Map(TOPICS.map((t) => [t, PER_TOPIC])), payloadOf)).toEqual([]);
  });

  it('a core publish lost in the second window in flight: the first is consumed, only the second comes again', async () => {
    const nc = await suite.fleet.connect();
    try {
      // windowMaxEntries 2000, both topics peeked whole: the first window is core publishes 1–1999
      // and a request, the second starts at core publish 2000.
      const s = await mirrorAll(suite, losing(nc, 2700), 'LOSS2');
      expect(s.unconfirmedWindows).toBeGreaterThanOrEqual(1);
      // The second window's 700 stored messages come again as duplicates; the first window's 2000
      // do not (confirmed, so consumed before the acknowledged round).
      expect(s.duplicates).toBeGreaterThanOrEqual(700);
      expect(s.duplicates).toBeLessThan(2000);
      expect(s.published).toBe(PER_TOPIC * TOPICS.length);
    } finally {
      await nc.close();
    }
    const stored = await readStream(suite.fleet.servers, 'LOSS2');
    expect(checkExactlyOnce(stored, new Map(TOPICS.map((t) => [t, PER_TOPIC])), payloadOf)).toEqual([]);
  });

  it("another writer's message mid-window breaks the chain: the window does not confirm, nothing is skipped", async () => {
    const nc = await suite.fleet.connect();
    try {
      const shared = withPublish(nc, (original, call, ...args) => {
        if (call === 700) {
          // Lands right before the mirror's 700th message, in the position that message predicted.
          const h = headers();
          h.set('Walrus-Namespace', 'someone-else');
          h.set('Walrus-Topic', 'foreign');
          h.set('Walrus-Seq', '0');
          h.set('Walrus-Codec', 'raw');
          original(args[0], 'foreign', { headers: h });
        }
        original(...args);
      });
      const s = await mirrorAll(suite, shared, 'SHARED');
      expect(s.unconfirmedWindows).toBeGreaterThanOrEqual(1);
    } finally {
      await nc.close();
    }
    const stored = await readStream(suite.fleet.servers, 'SHARED');
    const foreign = stored.filter((e) => e.namespace === 'someone-else');
    expect(foreign).toHaveLength(1);
    const ours = stored.filter((e) => e.namespace !== 'someone-else');
    expect(checkExactlyOnce(ours, new Map(TOPICS.map((t) => [t, PER_TOPIC])), payloadOf)).toEqual([]);
  });
});
