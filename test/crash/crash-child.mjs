// A child process for the SIGKILL crash tests. It opens a WAL, then appends (single and batch)
// and reads with checkpoints as fast as it can on several topics, printing one line per
// ACKNOWLEDGED operation to stdout:
//   A <topic> <index>            append of entry <index> resolved
//   B <topic> <first> <count>    batch of entries <first>..<first+count-1> resolved
//   R <topic> <seq>              readNext or batchRead with checkpoint returned entry <seq>
// Every entry's payload is "<topic>|<index>|<batch tag>|<padding>", and index == its seq.
// It prints OPENING before it opens the WAL and READY once it is open. The parent kills this process
// with SIGKILL at a random moment (while opening, or after READY) and checks the reopened WAL.
// With a 5th argument <closeAfterMs>, the workload runs that long after READY; then the child
// prints CLOSING, issues no new operation, awaits wal.close(), prints "CLOSED <ms close took>" and
// stays alive: the parent's SIGKILL lands during close() or after it completed. Operations in flight
// when CLOSING is printed may still resolve (and print their acknowledgement) before CLOSED; one
// rejected with ERR_CLOSED while closing is not acknowledged, any other failure crashes the child.
import { Walrus } from '../../dist/src/index.js';
import { acknowledgements, nextIndexes, parseFsync, seededRandom } from './child-kit.mjs';

const [dir, fsyncArg, consistencyArg, seedArg, closeAfterArg] = process.argv.slice(2);
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

let closing = false;
/** An operation in flight when close() began may reject with ERR_CLOSED: not acknowledged, not a failure. */
const unlessClosed = (err) => {
  if (closing && err?.code === 'ERR_CLOSED') return undefined;
  throw err;
};
const pause = () => new Promise((r) => setTimeout(r, 1));

const payload = (topic, index, tag) => {
  const pad = 'x'.repeat(Math.floor(random() * 300));
  return `${topic}|${index}|${tag}|${pad}`;
};

async function producer(topic) {
  while (!closing) {
    if (next.get(topic) - consumed.get(topic) >= MAX_UNREAD) {
      await pause();
      continue;
    }
    if (random() < 0.2) {
      const count = 1 + Math.floor(random() * 20);
      const first = next.get(topic);
      next.set(topic, first + count);
      const entries = [];
      for (let k = 0; k < count; k++) entries.push(payload(topic, first + k, `b${first}:${k}/${count}`));
      if ((await wal.batchAppend(topic, entries).then(() => true, unlessClosed)) === true)
        ack(`B ${topic} ${first} ${count}`);
    } else {
      const index = next.get(topic);
      next.set(topic, index + 1);
      if ((await wal.append(topic, payload(topic, index, 's')).then(() => true, unlessClosed)) === true)
        ack(`A ${topic} ${index}`);
    }
  }
}

async function consumer(topic) {
  while (!closing) {
    const entry = await wal.readNext(topic).catch(unlessClosed);
    if (entry === undefined) break; // rejected with ERR_CLOSED
    if (entry === null) {
      await pause();
      continue;
    }
    consumed.set(topic, entry.seq + 1);
    ack(`R ${topic} ${entry.seq}`);
  }
}

// Several consumers per topic at once, so that reads settle together in one event-loop turn and
// share one cursor-log write: still, no entry is handed out twice, nor again after a kill.
async function batchConsumer(topic) {
  while (!closing) {
    const batch = await wal.batchRead(topic, { maxBytes: 2048 }).catch(unlessClosed);
    if (batch === undefined) break; // rejected with ERR_CLOSED
    if (batch.length === 0) {
      await pause();
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

if (closeAfterArg !== undefined) {
  await new Promise((r) => setTimeout(r, Number(closeAfterArg)));
  closing = true;
  ack.flush(); // every acknowledgement so far is printed before CLOSING
  process.stdout.write('CLOSING\n');
  const started = performance.now();
  await wal.close();
  ack.flush(); // the in-flight operations that resolved during close() come before CLOSED
  process.stdout.write(`CLOSED ${Math.round(performance.now() - started)}\n`);
  setInterval(() => {}, 1000); // stay alive: the parent kills this child with SIGKILL all the same
}
