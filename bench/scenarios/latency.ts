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
import { median, type Metrics } from '../metrics.js';
import { openLevelLog, levelKey } from '../systems/level.js';
import { openLmdbLog } from '../systems/lmdb.js';
import { createLogFile } from '../systems/raw-file.js';
import { benchTopic, openWalrus } from '../systems/walrus.js';
import { rawWrite, walrusAppend } from './append-runs.js';
import { writeHeadlineKey } from './write.js';

export const latencyKey = 'walrus.latency';
const backlogSeconds = 0.25;
/** Offered before each measured period, not recorded: see OpenLoopOptions.warmupMs. */
const maxWarmupMs = 1000;
const drainTimeoutMs = 60_000;

interface OfferedRate {
  ratePerSec: number;
  basis: string;
}

const chosenRates = new WeakMap<CaseContext['env'], Map<number, Promise<OfferedRate>>>();

async function probeMaximum(ctx: CaseContext): Promise<OfferedRate> {
  const measured = ctx.env.measured(writeHeadlineKey, ctx.payloads.sizeBytes)?.entriesPerSec;
  if (measured !== undefined)
    return { ratePerSec: measured / 2, basis: 'half the walrus-ts append maximum of the write section' };
  const { env } = ctx;
  const walrus = env.walrus.ok && env.options.systems.includes('walrus-ts');
  // The median of --repeat probes, as a row would report it: single 3 s probes of the same build
  // ranged from 215k to 590k appends/s on a shared 2-core machine.
  const samples: number[] = [];
  for (let probe = 0; probe < env.options.repeat; probe++) {
    const probeCtx = { ...ctx, repDir: path.join(ctx.sectionDir, `rate-probe-${ctx.payloads.sizeBytes}-${probe}`) };
    fs.mkdirSync(probeCtx.repDir, { recursive: true });
    try {
      const max = walrus
        ? await walrusAppend(probeCtx, { topics: 1, batchSize: 1, window: env.options.windowOps })
        : rawWrite(probeCtx, 'entry', false);
      samples.push(max.entriesPerSec ?? 0);
    } finally {
      fs.rmSync(probeCtx.repDir, { recursive: true, force: true });
    }
  }
  const ratePerSec = median(samples) / 2;
  return walrus
    ? { ratePerSec, basis: 'half the walrus-ts append maximum (probed, median of --repeat runs)' }
    : { ratePerSec, basis: 'half the fs.writeSync-per-entry maximum (walrus-ts not measured)' };
}

/** Chosen once per run and size, so every row is offered the same load. */
function offeredRate(ctx: CaseContext): Promise<OfferedRate> {
  const given = ctx.env.options.latencyRatePerSec;
  if (given !== undefined) return Promise.resolve({ ratePerSec: given, basis: '--latency-rate' });
  let bySize = chosenRates.get(ctx.env);
  if (!bySize) chosenRates.set(ctx.env, (bySize = new Map()));
  let rate = bySize.get(ctx.payloads.sizeBytes);
  if (!rate) bySize.set(ctx.payloads.sizeBytes, (rate = probeMaximum(ctx)));
  return rate;
}

interface OpenedSystem {
  append(index: number): Promise<unknown> | void;
  close(): Promise<void> | void;
}

/** The rate is settled before the system under test is opened, so a probe never runs beside it. */
async function offer(ctx: CaseContext, open: () => Promise<OpenedSystem>): Promise<Metrics> {
  const { ratePerSec, basis } = await offeredRate(ctx);
  ctx.note(`offered load: ${basis}`);
  const system = await open();
  let run: OpenLoopRun;
  try {
    run = await runOpenLoop((i) => system.append(i), {
      ratePerSec,
      durationMs: ctx.env.options.durationMs,
      warmupMs: Math.min(maxWarmupMs, ctx.env.options.durationMs),
      maxOutstanding: Math.max(10_000, Math.ceil(ratePerSec * backlogSeconds)),
      drainTimeoutMs,
    });
  } finally {
    await system.close();
  }
  if (run.overloaded) ctx.note(`overloaded: stopped once ${backlogSeconds * 1000} ms of appends were pending`);
  const cpuWait = run.cpuWaitMs === undefined ? {} : { cpuWaitPct: (100 * run.cpuWaitMs) / (run.seconds * 1000) };
  return {
    offeredPerSec: ratePerSec,
    entriesPerSec: run.completed / run.seconds,
    ...latencyMetrics(run.histogram),
    ...cpuWait,
    ...(run.iowaitPct === undefined ? {} : { iowaitPct: run.iowaitPct }),
    ...(run.stealPct === undefined ? {} : { stealPct: run.stealPct }),
  };
}

async function walrusAppender(ctx: CaseContext): Promise<OpenedSystem> {
  const wal = await openWalrus(ctx, ctx.repDir);
  return { append: (i) => wal.append(benchTopic, ctx.payloads.at(i)), close: () => wal.close() };
}

async function rawAppender(ctx: CaseContext): Promise<OpenedSystem> {
  const fd = createLogFile(path.join(ctx.repDir, 'raw.log'));
  return { append: (i) => void fs.writeSync(fd, ctx.payloads.at(i)), close: () => fs.closeSync(fd) };
}

async function lmdbAppender(ctx: CaseContext): Promise<OpenedSystem> {
  const db = await openLmdbLog(ctx.repDir, { overlappingSync: true });
  return { append: (i) => db.put(i, ctx.payloads.at(i)), close: () => db.close() };
}

async function levelAppender(ctx: CaseContext): Promise<OpenedSystem> {
  const db = await openLevelLog(ctx.repDir);
  return { append: (i) => db.put(levelKey(i), ctx.payloads.at(i)), close: () => db.close() };
}

function cases(): BenchCase[] {
  const peer = { compareTo: latencyKey };
  return [
    {
      system: 'walrus-ts',
      key: latencyKey,
      label: 'append, fsync every 200 ms (default), 1 topic',
      durable: 'written to the OS; fsynced within 200 ms',
      run: (ctx) => offer(ctx, () => walrusAppender(ctx)),
    },
    {
      ...peer,
      system: 'ceiling',
      key: 'ceiling.latency-write-entry',
      label: 'fs.writeSync per entry (blocks the event loop)',
      durable: 'no (page cache)',
      run: (ctx) => offer(ctx, () => rawAppender(ctx)),
    },
    {
      ...peer,
      system: 'lmdb',
      key: 'lmdb.latency-put',
      label: 'put (default overlappingSync)',
      durable: 'committed; fsync overlapped',
      run: (ctx) => offer(ctx, () => lmdbAppender(ctx)),
    },
    {
      ...peer,
      system: 'classic-level',
      key: 'level.latency-put',
      label: 'put sync:false',
      durable: 'no (LevelDB log not fsynced)',
      run: (ctx) => offer(ctx, () => levelAppender(ctx)),
    },
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
    { title: 'CPU wait %', metric: 'cpuWaitPct', format: 'decimal' },
    { title: 'iowait %', metric: 'iowaitPct', format: 'decimal' },
    { title: 'steal %', metric: 'stealPct', format: 'decimal' },
  ],
  cases,
};
