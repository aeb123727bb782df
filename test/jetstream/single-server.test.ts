/**
 * Issue 7 against one real nats-server: mirror while appending (plain, odd and zero-length
 * entries), redelivery deduplicated by message id, replay into a fresh WAL (twice = no duplicates),
 * and the gap replay refuses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';
import { mirror, replay, type Mirror } from '../../dist/src/jetstream/index.js';
import { drain } from '../helpers/wal.js';
import { until } from '../helpers/within.js';
import { checkExactlyOnce, describeWithNats, readStream } from './nats-harness.js';

const ODD = 'päth.with dots\nand *wildcards> '.repeat(100); // ~3 KB of UTF-8 a subject cannot hold
const TOPICS = ['orders', ODD, 'empties'];
const PER_TOPIC = 1500;
/** Every third entry of 'empties' is zero bytes long, the rest say who they are. */
const payloadOf = (topic: string, seq: number): string =>
  topic === 'empties' && seq % 3 === 0 ? '' : `${topic.slice(0, 16)}:${seq}`;

async function appendAll(wal: Walrus, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 50) {
    const end = Math.min(to, i + 50);
    await Promise.all(
      TOPICS.map(async (t) => {
        if (i % 100 === 0)
          await wal.batchAppend(
            t,
            Array.from({ length: end - i }, (_, k) => payloadOf(t, i + k)),
          );
        else for (let s = i; s < end; s++) await wal.append(t, payloadOf(t, s));
      }),
    );
  }
}

function untilMirrored(m: Mirror, total: number): Promise<void> {
  return until(async () => {
    const s = await m.stats();
    return s.published >= total && Object.values(s.topics).every((t) => t.lag === 0);
  }, `${total} entries mirrored, no lag`);
}

