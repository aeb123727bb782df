// A process that appends to its WAL and mirrors it at the same time, to be SIGKILLed by
// mirror-sigkill.test.ts. argv: dir key servers(comma) stream perTopic topics(JSON)
// It continues each topic from the WAL's appended count (payload = `${topic}:${seq}`), prints
// "P <published> <appended> <duplicates> <unconfirmedWindows>" every 20 ms, and once all is appended and mirrored prints DONE,
// stops the mirror, closes the WAL and exits 0. Beside the mirror, a local named consumer 'local'
// (strictly-at-once, the WAL's default) reads the same topics and prints "L <topic index> <seq>" for
// each entry it was handed, once its read resolved; the last life also waits for it to catch up.
import { Walrus } from '../../dist/src/index.js';
import { mirror } from '../../dist/src/jetstream/index.js';

const [dir, key, servers, stream, perTopicArg, topicsJson] = process.argv.slice(2);
const perTopic = Number(perTopicArg);
const topics = JSON.parse(topicsJson);
const wal = await Walrus.open({ dir, key });
const m = mirror(wal, {
  topics,
  servers: servers.split(','),
  stream,
  namespace: key,
  maxInFlight: 128,
  maxBatchBytes: 8 * 1024,
});
let appended = 0;
const local = wal.consumer('local');
let localTarget = null;
const localReading = Promise.all(
  topics.map(async (t, ti) => {
    for (;;) {
      const batch = await local.batchRead(t, { maxBytes: 4096 });
      if (batch.length === 0) {
        if (localTarget !== null && (await local.count(t)) === 0) return;
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      let lines = '';
      for (const e of batch) {
        if (e.text() !== `${t}:${e.seq}`) throw new Error(`local read ${t} seq ${e.seq}: payload ${e.text()}`);
        lines += `L ${ti} ${e.seq}\n`;
      }
      process.stdout.write(lines);
    }
  }),
);
const report = setInterval(async () => {
  const s = await m.stats().catch(() => null);
  if (s) process.stdout.write(`P ${s.published} ${appended} ${s.duplicates} ${s.unconfirmedWindows}\n`);
}, 20);
process.stdout.write('READY\n');
const stats = (await wal.stats()).topics;
await Promise.all(
  topics.map(async (t) => {
    let next = stats[t]?.appended ?? 0;
    while (next < perTopic) {
      const n = Math.min(25, perTopic - next);
      if (next % 2 === 0)
        await wal.batchAppend(
          t,
          Array.from({ length: n }, (_, k) => `${t}:${next + k}`),
        );
      else for (let k = 0; k < n; k++) await wal.append(t, `${t}:${next + k}`);
      next += n;
      appended += n;
      await new Promise((r) => setImmediate(r));
    }
  }),
);
for (;;) {
  const s = await m.stats();
  if (Object.values(s.topics).every((t) => t.lag === 0)) break;
  await new Promise((r) => setTimeout(r, 20));
}
localTarget = perTopic;
await localReading;
clearInterval(report);
process.stdout.write('DONE\n');
await m.stop();
await wal.close();
process.exit(0);
