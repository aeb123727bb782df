// A child process for the write()/flush() SIGKILL crash test. It opens a WAL and, on several topics,
// writes runs of entries with write() (waiting for 'drain' when it returns false), mixed with a few
// awaited appends, then awaits flush(). It prints one line per ACKNOWLEDGED point to stdout:
//   F <topic> <index>    flush() resolved: every entry up to <index> was written (durable under 'each')
//   A <topic> <index>    append of entry <index> resolved
//   E <code>             an 'error' event or a rejected flush() (reported, so not counted as acknowledged)
// Every entry's payload is "<topic>|<index>|<padding>", and index == its seq.
import { Walrus } from '../../dist/src/index.js';
import { acknowledgements, nextIndexes, parseFsync, seededRandom } from './child-kit.mjs';

const [dir, fsyncArg, seedArg] = process.argv.slice(2);
const fsync = parseFsync(fsyncArg);
const random = seededRandom(seedArg);

const wal = await Walrus.open({
  dir,
  fsync,
  writers: 2,
  ringBytes: 64 * 1024,
  segmentBytes: 256 * 1024,
  blockBytes: 16 * 1024,
});
const topics = ['alpha', 'beta', 'gamma'];
const next = nextIndexes(await wal.stats(), topics);
const ack = acknowledgements();
wal.on('error', (err) => ack(`E ${err.code}`));
process.stdout.write('READY\n');

const payload = (topic, index) => `${topic}|${index}|${'w'.repeat(Math.floor(random() * 200))}`;
const drained = () => new Promise((resolve) => wal.once('drain', resolve));

async function producer(topic) {
  for (;;) {
    const run = 1 + Math.floor(random() * 300);
    for (let k = 0; k < run; k++) {
      const index = next.get(topic);
      next.set(topic, index + 1);
      if (random() < 0.05) {
        await wal.append(topic, payload(topic, index));
        ack(`A ${topic} ${index}`);
      } else if (!wal.write(topic, payload(topic, index))) {
        await drained();
      }
    }
    const last = next.get(topic) - 1;
    try {
      await wal.flush();
      ack(`F ${topic} ${last}`);
    } catch (err) {
      ack(`E ${err.code}`);
    }
  }
}

for (const t of topics) void producer(t);
