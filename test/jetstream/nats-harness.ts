/**
 * What the JetStream test files share beyond the servers (nats-fleet.ts): the suite wrapper that
 * skips loudly or fails when nats-server is missing, and the exactly-once check.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { NATS_BIN, NatsFleet, type StoredEntry } from './nats-fleet.js';

export { readStream } from './nats-fleet.js';

/** What a suite's tests share: its servers (started before the first test) and its temp dirs. */
export interface NatsSuite {
  readonly fleet: NatsFleet;
  readonly tmp: TmpDirs;
}

/**
 * A suite against `nodes` real nats-servers (one, or a JetStream cluster), stopped and cleaned up
 * after its last test.
 */
export function describeWithNats(name: string, nodes: 1 | 3, body: (suite: NatsSuite) => void): void {
  if (NATS_BIN) {
    describe(name, () => {
      let fleet: NatsFleet | undefined;
      const tmp = new TmpDirs();
      beforeAll(async () => {
        fleet = await NatsFleet.start(nodes);
      });
      afterAll(async () => {
        await fleet?.shutdown();
        tmp.removeAll();
      });
      body({
        get fleet(): NatsFleet {
          if (!fleet) throw new Error('the servers are not started yet (use the fleet inside a test)');
          return fleet;
        },
        tmp,
      });
    });
    return;
  }
  // No server: CI sets WALRUS_REQUIRE_NATS=1 (.ci/run), so there this fails; on a developer machine
  // (issue 7) it is one test that is skipped with the reason in the report, and a loud warning.
  const why = 'nats-server not found (PATH, /usr/sbin, $NATS_SERVER): install the Debian package nats-server';
  const required = process.env.WALRUS_REQUIRE_NATS === '1';
  if (!required)
    console.warn(
      `\n*** SKIPPING JetStream tests "${name}": ${why}. Set WALRUS_REQUIRE_NATS=1 to make this a failure. ***\n`,
    );
  describe(name, () => {
    it('needs nats-server', (ctx) => {
      if (!required) ctx.skip(why);
      throw new Error(`${why} (WALRUS_REQUIRE_NATS=1)`);
    });
  });
}

/**
 * The property every scenario ends with: each topic's entries 0..count-1 are in the stream exactly
 * once, in per-topic order, with the payload `payloadOf(topic, seq)`. Returns a list of problems
 * (empty = holds) so a failure shows all of them.
 */
export function checkExactlyOnce(
  stored: StoredEntry[],
  expected: Map<string, number>,
  payloadOf: (topic: string, seq: number) => string,
): string[] {
  const problems: string[] = [];
  const next = new Map<string, number>();
  for (const e of stored) {
    if (!expected.has(e.topic)) {
      problems.push(`unexpected topic ${JSON.stringify(e.topic)}`);
      continue;
    }
    const want = next.get(e.topic) ?? 0;
    if (e.seq !== want) {
      problems.push(
        `${JSON.stringify(e.topic)}: stream seq ${e.streamSeq} holds entry ${e.seq}, expected ${want} (${e.seq < want ? 'duplicate' : 'gap or reorder'})`,
      );
      if (problems.length > 20) break;
      next.set(e.topic, Math.max(want, e.seq + 1));
      continue;
    }
    if (e.data.toString('utf8') !== payloadOf(e.topic, e.seq))
      problems.push(`${JSON.stringify(e.topic)} seq ${e.seq}: payload differs`);
    next.set(e.topic, want + 1);
  }
  for (const [topic, count] of expected) {
    const got = next.get(topic) ?? 0;
    if (got !== count)
      problems.push(`${JSON.stringify(topic)}: stream has entries up to ${got - 1}, the WAL has ${count}`);
  }
  return problems;
}

/**
 * A local named consumer reading `topics` while the mirror runs (issue 17: the mirror is one
 * consumer among others). `stop()` waits until it has read `perTopic` entries of each topic, then
 * returns its problems (empty = it got every entry exactly once, in order, with its payload).
 */
export function readLocally(
  wal: {
    consumer(name: string): {
      batchRead(t: string, o: { maxBytes: number }): Promise<Array<{ seq: number; text(): string }>>;
    };
  },
  topics: readonly string[],
  payloadOf: (topic: string, seq: number) => string,
): { stop(perTopic: number): Promise<string[]> } {
  const local = wal.consumer('local');
  const problems: string[] = [];
  const next = new Map(topics.map((t) => [t, 0]));
  let target: number | null = null;
  const readers = topics.map(async (t) => {
    while (target === null || next.get(t)! < target) {
      const batch = await local.batchRead(t, { maxBytes: 16 * 1024 });
      if (batch.length === 0) await new Promise((r) => setTimeout(r, 2));
      for (const e of batch) {
        if (e.seq !== next.get(t)) problems.push(`local ${JSON.stringify(t)}: got ${e.seq}, expected ${next.get(t)}`);
        else if (e.text() !== payloadOf(t, e.seq))
          problems.push(`local ${JSON.stringify(t)} seq ${e.seq}: payload differs`);
        next.set(t, e.seq + 1);
      }
    }
  });
  return {
    async stop(perTopic: number): Promise<string[]> {
      target = perTopic;
      await Promise.all(readers);
      for (const t of topics)
        if (next.get(t) !== perTopic)
          problems.push(`local ${JSON.stringify(t)}: read up to ${next.get(t)! - 1} of ${perTopic}`);
      return problems;
    },
  };
}
