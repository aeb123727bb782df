// A child process for the named-consumer SIGKILL test (test/crash/consumers-sigkill.test.ts). It
// opens a WAL, makes sure consumers c1 … c3 exist (their registration made durable by sync()), and
// prints where every consumer starts on every topic:
//   P <consumer> <topic> <position>   ('-' is the default consumer)
// then READY, then appends to two topics and lets every consumer (the default one too) read both,
// each on its own, printing one line per ACKNOWLEDGED checkpointed read:
//   R <consumer> <topic> <seq>
// The parent kills it with SIGKILL at a random moment after READY.
import { Walrus } from '../../dist/src/index.js';

const [dir, consistencyArg, seedArg] = process.argv.slice(2);
const readConsistency =
  consistencyArg === 'strict' ? 'strictly-at-once' : { atLeastOnce: { persistEvery: Number(consistencyArg.slice(3)) } };
let seed = Number(seedArg) >>> 0;
const random = () => {
  seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
  return seed / 2 ** 32;
};

const wal = await Walrus.open({
  dir,
  fsync: { intervalMs: 20 },
  readConsistency,
  writers: 2,
  ringBytes: 256 * 1024,
  segmentBytes: 128 * 1024,
  blockBytes: 16 * 1024,
});
const topics = ['t', 'u'];
const names = ['c1', 'c2', 'c3'];
const consumers = names.map((name) => [name, wal.consumer(name)]);
consumers.push(['-', wal]);
await wal.sync();
const stats = await wal.stats();
let out = '';
for (const [name] of consumers)
  for (const t of topics)
    out += `P ${name} ${t} ${stats.consumers[name === '-' ? '' : name]?.topics[t]?.position ?? 0}\n`;
process.stdout.write(out + 'READY\n');
out = '';
setInterval(() => {
  if (out.length > 0) {
    process.stdout.write(out);
    out = '';
  }
}, 2).unref();

const next = new Map(topics.map((t) => [t, stats.topics[t]?.appended ?? 0]));
const slowest = (t) => Math.min(...consumers.map(([name]) => positions.get(`${name} ${t}`)));
const positions = new Map();
for (const [name] of consumers)
  for (const t of topics)
    positions.set(`${name} ${t}`, stats.consumers[name === '-' ? '' : name]?.topics[t]?.position ?? 0);

async function producer(topic) {
  for (;;) {
    // bounded: the log a child leaves stays about the same size however many children ran
    if (next.get(topic) - slowest(topic) >= 1500) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    const index = next.get(topic);
    next.set(topic, index + 1);
    await wal.append(topic, `${topic}|${index}|${'x'.repeat(Math.floor(random() * 200))}`);
  }
}

async function reader(name, c, topic) {
  for (;;) {
    const batch =
      random() < 0.5 ? [await c.readNext(topic)].filter((e) => e) : await c.batchRead(topic, { maxBytes: 1500 });
    if (batch.length === 0) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    for (const e of batch) out += `R ${name} ${topic} ${e.seq}\n`;
    positions.set(`${name} ${topic}`, batch.at(-1).seq + 1);
  }
}

for (const t of topics) {
  void producer(t);
  for (const [name, c] of consumers) {
    void reader(name, c, t);
    void reader(name, c, t); // two readers of one consumer and topic: each entry still once
  }
}
