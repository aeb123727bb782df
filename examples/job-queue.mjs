#!/usr/bin/env node
// A job queue on a walrus-ts log, with at-least-once consumers.
//
//   node examples/job-queue.mjs                         # temp data dir, removed afterwards
//   node examples/job-queue.mjs --jobs 5000 --workers 8
//   node examples/job-queue.mjs --dir ./queue           # keep the data
//   node examples/job-queue.mjs --crash-after 0         # skip the crash-and-recover part
//
// Jobs are JS objects (the msgpack codec) appended to the topic `jobs`. Several workers take them
// with `wal.subscribe('jobs')`, one job per read, do the work, and append a result to `results`.
// The log is opened with `{ atLeastOnce: { persistEvery: 10 } }`: a worker's read is cheap (the
// cursor is written every 10 jobs), and after a crash at most 10 jobs are handed out again — so a
// worker skips a job that already has a result (the results topic is the idempotency record).
//
// Part 1 runs the queue. Part 2 kills a worker process with SIGKILL in the middle of a backlog,
// reopens the log, and shows the redelivered jobs being recognised and skipped.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Walrus } from '../dist/src/index.js';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    jobs: { type: 'string', default: '2000' },
    workers: { type: 'string', default: '4' },
    'crash-after': { type: 'string', default: '25' },
    child: { type: 'boolean', default: false }, // internal: the process part 2 kills
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(
    'usage: node examples/job-queue.mjs [--jobs N] [--workers N] [--crash-after N (0: no crash part)] [--dir DIR]',
  );
  process.exit(0);
}
const jobCount = Number(args.jobs);
const workerCount = Number(args.workers);
const crashAfter = Number(args['crash-after']);
for (const [name, v, min] of [
  ['jobs', jobCount, 1],
  ['workers', workerCount, 1],
  ['crash-after', crashAfter, 0],
]) {
  if (!Number.isInteger(v) || v < min) {
    console.error(`--${name} must be an integer >= ${min}`);
    process.exit(2);
  }
}

const PERSIST_EVERY = 10;
const OPTIONS = { readConsistency: { atLeastOnce: { persistEvery: PERSIST_EVERY } }, codec: 'msgpack' };

/** The "work": hash the job's input a number of rounds. */
function runJob(job) {
  let digest = job.input;
  for (let i = 0; i < job.rounds; i++) digest = createHash('sha256').update(digest).digest('hex');
  return digest.slice(0, 16);
}

function makeJob(id) {
  return {
    id,
    kind: id % 3 === 0 ? 'thumbnail' : 'invoice',
    input: `payload-${id}`,
    rounds: 1 + (id % 5),
    enqueuedAt: new Date(),
  };
}

/** Reads every result recorded so far: which jobs are done (at-least-once: by id, once each). */
async function loadResults(wal, done) {
  let duplicates = 0;
  for (;;) {
    const batch = await wal.batchRead('results', { maxBytes: 1 << 20 });
    if (batch.length === 0) return duplicates;
    for (const entry of batch) {
      if (done.has(entry.value.id)) duplicates++;
      done.add(entry.value.id);
    }
  }
}

/**
 * One worker: takes jobs one at a time (maxBytes: 1 — a read is one job, so a crash between jobs
 * leaves no job taken and unfinished), skips those already done, records a result for the others.
 * Ends when `signal` aborts (after the job in hand) or the log closes.
 */
async function worker(wal, name, done, signal, tally, onDone) {
  for await (const entry of wal.subscribe('jobs', { signal, maxBytes: 1 })) {
    const job = entry.value;
    if (done.has(job.id)) {
      tally.skipped++;
      continue;
    }
    done.add(job.id);
    const output = runJob(job);
    await wal.append('results', { id: job.id, worker: name, output });
    tally.byWorker[name] = (tally.byWorker[name] ?? 0) + 1;
    onDone(job.id);
    await yieldToLoop(); // let the other workers take jobs between two of ours
  }
}

/** Runs `workerCount` workers until every id in `wanted` is done; returns the tally. */
async function runWorkers(wal, done, wanted) {
  const tally = { skipped: 0, byWorker: {} };
  const controller = new AbortController();
  let remaining = wanted.filter((id) => !done.has(id)).length;
  if (remaining === 0) controller.abort();
  const onDone = () => {
    if (--remaining === 0) controller.abort();
  };
  await Promise.all(
    Array.from({ length: workerCount }, (_, w) => worker(wal, `w${w + 1}`, done, controller.signal, tally, onDone)),
  );
  return tally;
}

