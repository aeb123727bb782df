// Writes a log of `bytes` bytes over `topics` topics, prints "reached", and keeps appending until
// the bench SIGKILLs it: the state a crash mid-append leaves (each writer's live segment has no
// summary; segments sealed in the last flusher interval may not have one yet).
// Usage: node crash-writer.mjs '{"entry":".../dist/src/index.js","options":{"dir":"..."},"bytes":N,"topics":16,"entryBytes":1024}'
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const { entry, options, bytes, topics, entryBytes } = JSON.parse(process.argv[2] ?? '{}');
const { Walrus } = await import(pathToFileURL(entry).href);
const wal = await Walrus.open(options);
const batch = Array.from({ length: 100 }, () => randomBytes(entryBytes));
let written = 0;
let announced = false;
for (let b = 0; ; b++) {
  const pending = [];
  for (let i = 0; i < 40; i++, b++) pending.push(wal.batchAppend(`bench-${b % topics}`, batch));
  await Promise.all(pending);
  written += 40 * 100 * entryBytes;
  if (!announced && written >= bytes) {
    announced = true;
    process.stdout.write('reached\n');
  }
}
