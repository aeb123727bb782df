// Times "open until usable" in a plain Node process: Walrus.open, then count() of every topic. The
// bench runs under `--import tsx`, which every worker thread inherits, so each writer, flusher and
// piscina scan worker loaded its modules through tsx's loader hooks. That is not what a user's
// process does, and it doubled the time of opening a 1 GiB log. The peak RSS is this process's own.
// Usage: node open-walrus.mjs '{"entry":".../dist/src/index.js","options":{"dir":"..."},"topics":["t-0"]}'
import { pathToFileURL } from 'node:url';

const { entry, options, topics = [] } = JSON.parse(process.argv[2] ?? '{}');
const { Walrus } = await import(pathToFileURL(entry).href);
const startMs = performance.now();
const wal = await Walrus.open(options);
let entries = 0;
for (const topic of topics) entries += await wal.count(topic);
const seconds = (performance.now() - startMs) / 1000;
const { recovery } = await wal.stats();
await wal.close();
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
const scannedGiB = recovery.scannedBytes / 2 ** 30;
process.stdout.write(`${JSON.stringify({ seconds, peakRssMiB, entries, scannedGiB })}\n`);
