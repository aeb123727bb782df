/**
 * `npm run bench:mirror`: the walrus-ts/jetstream mirror against real nats-server processes on
 * loopback (the same harness the tests use), next to the broker's own ceilings measured in the
 * same run, on the same servers, with the same client library. Per setup (one server; a 3-node
 * cluster with R3 streams), each into a fresh stream created beforehand:
 *   - core ceiling: ENTRIES messages of ENTRY_BYTES carrying `Nats-Msg-Id`, core publish (no reply),
 *     flush every 1 000; time until the stream holds all of them. What the broker ingests.
 *   - acked ceiling: `js.publish` of ENTRIES with `--in-flight` acknowledgements outstanding.
 *   - mirror: ENTRIES pre-appended to 4 topics, time until all are acknowledged and consumed.
 *   - lag: appends offered at OFFERED_PER_SEC for LOAD_MS; latency from `append` resolving to the
 *     entry arriving at an ordered consumer of the stream (mirrored, stored, replicated, delivered).
 * Throughput rows are medians of `--repeat` runs (default 3). Then the targets, met or missed:
 * one server ≥ 60% of its core ceiling, R3 ≥ 50% of its own, lag p99 ≤ 20 ms (one server).
 * Options: --repeat N, --setups 1,3, --entries N, --in-flight N. Skips (exit 0, with a message)
 * when nats-server is not installed.
 */
import * as os from 'node:os';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { makeTmpDir, removeTmpDir } from '../test/helpers/tmp-dir.js';
import { NATS_BIN, NatsFleet } from '../test/jetstream/nats-fleet.js';
import { latencyMetrics, newLatencyHistogram, recordSince } from './drive/latency-histogram.js';

const TOPICS = ['t0', 't1', 't2', 't3'];
const ENTRY_BYTES = 256;
const CORE_FLUSH_EVERY = 1000;
const OFFERED_PER_SEC = 5_000;
const LOAD_MS = 5_000;
const TICK_MS = 10;
const PER_TICK = Math.round((OFFERED_PER_SEC * TICK_MS) / 1000);
/** A ceiling run that stops making progress this long is reported as what it stored. */
const STALL_MS = 10_000;

const TARGET_RATIO = { 1: 0.6, 3: 0.5 } as const;
const TARGET_LAG_P99_MS = 20;

