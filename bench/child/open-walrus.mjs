// Times Walrus.open in a plain Node process: the bench runs under `--import tsx`, which every worker
// thread inherits, so each writer, flusher and piscina scan worker loaded its modules through tsx's
// loader hooks. That is not what a user's process does, and it doubled the time of opening a 1 GiB log.
// Usage: node open-walrus.mjs '{"entry":".../dist/src/index.js","options":{"dir":"..."}}'
import { pathToFileURL } from 'node:url';

const { entry, options } = JSON.parse(process.argv[2] ?? '{}');
const { Walrus } = await import(pathToFileURL(entry).href);
const startMs = performance.now();
const wal = await Walrus.open(options);
const seconds = (performance.now() - startMs) / 1000;
await wal.close();
process.stdout.write(`${JSON.stringify({ seconds })}\n`);
