// A child process for the SIGKILL crash tests. It opens a WAL, then appends (single and batch)
// and reads with checkpoints as fast as it can on several topics, printing one line per
// ACKNOWLEDGED operation to stdout:
//   A <topic> <index>            append of entry <index> resolved
//   B <topic> <first> <count>    batch of entries <first>..<first+count-1> resolved
//   R <topic> <seq>              readNext or batchRead with checkpoint returned entry <seq>
// Every entry's payload is "<topic>|<index>|<batch tag>|<padding>", and index == its seq.
// It prints OPENING before it opens the WAL and READY once it is open. The parent kills this process
// with SIGKILL at a random moment (while opening, or after READY) and checks the reopened WAL.
import { Walrus } from '../../dist/src/index.js';
import { acknowledgements, nextIndexes, parseFsync, seededRandom } from './child-kit.mjs';

const [dir, fsyncArg, consistencyArg, seedArg] = process.argv.slice(2);
const fsync = parseFsync(fsyncArg);
const readConsistency =
  consistencyArg === 'strict' ? 'strictly-at-once' : { atLeastOnce: { persistEvery: Number(consistencyArg.slice(3)) } };
const random = seededRandom(seedArg);

// Announced first, so that the parent can kill this child while it opens (recovers) the WAL.
process.stdout.write('OPENING\n');
const wal = await Walrus.open({
  dir,
  fsync,
  readConsistency,
  writers: 2,
  ringBytes: 256 * 1024,
  segmentBytes: 256 * 1024,
  blockBytes: 16 * 1024,
});
const topics = ['alpha', 'beta', 'gamma', 'delta'];
const stats = await wal.stats();
const next = nextIndexes(stats, topics);
// Producers wait while a topic has this many unread entries: the log a child leaves (and the next
// child recovers, and the parent checks) stays about the same size however many children ran.
const MAX_UNREAD = 2000;
const consumed = new Map(topics.map((t) => [t, stats.topics[t]?.consumed ?? 0]));
const ack = acknowledgements();
process.stdout.write('READY\n');

const payload = (topic, index, tag) => {
  const pad = 'x'.repeat(Math.floor(random() * 300));
  return `${topic}|${index}|${tag}|${pad}`;
};

async function producer(topic) {
  for (;;) {
    if (next.get(topic) - consumed.get(topic) >= MAX_UNREAD) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    if (random() < 0.2) {
      const count = 1 + Math.floor(random() * 20);
      const first = next.get(topic);
      next.set(topic, first + count);
      const entries = [];
      for (let k = 0; k < count; k++) entries.push(payload(topic, first + k, `b${first}:${k}/${count}`));
      await wal.batchAppend(topic, entries);
      ack(`B ${topic} ${first} ${count}`);
    } else {
      const index = next.get(topic);
      next.set(topic, index + 1);
      // fire a few appends without awaiting each: concurrency inside one topic keeps call order
      const p = wal.append(topic, payload(topic, index, 's'));
      await p;
      ack(`A ${topic} ${index}`);
    }
  }
}

async function consumer(topic) {
  for (;;) {
    const entry = await wal.readNext(topic);
    if (entry === null) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    consumed.set(topic, entry.seq + 1);
    ack(`R ${topic} ${entry.seq}`);
  }
}

// Several consumers per topic at once, so that reads settle together in one event-loop turn and
// share one cursor-log write: still, no entry is handed out twice, nor again after a kill.
async function batchConsumer(topic) {
  for (;;) {
    const batch = await wal.batchRead(topic, { maxBytes: 2048 });
    if (batch.length === 0) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    for (const entry of batch) ack(`R ${topic} ${entry.seq}`);
  }
}

for (const t of topics) {
  void producer(t);
  void producer(t);
  void consumer(t);
  void consumer(t);
  void batchConsumer(t);
}
