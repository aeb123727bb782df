/**
 * The mirror's stats().topics and the replay report's topics are keyed by topic name, and a topic
 * name is any valid string (issue 12, defect 12; docs/SCALE-OUT.md): names that are also
 * Object.prototype's own names (`__proto__`, `constructor`, `toString`) must be plain own keys like
 * any other, never a prototype swap or a shadowed method. Against one real nats-server.
 */
import { expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';
import { mirror } from '../../dist/src/jetstream/index.js';
import { replay } from '../../dist/src/jetstream/index.js';
import { drain } from '../helpers/wal.js';
import { until } from '../helpers/within.js';
import { describeWithNats } from './nats-harness.js';

const NAMES = ['__proto__', 'constructor', 'toString', 'plain'];
const PER_TOPIC = 3;

describeWithNats('mirror stats and the replay report: every topic name is an own key', 1, (suite) => {
  it('mirrors and replays topics named __proto__, constructor or toString like any other', async () => {
    const wal = await Walrus.open({ dir: suite.tmp.make('walrus-js-proto'), key: 'proto', fsync: 'none' });
    for (const name of NAMES)
      await wal.batchAppend(
        name,
        Array.from({ length: PER_TOPIC }, (_, seq) => `${name}:${seq}`),
      );
    const m = mirror(wal, { topics: NAMES, servers: suite.fleet.servers, stream: 'PROTO', namespace: 'proto' });
    await until(async () => (await m.stats()).published >= NAMES.length * PER_TOPIC, 'every entry mirrored');
    const stats = await m.stats();
    await m.stop();
    await wal.close();
    expect(Object.getPrototypeOf(stats.topics)).toBeNull();
    expect(Object.keys(stats.topics).sort()).toEqual([...NAMES].sort());
    for (const name of NAMES) {
      expect(Object.hasOwn(stats.topics, name), name).toBe(true);
      expect(stats.topics[name], name).toEqual({ lag: 0, published: PER_TOPIC, duplicates: 0 });
    }

    const restored = await Walrus.open({ dir: suite.tmp.make('walrus-js-proto-restore'), key: 'proto', fsync: 'none' });
    try {
      const report = await replay('PROTO', restored, { servers: suite.fleet.servers });
      expect(report.complete).toBe(true);
      expect(Object.getPrototypeOf(report.topics)).toBeNull();
      expect(Object.keys(report.topics).sort()).toEqual([...NAMES].sort());
      for (const name of NAMES) {
        expect(Object.hasOwn(report.topics, name), name).toBe(true);
        expect(report.topics[name], name).toEqual({ appended: PER_TOPIC, skipped: 0, nextSeq: PER_TOPIC });
        expect(await drain(restored, name)).toEqual(
          Array.from({ length: PER_TOPIC }, (_, seq) => ({ seq, text: `${name}:${seq}` })),
        );
      }
    } finally {
      await restored.close();
    }
  });
});