interface Args {
  repeat: number;
  setups: Array<1 | 3>;
  entries: number;
  inFlight: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { repeat: 3, setups: [1, 3], entries: 100_000, inFlight: 1024 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    const int = (): number => {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${argv[i]} needs a positive integer, got ${value}`);
      i++;
      return n;
    };
    switch (argv[i]) {
      case '--repeat':
        args.repeat = int();
        break;
      case '--entries':
        args.entries = int();
        break;
      case '--in-flight':
        args.inFlight = int();
        break;
      case '--setups':
        args.setups = (value ?? '').split(',').map((s) => {
          if (s !== '1' && s !== '3') throw new Error(`--setups takes 1 and/or 3, got ${s}`);
          return Number(s) as 1 | 3;
        });
        i++;
        break;
      default:
        throw new Error(`unknown option ${argv[i]} (--repeat, --setups, --entries, --in-flight)`);
    }
  }
  return args;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kps = (perSec: number): string => `${(perSec / 1000).toFixed(1)} k/s`;

async function createStream(jsm: JetStreamManager, name: string, replicas: number): Promise<void> {
  await jsm.streams.add({ name, subjects: [`${name}.>`], num_replicas: replicas, storage: 'file' } as Parameters<
    JetStreamManager['streams']['add']
  >[0]);
}

/** Until the stream holds `count` messages (or stops growing for STALL_MS); returns the time it did. */
async function storedAll(jsm: JetStreamManager, name: string, count: number): Promise<number> {
  let last = -1;
  let lastChangeMs = performance.now();
  for (;;) {
    const n = (await jsm.streams.info(name)).state.messages;
    const now = performance.now();
    if (n >= count) return now;
    if (n !== last) {
      last = n;
      lastChangeMs = now;
    } else if (now - lastChangeMs > STALL_MS) {
      throw new Error(`stream ${name} stalled at ${n} of ${count} messages`);
    }
    await delay(2);
  }
}

/** Core publish with message ids, flush every CORE_FLUSH_EVERY: what the stream ingests. */
async function coreCeiling(nc: NatsConnection, name: string, replicas: number, entries: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  await createStream(jsm, name, replicas);
  const payload = Buffer.alloc(ENTRY_BYTES, 'x');
  const started = performance.now();
  for (let i = 0; i < entries; i++) {
    const h = headers();
    h.set('Nats-Msg-Id', `core.${i}`);
    nc.publish(`${name}.${TOPICS[i % TOPICS.length]}`, payload, { headers: h });
    if ((i + 1) % CORE_FLUSH_EVERY === 0) await nc.flush();
  }
  await nc.flush();
  const ended = await storedAll(jsm, name, entries);
  await jsm.streams.delete(name);
  return entries / ((ended - started) / 1000);
}

/** `js.publish` with message ids, `inFlight` acknowledgements outstanding. */
async function ackedCeiling(
  nc: NatsConnection,
  name: string,
  replicas: number,
  entries: number,
  inFlight: number,
): Promise<number> {
  const jsm = await jetstreamManager(nc);
  await createStream(jsm, name, replicas);
  const js = jetstream(nc, { timeout: 30_000 });
  const payload = Buffer.alloc(ENTRY_BYTES, 'x');
  let outstanding = 0;
  let wake: (() => void) | null = null;
  let failure: unknown = null;
  const started = performance.now();
  for (let i = 0; i < entries; i++) {
    // A counter, not Promise.race over the set: that would cost O(inFlight) per publish.
    while (outstanding >= inFlight) await new Promise<void>((r) => (wake = r));
    if (failure) throw failure;
    outstanding++;
    js.publish(`${name}.${TOPICS[i % TOPICS.length]}`, payload, { msgID: `acked.${i}` }).then(
      () => {
        outstanding--;
        wake?.();
        wake = null;
      },
      (err: unknown) => {
        failure = err;
        outstanding--;
        wake?.();
        wake = null;
      },
    );
  }
  while (outstanding > 0) await new Promise<void>((r) => (wake = r));
  if (failure) throw failure;
  const seconds = (performance.now() - started) / 1000;
  await jsm.streams.delete(name);
  return entries / seconds;
}

type WalrusModule = typeof import('../dist/src/index.js');
type JetStreamModule = typeof import('../dist/src/jetstream/index.js');

type Mods = { Walrus: WalrusModule['Walrus']; mirror: JetStreamModule['mirror'] };
type Wal = Awaited<ReturnType<WalrusModule['Walrus']['open']>>;
type RunningMirror = ReturnType<JetStreamModule['mirror']>;

/**
 * A fresh stream and WAL for `body`, which starts the mirror of TOPICS into the stream when it is
 * ready to; after it the mirror is stopped, the WAL closed and the stream deleted, and the
 * temporary directory is removed in every case.
 */
async function withMirror<T>(
  mods: Mods,
  fleet: NatsFleet,
  nc: NatsConnection,
  name: string,
  replicas: number,
  body: (wal: Wal, startMirror: () => RunningMirror) => Promise<T>,
): Promise<T> {
  const jsm = await jetstreamManager(nc);
  await createStream(jsm, name, replicas);
  const dir = makeTmpDir('walrus-bench-mirror');
  try {
    const wal = await mods.Walrus.open({ dir, key: 'bench', fsync: 'none' });
    let m: RunningMirror | null = null;
    const startMirror = (): RunningMirror =>
      (m = mods.mirror(wal, {
        ...{ topics: TOPICS, servers: fleet.servers, stream: name },
        ...{ namespace: 'bench', createStream: false },
      }));
    const result = await body(wal, startMirror);
    await (m as RunningMirror | null)?.stop();
    await wal.close();
    await jsm.streams.delete(name);
    return result;
  } finally {
    removeTmpDir(dir);
  }
}

/** The mirror copying `entries` pre-appended entries (4 topics) into a pre-created stream. */
async function mirrorThroughput(
  mods: Mods,
  fleet: NatsFleet,
  nc: NatsConnection,
  name: string,
  replicas: number,
  entries: number,
): Promise<{ perSec: number; unconfirmed: number | null }> {
  return withMirror(mods, fleet, nc, name, replicas, async (wal, startMirror) => {
    const payload = Buffer.alloc(ENTRY_BYTES, 'x');
    const perTopic = Math.ceil(entries / TOPICS.length);
    for (const t of TOPICS)
      for (let i = 0; i < perTopic; i += 1000)
        await wal.batchAppend(
          t,
          Array.from({ length: Math.min(1000, perTopic - i) }, () => payload),
        );
    const total = perTopic * TOPICS.length;
    const started = performance.now();
    const m = startMirror();
    let stats = await m.stats();
    while (stats.published < total) {
      await delay(5);
      stats = await m.stats();
    }
    const seconds = (performance.now() - started) / 1000;
    // Undefined before windows existed (the base commit): the bench runs against both.
    const unconfirmed = (stats as { unconfirmedWindows?: number }).unconfirmedWindows;
    return { perSec: total / seconds, unconfirmed: unconfirmed ?? null };
  });
}

/** Fixed offered load; each payload carries the time its append resolved. Returns p50/p99/max in ms. */
async function mirrorLag(
  mods: Mods,
  fleet: NatsFleet,
  nc: NatsConnection,
  name: string,
  replicas: number,
): Promise<{ p50Ms: number; p99Ms: number; maxMs: number; count: number }> {
  return withMirror(mods, fleet, nc, name, replicas, async (wal, startMirror) => {
    startMirror();
    const consumer = await jetstream(nc).consumers.get(name);
    const latencies = newLatencyHistogram();
    const messages = await consumer.consume({ max_messages: 1000 });
    const expected = Math.floor(LOAD_MS / TICK_MS) * PER_TICK;
    const reading = (async () => {
      for await (const msg of messages) {
        recordSince(latencies, Number(Buffer.from(msg.data).toString('utf8')) - performance.timeOrigin);
        if (latencies.count >= expected) break;
      }
    })();
    const t0 = performance.now();
    for (let tick = 0; tick < LOAD_MS / TICK_MS; tick++) {
      const wait = t0 + tick * TICK_MS - performance.now();
      if (wait > 0) await delay(wait);
      for (let k = 0; k < PER_TICK; k++) {
        const t = TOPICS[k % TOPICS.length]!;
        void wal.append(t, String(performance.timeOrigin + performance.now()));
      }
    }
    await reading;
    await messages.close();
    const { p50Us = 0, p99Us = 0 } = latencyMetrics(latencies);
    return { p50Ms: p50Us / 1000, p99Ms: p99Us / 1000, maxMs: latencies.max / 1e6, count: latencies.count };
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!NATS_BIN) {
    console.log('mirror bench skipped: nats-server not found (install the Debian package nats-server)');
    return;
  }
  const { Walrus } = (await import('../dist/src/index.js')) as WalrusModule;
  const { mirror } = (await import('../dist/src/jetstream/index.js')) as JetStreamModule;
  const mods = { Walrus, mirror };
  const rows: string[] = [];
  const verdicts: string[] = [];
  for (const size of args.setups) {
    const setup = size === 1 ? '1 server' : '3-node cluster, R3';
    const fleet = await NatsFleet.start(size);
    const nc = await fleet.connect();
    try {
      const core: number[] = [];
      const acked: number[] = [];
      const mirrored: number[] = [];
      let unconfirmed: number | null = null;
      for (let r = 0; r < args.repeat; r++) {
        core.push(await coreCeiling(nc, `CORE${r}`, size, args.entries));
        acked.push(await ackedCeiling(nc, `ACKED${r}`, size, args.entries, args.inFlight));
        const run = await mirrorThroughput(mods, fleet, nc, `MIRROR${r}`, size, args.entries);
        mirrored.push(run.perSec);
        if (run.unconfirmed !== null) unconfirmed = (unconfirmed ?? 0) + run.unconfirmed;
      }
      const c = median(core);
      const a = median(acked);
      const mi = median(mirrored);
      const all = (xs: number[]): string => xs.map((x) => (x / 1000).toFixed(1)).join(', ');
      const what = `${args.entries.toLocaleString('en-US')} × ${ENTRY_BYTES} B, median of ${args.repeat} (${'k/s: '}`;
      rows.push(`| core publish + msg id (ceiling), ${setup} | ${kps(c)} | 100% | ${what}${all(core)}) |`);
      rows.push(
        `| js.publish, ${args.inFlight} in flight, ${setup} | ${kps(a)} | ${((a / c) * 100).toFixed(0)}% | ${what}${all(acked)}) |`,
      );
      rows.push(
        `| mirror, ${setup} | ${kps(mi)} | ${((mi / c) * 100).toFixed(0)}% | ${what}${all(mirrored)}), ${TOPICS.length} topics${unconfirmed === null ? '' : `, ${unconfirmed} unconfirmed windows`} |`,
      );
      const target = TARGET_RATIO[size];
      verdicts.push(
        `${mi / c >= target ? 'MET   ' : 'MISSED'} mirror ${setup} ≥ ${target * 100}% of its core ceiling: ${((mi / c) * 100).toFixed(0)}%`,
      );
      const lag = await mirrorLag(mods, fleet, nc, 'LAG', size);
      rows.push(
        `| mirror lag at ${OFFERED_PER_SEC.toLocaleString('en-US')} appends/s, ${setup} | p50 ${lag.p50Ms.toFixed(1)} ms, p99 ${lag.p99Ms.toFixed(1)} ms, max ${lag.maxMs.toFixed(1)} ms | | append resolved → delivered by a consumer of the stream, ${lag.count} entries over ${LOAD_MS / 1000} s |`,
      );
      if (size === 1) {
        verdicts.push(
          `${lag.p99Ms <= TARGET_LAG_P99_MS ? 'MET   ' : 'MISSED'} lag p99 ≤ ${TARGET_LAG_P99_MS} ms at ${OFFERED_PER_SEC} appends/s, ${setup}: ${lag.p99Ms.toFixed(1)} ms`,
        );
      }
    } finally {
      await nc.close();
      await fleet.shutdown();
    }
  }
  console.log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, nats-server ${NATS_BIN}`,
  );
  console.log('| row | result | of core ceiling | what |\n|---|---:|---:|---|\n' + rows.join('\n'));
  console.log('\ntargets:\n' + verdicts.join('\n'));
}

await main();
