import { runWindowedLoop } from './drive/windowed-loop.js';
const resolved = Promise.resolve();
for (const window of [1, 64, 4096]) {
  const run = await runWindowedLoop(() => resolved, { window, entriesPerOp: 1, durationMs: 1000 });
  console.log('window', window, Math.round(run.entries / run.seconds).toLocaleString(), 'ops/s (already-resolved promise)');
  let n = 0;
  const run2 = await runWindowedLoop(() => new Promise<void>((r) => { n++; queueMicrotask(r); }), { window, entriesPerOp: 1, durationMs: 1000 });
  console.log('window', window, Math.round(run2.entries / run2.seconds).toLocaleString(), 'ops/s (new promise each)');
}