describeWithNats('mirror and replay on a single nats-server', 1, (suite) => {
  it('mirrors every entry exactly once in per-topic order while appends go on, then replays it', async () => {
    const dir = suite.tmp.make('walrus-js');
    const wal = await Walrus.open({ dir, key: 'single', fsync: 'none' });
    const m = mirror(wal, {
      topics: TOPICS,
      servers: suite.fleet.servers,
      stream: 'SINGLE',
      namespace: 'single',
      maxInFlight: 64,
      maxBatchBytes: 16 * 1024,
    });
    await appendAll(wal, 0, PER_TOPIC);
    await untilMirrored(m, PER_TOPIC * TOPICS.length);
    const stats = await m.stats();
    await m.stop();
    expect(stats.duplicates).toBe(0);
    expect(stats.duplicateWindowMs).toBe(120_000);
    expect(stats.topics.orders).toEqual({ lag: 0, published: PER_TOPIC, duplicates: 0 });

    // A second mirror on the same WAL picks up where the cursors are.
    await appendAll(wal, PER_TOPIC, PER_TOPIC + 100);
    const again = mirror(wal, { topics: TOPICS, servers: suite.fleet.servers, stream: 'SINGLE', namespace: 'single' });
    await untilMirrored(again, 100 * TOPICS.length);
    await again.stop();
    await wal.close();

    const expected = new Map(TOPICS.map((t) => [t, PER_TOPIC + 100]));
    const stored = await readStream(suite.fleet.servers, 'SINGLE');
    expect(checkExactlyOnce(stored, expected, payloadOf)).toEqual([]);
    expect(new Set(stored.map((e) => e.namespace))).toEqual(new Set(['single']));

    // Replay into a fresh WAL: same topics, same seqs, same bytes; a second run adds nothing.
    const restoredDir = suite.tmp.make('walrus-js-restore');
    const restored = await Walrus.open({ dir: restoredDir, key: 'single', fsync: 'none' });
    try {
      const first = await replay('SINGLE', restored, { servers: suite.fleet.servers });
      expect(first.complete).toBe(true);
      for (const t of TOPICS)
        expect(first.topics[t]).toEqual({ appended: PER_TOPIC + 100, skipped: 0, nextSeq: PER_TOPIC + 100 });
      const second = await replay('SINGLE', restored, { servers: suite.fleet.servers, topics: TOPICS });
      for (const t of TOPICS)
        expect(second.topics[t]).toEqual({ appended: 0, skipped: PER_TOPIC + 100, nextSeq: PER_TOPIC + 100 });
      for (const t of TOPICS) {
        expect(await drain(restored, t)).toEqual(
          Array.from({ length: PER_TOPIC + 100 }, (_, seq) => ({ seq, text: payloadOf(t, seq) })),
        );
      }
    } finally {
      await restored.close();
    }
  });

  it('a copy of the WAL taken before the mirror consumed publishes only duplicates (what a crash after publish looks like)', async () => {
    const dir = suite.tmp.make('walrus-js-dup');
    const wal = await Walrus.open({ dir, key: 'dup', fsync: 'none' });
    await wal.batchAppend(
      'orders',
      Array.from({ length: 500 }, (_, i) => `orders:${i}`),
    );
    await wal.close();
    const copyRoot = suite.tmp.make('walrus-js-dup-copy');
    fs.cpSync(path.join(dir, 'dup'), path.join(copyRoot, 'dup'), { recursive: true });

    for (const root of [dir, copyRoot]) {
      const w = await Walrus.open({ dir: root, key: 'dup', fsync: 'none' });
      const m = mirror(w, { topics: ['orders'], servers: suite.fleet.servers, stream: 'DUP', namespace: 'host-a/dup' });
      await untilMirrored(m, 500);
      const s = await m.stats();
      await m.stop();
      await w.close();
      expect(s.duplicates).toBe(root === dir ? 0 : 500);
    }
    const stored = await readStream(suite.fleet.servers, 'DUP');
    expect(checkExactlyOnce(stored, new Map([['orders', 500]]), (t, s) => `${t}:${s}`)).toEqual([]);
  });

  it('replay refuses a stream that starts mid-topic (ERR_SEQUENCE_GAP) and continues a WAL that holds the start', async () => {
    const dir = suite.tmp.make('walrus-js-gap');
    const wal = await Walrus.open({ dir, key: 'gap', fsync: 'none' });
    await wal.batchAppend(
      't',
      Array.from({ length: 20 }, (_, i) => `t:${i}`),
    );
    // The mirror's consumer starts past seqs 0-4: they never reach the stream.
    await wal.consumer('mirror:GAP').seek('t', { seq: 5 });
    const m = mirror(wal, { topics: ['t'], servers: suite.fleet.servers, stream: 'GAP', namespace: 'gap' });
    await untilMirrored(m, 15);
    await m.stop();
    await wal.close();

    const empty = await Walrus.open({ dir: suite.tmp.make('walrus-js-gap-a'), key: 'gap', fsync: 'none' });
    try {
      await expect(replay('GAP', empty, { servers: suite.fleet.servers })).rejects.toMatchObject({
        code: 'ERR_SEQUENCE_GAP',
        details: { topic: 't', expectedSeq: 0, actual: 5 },
      });
      expect((await empty.stats()).topics.t?.appended ?? 0).toBe(0);
    } finally {
      await empty.close();
    }
    const holdsStart = await Walrus.open({ dir: suite.tmp.make('walrus-js-gap-b'), key: 'gap', fsync: 'none' });
    try {
      await holdsStart.batchAppend(
        't',
        Array.from({ length: 5 }, (_, i) => `t:${i}`),
      );
      const r = await replay('GAP', holdsStart, { servers: suite.fleet.servers });
      expect(r.topics.t).toEqual({ appended: 15, skipped: 0, nextSeq: 20 });
      const all = await holdsStart.batchRead('t', { maxBytes: 1 << 20 });
      expect(all.map((e) => e.text())).toEqual(Array.from({ length: 20 }, (_, i) => `t:${i}`));
    } finally {
      await holdsStart.close();
    }
  });

  it('validates its options at the call', async () => {
    const wal = await Walrus.open({ dir: suite.tmp.make('walrus-js-args'), key: 'args', fsync: 'none' });
    try {
      expect(() => mirror(wal, { topics: [], servers: suite.fleet.servers, stream: 'X', namespace: 'args' })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
      );
      expect(() =>
        mirror(wal, { topics: ['a'], servers: suite.fleet.servers, stream: 'bad.name', namespace: 'args' }),
      ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      expect(() =>
        mirror(wal, { topics: ['a', 'a'], servers: suite.fleet.servers, stream: 'X', namespace: 'args' }),
      ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      expect(() => mirror(wal, { topics: ['a'], servers: [], stream: 'X', namespace: 'args' })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
      );
      expect(() =>
        mirror(wal, {
          topics: ['a'],
          servers: suite.fleet.servers,
          stream: 'X',
          namespace: 'args',
          subject: () => 'x.*',
        }),
      ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      // The window's bounds: positive integers.
      for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '8']) {
        for (const name of ['windowMaxEntries', 'windowMaxBytes']) {
          expect(
            () =>
              mirror(wal, { topics: ['a'], servers: suite.fleet.servers, stream: 'X', namespace: 'n', [name]: bad }),
            `${name} ${String(bad)}`,
          ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining(name) }));
        }
      }
      await expect(replay('NOPE', wal, { servers: suite.fleet.servers })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARGUMENT',
      });
    } finally {
      await wal.close();
    }
  });
});
