/**
 * Append latency at a fixed offered load (open loop): half of the walrus-ts maximum measured in
 * this run unless `--latency-rate` says otherwise. Every row is offered the same rate, so a system
 * that cannot keep up shows it as queueing delay (or is stopped and marked overloaded).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchCase, CaseContext, Section } from '../bench-case.js';
import { latencyMetrics } from '../drive/latency-histogram.js';
import { runOpenLoop, type OpenLoopRun } from '../drive/open-loop.js';
import type { Metrics } from '../metrics.js';
import { openLevelLog, levelKey } from '../systems/level.js';
import { openLmdbLog } from '../systems/lmdb.js';
import { createLogFile } from '../systems/raw-file.js';
import { benchTopic, withWalrus } from '../systems/walrus.js';
import { rawWrite, walrusAppend } from './append-runs.js';
import { writeHeadlineKey } from './write.js';

export const latencyKey = 'walrus.latency';
const backlogSeconds = 0.25;
const drainTimeoutMs = 60_000;

const chosenRates = new WeakMap<CaseContext['env'], Map<number, Promise<number>>>();

/** Half of the maximum append rate: measured earlier in the run, or probed now for one duration. */
async function probeHalfRate(ctx: CaseContext): Promise<number> {
  const measured = ctx.env.measured(writeHeadlineKey, ctx.payloads.sizeBytes)?.entriesPerSec;
  if (measured !== undefined) return measured / 2;
  const probeCtx = { ...ctx, repDir: path.join(ctx.sectionDir, `rate-probe-${ctx.payloads.sizeBytes}`) };
  fs.mkdirSync(probeCtx.repDir, { recursive: true });
  try {
    const max = ctx.env.walrus.ok
      ? await walrusAppend(probeCtx, { topics: 1, batchSize: 1, window: ctx.env.options.windowOps })
      : rawWrite(probeCtx, 'entry', false);
    return (max.entriesPerSec ?? 0) / 2;
  } finally {
    fs.rmSync(probeCtx.repDir, { recursive: true, force: true });
  }
}

export function offeredRate(ctx: CaseContext): Promise<number> {
  const given = ctx.env.options.latencyRatePerSec;
  if (given !== undefined) return Promise.resolve(given);
  let bySize = chosenRates.get(ctx.env);
  if (!bySize) chosenRates.set(ctx.env, (bySize = new Map()));
  let rate = bySize.get(ctx.payloads.sizeBytes);
  if (!rate) bySize.set(ctx.payloads.sizeBytes, (rate = probeHalfRate(ctx)));
  return rate;
}

async function offer(ctx: CaseContext, op: (index: number) => Promise<unknown> | void): Promise<Metrics> {
  const ratePerSec = await offeredRate(ctx);
  const run: OpenLoopRun = await runOpenLoop(op, {
    ratePerSec,
    durationMs: ctx.env.options.durationMs,
    maxOutstanding: Math.max(10_000, Math.ceil(ratePerSec * backlogSeconds)),
    drainTimeoutMs,
  });
  if (run.overloaded) throw new Error(`overloaded: more than ${backlogSeconds * 1000} ms of appends pending at ${Math.round(ratePerSec)}/s`);
  return { offeredPerSec: ratePerSec, entriesPerSec: run.completed / run.seconds, ...latencyMetrics(run.histogram) };
}

function cases(): BenchCase[] {
  const peer = { compareTo: latencyKey };
  return [
    { system: 'walrus-ts', key: latencyKey, label: "append, fsync every 200 ms (default), 1 topic", durable: 'written to the OS; fsynced within 200 ms',
      run: async (ctx) => {
        await offeredRate(ctx);
        return withWalrus(ctx, {}, (wal) => offer(ctx, (i) => wal.append(benchTopic, ctx.payloads.at(i))));
      } },
    { ...peer, system: 'ceiling', key: 'ceiling.latency-write-entry', label: 'fs.writeSync per entry (blocks the event loop)', durable: 'no (page cache)',
      run: async (ctx) => {
        await offeredRate(ctx);
        const fd = createLogFile(path.join(ctx.repDir, 'raw.log'));
        try {
          return await offer(ctx, (i) => void fs.writeSync(fd, ctx.payloads.at(i)));
        } finally {
          fs.closeSync(fd);
        }
      } },
    { ...peer, system: 'lmdb', key: 'lmdb.latency-put', label: 'put (default overlappingSync)', durable: 'committed; fsync overlapped',
      run: async (ctx) => {
        await offeredRate(ctx);
        const db = await openLmdbLog(ctx.repDir, { overlappingSync: true });
        try {
          return await offer(ctx, (i) => db.put(i, ctx.payloads.at(i)));
        } finally {
          await db.close();
        }
      } },
    { ...peer, system: 'classic-level', key: 'level.latency-put', label: 'put sync:false', durable: 'no (LevelDB log not fsynced)',
      run: async (ctx) => {
        await offeredRate(ctx);
        const db = await openLevelLog(ctx.repDir);
        try {
          return await offer(ctx, (i) => db.put(levelKey(i), ctx.payloads.at(i)));
        } finally {
          await db.close();
        }
      } },
  ];
}

export const latencySection: Section = {
  id: 'latency',
  title: 'Append latency at a fixed offered load (half the walrus-ts maximum)',
  sizes: 'each',
  primary: 'p99Us',
  higherIsBetter: false,
  columns: [
    { title: 'offered/s', metric: 'offeredPerSec', format: 'count' },
    { title: 'done/s', metric: 'entriesPerSec', format: 'count' },
    { title: 'p50 µs', metric: 'p50Us', format: 'micros' },
    { title: 'p99 µs', metric: 'p99Us', format: 'micros' },
    { title: 'p99.9 µs', metric: 'p999Us', format: 'micros' },
  ],
  cases,
};
