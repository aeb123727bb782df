/**
 * `npm run bench:mirror`: the walrus-ts/jetstream mirror against real nats-server processes on
 * loopback (the same harness the tests use). Rows:
 *   - throughput: 4 topics × 25 000 entries of 256 B pre-appended, time until all are acknowledged by
 *     JetStream and consumed, into one server and into a 3-node cluster with an R3 stream;
 *   - lag: a fixed offered load (appends at OFFERED_PER_SEC) for LOAD_MS; latency from `append`
 *     resolving to the entry arriving at an ordered consumer of the stream (so: mirrored, stored,
 *     replicated, delivered), p50/p99/max.
 * Skips (exit 0, with a message) when nats-server is not installed.
 */
import * as os from 'node:os';
import { jetstream } from '@nats-io/jetstream';
import { makeTmpDir, removeTmpDir } from '../test/helpers/tmp-dir.js';
import { NATS_BIN, NatsFleet } from '../test/jetstream/nats-fleet.js';
import { latencyMetrics, newLatencyHistogram, recordSince } from './drive/latency-histogram.js';

const TOPICS = ['t0', 't1', 't2', 't3'];
const ENTRIES_PER_TOPIC = 25_000;
const ENTRY_BYTES = 256;
const OFFERED_PER_SEC = 5_000;
const LOAD_MS = 5_000;
const TICK_MS = 10;
const PER_TICK = Math.round((OFFERED_PER_SEC * TICK_MS) / 1000);

async function main(): Promise<void> {
  if (!NATS_BIN) {
    console.log('mirror bench skipped: nats-server not found (install the Debian package nats-server)');
    return;
  }
  const { Walrus } = (await import('../dist/src/index.js')) as typeof import('../dist/src/index.js');
  const { mirror } =
    (await import('../dist/src/jetstream/index.js')) as typeof import('../dist/src/jetstream/index.js');
  const rows: string[] = [];
  for (const size of [1, 3] as const) {
    const fleet = await NatsFleet.start(size);
    const dir = makeTmpDir('walrus-bench-mirror');
    const setup = size === 1 ? '1 server' : '3-node cluster, R3';
    try {
      const wal = await Walrus.open({ dir, key: 'bench', fsync: 'none' });
      const payload = Buffer.alloc(ENTRY_BYTES, 'x');
      for (const t of TOPICS)
        for (let i = 0; i < ENTRIES_PER_TOPIC; i += 1000)
          await wal.batchAppend(
            t,
            Array.from({ length: 1000 }, () => payload),
          );
      const total = TOPICS.length * ENTRIES_PER_TOPIC;
      const started = performance.now();
      const m = mirror(wal, {
        topics: TOPICS,
        servers: fleet.servers,
        stream: 'BENCH',
        namespace: 'bench',
        createStream: { replicas: size },
      });
      while ((await m.stats()).published < total) await new Promise((r) => setTimeout(r, 10));
      const seconds = (performance.now() - started) / 1000;
      rows.push(
        `| mirror throughput, ${setup} | ${Math.round(total / seconds).toLocaleString('en-US')} entries/s | ${total.toLocaleString('en-US')} × ${ENTRY_BYTES} B, ${TOPICS.length} topics, incl. stream creation |`,
      );

      // Fixed offered load: each payload carries the time its append resolved.
      const nc = await fleet.connect();
      const info = await (await jetstream(nc).jetstreamManager()).streams.info('BENCH');
      const consumer = await jetstream(nc).consumers.get('BENCH', {
        opt_start_seq: info.state.last_seq + 1,
        deliver_policy: 'by_start_sequence' as never,
      });
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
        const due = t0 + tick * TICK_MS;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        for (let k = 0; k < PER_TICK; k++) {
          const t = TOPICS[k % TOPICS.length]!;
          void wal.append(t, String(performance.timeOrigin + performance.now()));
        }
      }
      await reading;
      await messages.close();
      await nc.close();
      await m.stop();
      await wal.close();
      const { p50Us = 0, p99Us = 0 } = latencyMetrics(latencies);
      const ms = (us: number): string => (us / 1000).toFixed(1);
      rows.push(
        `| end-to-end lag at ${OFFERED_PER_SEC.toLocaleString('en-US')} appends/s, ${setup} | p50 ${ms(p50Us)} ms, p99 ${ms(p99Us)} ms, max ${ms(latencies.max / 1000)} ms | append resolved → delivered by an ordered consumer of the stream, ${latencies.count} entries over ${LOAD_MS / 1000} s |`,
      );
    } finally {
      await fleet.shutdown();
      removeTmpDir(dir);
    }
  }
  console.log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, nats-server ${NATS_BIN}`,
  );
  console.log('| row | result | what |\n|---|---:|---|\n' + rows.join('\n'));
}

await main();