// ─── the child of part 2: one worker that is killed after `crashAfter` jobs ───
if (args.child) {
  const wal = await Walrus.open({ dir: args.dir, ...OPTIONS });
  const done = new Set();
  await loadResults(wal, done);
  let processed = 0;
  for await (const entry of wal.subscribe('jobs', { maxBytes: 1 })) {
    const job = entry.value;
    if (done.has(job.id)) continue;
    await wal.append('results', { id: job.id, worker: 'doomed', output: runJob(job) });
    if (++processed === crashAfter) process.kill(process.pid, 'SIGKILL'); // no close(), no cursor flush
  }
  throw new Error('unreachable: the queue ran dry before the crash point');
}

// ─── part 1: the queue ───
const tempRoot = args.dir ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-jobs-'));
const dir = args.dir ? path.resolve(args.dir) : tempRoot;
let failed = false;
const check = (ok, message) => {
  if (!ok) {
    failed = true;
    console.error(`  FAILED: ${message}`);
  }
};

try {
  console.log(`walrus-ts job queue: ${dir}`);
  console.log(
    `  ${jobCount} jobs, ${workerCount} workers, at-least-once consumers (cursor persisted every ${PERSIST_EVERY} jobs)`,
  );
  let wal = await Walrus.open({ dir, ...OPTIONS });
  const done = new Set();
  await loadResults(wal, done); // a kept --dir may hold results of an earlier run

  // Job ids continue after those of an earlier run on a kept --dir.
  const firstId = (await wal.stats()).topics.jobs?.appended ?? 0;
  const ids = Array.from({ length: jobCount }, (_, i) => firstId + i);
  const started = performance.now();
  const working = runWorkers(wal, done, ids);
  // The producer enqueues while the workers run: the workers wait for jobs, they do not poll.
  for (let i = 0; i < jobCount; i += 100) {
    await wal.batchAppend('jobs', ids.slice(i, i + 100).map(makeJob));
    await yieldToLoop();
  }
  const tally = await working;
  const seconds = (performance.now() - started) / 1000;
  const check1 = new Set();
  const duplicateResults = await loadResults(wal, check1);
  const perWorker = Object.entries(tally.byWorker)
    .sort()
    .map(([w, n]) => `${w} ${n}`)
    .join(', ');
  console.log('part 1: run the queue');
  console.log(`  done        ${check1.size} of ${jobCount} jobs in ${seconds.toFixed(2)} s (${perWorker})`);
  console.log(
    `  results     ${check1.size} recorded, ${duplicateResults} duplicates, ${await wal.count('jobs')} jobs left in the queue`,
  );
  check(
    ids.every((id) => check1.has(id)),
    'a job has no result',
  );
  check(duplicateResults === 0, 'a job has two results');

  if (crashAfter > 0) {
    // ─── part 2: a worker process dies in the middle of a backlog ───
    const backlog = Array.from({ length: Math.max(crashAfter * 4, 100) }, (_, i) => firstId + jobCount + i);
    for (let i = 0; i < backlog.length; i += 100) await wal.batchAppend('jobs', backlog.slice(i, i + 100).map(makeJob));
    await wal.close();

    const here = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, [here, '--child', '--dir', dir, '--crash-after', String(crashAfter)], {
      stdio: 'inherit',
    });
    const [, signal] = await new Promise((resolve) => child.on('exit', (code, sig) => resolve([code, sig])));
    check(signal === 'SIGKILL', `the worker process should have been killed, it exited with ${signal}`);

    wal = await Walrus.open({ dir, ...OPTIONS });
    const done2 = new Set(done);
    await loadResults(wal, done2);
    const recorded = new Set(backlog.filter((id) => done2.has(id))); // the killed process's results
    const byChild = recorded.size;
    const tally2 = await runWorkers(wal, done2, backlog);
    const duplicates2 = await loadResults(wal, recorded); // + this process's results
    console.log('part 2: SIGKILL a worker process in the middle of a backlog, reopen, carry on');
    console.log(`  crashed     after ${byChild} of ${backlog.length} jobs (killed, no close())`);
    console.log(
      `  redelivered ${tally2.skipped} jobs already done were handed out again and skipped (at most ${PERSIST_EVERY})`,
    );
    console.log(
      `  finished    the other ${backlog.length - byChild} jobs: ${recorded.size} results, ${duplicates2} duplicates, ${await wal.count('jobs')} jobs left in the queue`,
    );
    check(
      byChild === crashAfter,
      `the worker process should have done ${crashAfter} jobs before the crash, it did ${byChild}`,
    );
    check(tally2.skipped <= PERSIST_EVERY, `more than ${PERSIST_EVERY} jobs were redelivered`);
    check(
      backlog.every((id) => recorded.has(id)),
      'a job of the backlog has no result',
    );
    check(duplicates2 === 0, 'a job of the backlog has two results');
  }
  await wal.close();
} finally {
  if (tempRoot) fs.rmSync(tempRoot, { recursive: true, force: true });
  else console.log(`  data kept in ${dir}`);
}
console.log(failed ? 'job queue: FAILED' : 'job queue: ok');
process.exit(failed ? 1 : 0);
