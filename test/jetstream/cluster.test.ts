/**
 * Issue 7 on a 3-node JetStream cluster (loopback ports, stream with 3 replicas): the mirror keeps
 * appending and publishing while (1) the stream leader is killed with SIGKILL and restarted, and
 * (2) the whole cluster is stopped and started again. After each: every entry the WAL holds is in
 * the stream exactly once, in per-topic order; and a local named consumer reading the same topics
 * all along got every entry exactly once, in order, as if no mirror were there (issue 17).
 */
import { expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';
import { mirror, replay, type Mirror } from '../../dist/src/jetstream/index.js';
import { jetstreamManager } from '@nats-io/jetstream';
import { until } from '../helpers/within.js';
import { checkExactlyOnce, describeWithNats, readLocally, readStream } from './nats-harness.js';

const TOPICS = ['clicks', 'orders'];
const payloadOf = (t: string, s: number): string => `${t}:${s}`;

/** Appends `count` entries per topic in small batches, letting the mirror run in between. */
async function appendRange(wal: Walrus, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i += 20) {
    const n = Math.min(20, from + count - i);
    await Promise.all(
      TOPICS.map((t) =>
        wal.batchAppend(
          t,
          Array.from({ length: n }, (_, k) => payloadOf(t, i + k)),
        ),
      ),
    );
    await new Promise((r) => setImmediate(r));
  }
}

async function mirroredAll(m: Mirror, wal: Walrus, perTopic: number): Promise<boolean> {
  const s = await m.stats();
  const w = (await wal.stats()).topics;
  return TOPICS.every((t) => w[t]?.appended === perTopic && s.topics[t]!.lag === 0);
}

describeWithNats('mirror into a 3-node JetStream cluster (R3 stream)', 3, (suite) => {
  /** A fresh WAL and its mirror into a new R3 stream, with short timeouts so failovers retry soon. */
  async function openMirrored(
    key: string,
    stream: string,
  ): Promise<{ wal: Walrus; m: Mirror; local: ReturnType<typeof readLocally> }> {
    const wal = await Walrus.open({ dir: suite.tmp.make(`walrus-js-${key}`), key, fsync: 'none' });
    const m = mirror(wal, {
      topics: TOPICS,
      servers: suite.fleet.servers,
      stream,
      namespace: key,
      createStream: { replicas: 3 },
      maxInFlight: 256,
      ackTimeoutMs: 2000,
      retryMaxMs: 1000,
    });
    return { wal, m, local: readLocally(wal, TOPICS, payloadOf) };
  }

  it('survives the stream leader killed with SIGKILL and restarted mid-stream', async () => {
    const { wal, m, local } = await openMirrored('cl1', 'CL1');
    let localProblems: string[] | null = null;
    try {
      await appendRange(wal, 0, 1500);
      await until(async () => (await m.stats()).published >= 600, 'published ≥ 600');
      const nc = await suite.fleet.connect();
      const leader = (await (await jetstreamManager(nc)).streams.info('CL1')).cluster?.leader;
      await nc.close();
      const victim = suite.fleet.nodes.find((n) => n.name === leader) ?? suite.fleet.nodes[0]!;
      await suite.fleet.stopNode(victim, 'SIGKILL');
      await appendRange(wal, 1500, 1500); // goes on while the cluster elects a new leader
      await until(async () => (await m.stats()).published >= 3600, 'published ≥ 3600');
      await suite.fleet.startNode(victim);
      await appendRange(wal, 3000, 1000);
      await until(() => mirroredAll(m, wal, 4000), 'all 4000 per topic mirrored');
      const s = await m.stats();
      expect(s.published).toBe(8000);
      localProblems = await local.stop(4000);
    } finally {
      await m.stop();
      await wal.close();
    }
    expect(localProblems).toEqual([]);
    const stored = await readStream(suite.fleet.servers, 'CL1');
    expect(checkExactlyOnce(stored, new Map(TOPICS.map((t) => [t, 4000])), payloadOf)).toEqual([]);
    // Replay right away, while the restarted node may still be catching up: it must not stop early.
    const restored = await Walrus.open({ dir: suite.tmp.make('walrus-js-cl1-restored'), key: 'cl1', fsync: 'none' });
    try {
      const report = await replay('CL1', restored, { servers: suite.fleet.servers, topics: TOPICS });
      expect(report.complete).toBe(true);
      for (const t of TOPICS) {
        expect(report.topics[t]?.appended, t).toBe(4000);
        const first = (await restored.batchRead(t, { maxBytes: Infinity, checkpoint: false })).at(0);
        expect(first?.text()).toBe(payloadOf(t, 0));
      }
    } finally {
      await restored.close();
    }
  });

  it('survives the whole cluster restarted mid-stream', async () => {
    const { wal, m, local } = await openMirrored('cl2', 'CL2');
    let localProblems: string[] | null = null;
    try {
      await appendRange(wal, 0, 1500);
      await until(async () => (await m.stats()).published >= 600, 'published ≥ 600');
      // All three go down while publishes are in flight (graceful stop: see docs/SCALE-OUT.md on SIGKILL of every replica).
      await Promise.all(suite.fleet.nodes.map((n) => suite.fleet.stopNode(n, 'SIGTERM')));
      await appendRange(wal, 1500, 500); // the WAL keeps taking writes with no broker at all
      await Promise.all(suite.fleet.nodes.map((n) => suite.fleet.startNode(n)));
      await appendRange(wal, 2000, 1000);
      await until(() => mirroredAll(m, wal, 3000), 'all 3000 per topic mirrored');
      const s = await m.stats();
      expect(s.reconnects).toBeGreaterThan(0);
      expect(s.lastError).not.toBeNull();
      localProblems = await local.stop(3000);
    } finally {
      await m.stop();
      await wal.close();
    }
    expect(localProblems).toEqual([]);
    const stored = await readStream(suite.fleet.servers, 'CL2');
    expect(checkExactlyOnce(stored, new Map(TOPICS.map((t) => [t, 3000])), payloadOf)).toEqual([]);
  });
});
