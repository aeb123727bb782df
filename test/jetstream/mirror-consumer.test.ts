/**
 * The mirror is a named consumer (issue 17 item 1; docs/SCALE-OUT.md, "The mirror's consumer"): it
 * reads through its own position on each topic, so the WAL's default consumer and any other named
 * consumer keep reading every entry beside it, and the stream still holds each entry exactly once.
 */
import { expect, it } from 'vitest';
import { Walrus, WalError } from '../../dist/src/index.js';
import { mirror, type Mirror } from '../../dist/src/jetstream/index.js';
import { until } from '../helpers/within.js';
import { checkExactlyOnce, describeWithNats, readStream } from './nats-harness.js';

const TOPICS = ['orders', 'audit'];
const PER_TOPIC = 1200;
const payloadOf = (topic: string, seq: number): string => `${topic}:${seq}`;

function untilMirrored(m: Mirror, total: number): Promise<void> {
  return until(async () => {
    const s = await m.stats();
    return s.published >= total && Object.values(s.topics).every((t) => t.lag === 0);
  }, `${total} entries mirrored, no lag`);
}

async function readEverything(reader: Pick<Walrus, 'batchRead'>, topic: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const batch = await reader.batchRead(topic, { maxBytes: 64 * 1024 });
    if (batch.length === 0) return out;
    for (const e of batch) out.push(e.text());
  }
}

describeWithNats('the mirror reads through its own consumer', 1, (suite) => {
  it('mirrors every entry once while the default consumer and a named one read every entry too', async () => {
    const wal = await Walrus.open({ dir: suite.tmp.make('walrus-js-beside'), key: 'beside', fsync: 'none' });
    try {
      const m = mirror(wal, { topics: TOPICS, servers: suite.fleet.servers, stream: 'BESIDE', namespace: 'beside' });
      const local = { default: new Map<string, string[]>(), indexer: new Map<string, string[]>() };
      const indexer = wal.consumer('indexer');
      for (const t of TOPICS) {
        local.default.set(t, []);
        local.indexer.set(t, []);
      }
      // Reading while appending: the local consumers race the mirror for the same entries.
      for (let i = 0; i < PER_TOPIC; i += 100) {
        for (const t of TOPICS)
          await wal.batchAppend(
            t,
            Array.from({ length: 100 }, (_, k) => payloadOf(t, i + k)),
          );
        for (const t of TOPICS) {
          local.default.get(t)!.push(...(await readEverything(wal, t)));
          local.indexer.get(t)!.push(...(await readEverything(indexer, t)));
        }
      }
      await untilMirrored(m, PER_TOPIC * TOPICS.length);
      await m.stop();
      const all = (t: string) => Array.from({ length: PER_TOPIC }, (_, i) => payloadOf(t, i));
      for (const t of TOPICS) {
        local.default.get(t)!.push(...(await readEverything(wal, t)));
        local.indexer.get(t)!.push(...(await readEverything(indexer, t)));
        expect(local.default.get(t), `default consumer of ${t}`).toEqual(all(t));
        expect(local.indexer.get(t), `indexer of ${t}`).toEqual(all(t));
      }
      expect(await wal.consumers()).toContain('mirror:BESIDE');
      const stored = await readStream(suite.fleet.servers, 'BESIDE');
      expect(checkExactlyOnce(stored, new Map(TOPICS.map((t) => [t, PER_TOPIC])), payloadOf)).toEqual([]);
    } finally {
      await wal.close();
    }
  });

  it("resumes from its own position after a restart, whatever the WAL's other consumers did", async () => {
    const dir = suite.tmp.make('walrus-js-resume');
    const open = () => Walrus.open({ dir, key: 'resume', fsync: 'none' });
    const options = {
      topics: ['t'],
      servers: suite.fleet.servers,
      stream: 'RESUME',
      namespace: 'resume',
      consumer: 'to-jetstream',
    };
    let wal = await open();
    await wal.batchAppend(
      't',
      Array.from({ length: 300 }, (_, i) => payloadOf('t', i)),
    );
    let m = mirror(wal, options);
    await untilMirrored(m, 300);
    await m.stop();
    await wal.close();
    wal = await open();
    try {
      // The default consumer reads nothing and the mirror's position was kept: it publishes only
      // what was appended since, and the stream holds 0..599 once each.
      await wal.batchAppend(
        't',
        Array.from({ length: 300 }, (_, i) => payloadOf('t', 300 + i)),
      );
      m = mirror(wal, options);
      await until(async () => (await m.stats()).topics.t!.lag === 0, 'caught up');
      await m.stop();
      expect(await wal.consumers()).toEqual(['to-jetstream']);
      expect(await wal.count('t')).toBe(600);
      const stored = await readStream(suite.fleet.servers, 'RESUME');
      expect(checkExactlyOnce(stored, new Map([['t', 600]]), payloadOf)).toEqual([]);
    } finally {
      await wal.close();
    }
  });

  it('refuses a bad consumer name at the call; null reads through the default consumer', async () => {
    const wal = await Walrus.open({ dir: suite.tmp.make('walrus-js-badname'), key: 'bad', fsync: 'none' });
    try {
      for (const consumer of ['', 'x'.repeat(256), 42]) {
        let err: unknown = null;
        try {
          mirror(wal, {
            topics: ['t'],
            servers: suite.fleet.servers,
            stream: 'BAD',
            namespace: 'bad',
            consumer: consumer as string,
          });
        } catch (e) {
          err = e;
        }
        expect(err, String(consumer)).toBeInstanceOf(WalError);
        expect((err as WalError).code).toBe('ERR_INVALID_ARGUMENT');
      }
      await wal.batchAppend(
        't',
        Array.from({ length: 50 }, (_, i) => payloadOf('t', i)),
      );
      const m = mirror(wal, {
        topics: ['t'],
        servers: suite.fleet.servers,
        stream: 'LEGACY',
        namespace: 'bad',
        consumer: null,
      });
      await untilMirrored(m, 50);
      await m.stop();
      // The mirror consumed the default consumer's entries, as before named consumers; it registered none.
      expect(await wal.count('t')).toBe(0);
      expect(await wal.consumers()).toEqual([]);
    } finally {
      await wal.close();
    }
  });
});
