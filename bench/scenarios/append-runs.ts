/**
 * How each system is driven to append, shared by the throughput sections. Every run appends the
 * same pre-generated payloads for `durationMs` and reports entries/s, MB/s and op latency.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CaseContext } from '../bench-case.js';
import { newLatencyHistogram } from '../drive/latency-histogram.js';
import { runSyncLoop } from '../drive/sync-loop.js';
import { throughputMetrics, type ThroughputRun } from '../drive/throughput.js';
import { runWindowedLoop } from '../drive/windowed-loop.js';
import type { Metrics } from '../metrics.js';
import { coalesce, makeBatches } from '../payloads.js';
import { createLogFile } from '../systems/raw-file.js';
import { openBoomLog } from '../systems/sonic-boom.js';
import { levelKey, openLevelLog, putBatch as levelPutBatch } from '../systems/level.js';
import { openLmdbLog, putBatch as lmdbPutBatch } from '../systems/lmdb.js';
import { openSqliteLog, type SqliteSynchronous } from '../systems/sqlite.js';
import { benchTopic, benchTopics, withWalrus } from '../systems/walrus.js';
import type { WalrusFsync } from '../walrus-module.js';

function metricsOf(ctx: CaseContext, run: ThroughputRun): Metrics {
  return throughputMetrics(run, ctx.payloads.sizeBytes);
}

function durationMs(ctx: CaseContext): number {
  return ctx.env.options.durationMs;
}

export interface WalrusAppendShape {
  fsync?: WalrusFsync;
  topics: number;
  /** 1 = `append`; more = `batchAppend` of that many entries. */
  batchSize: number;
  /** Operations (appends or batches) in flight. */
  window: number;
  /** Retention limits of the open (none: segments stay, nothing consumes them). */
  retention?: { maxBytes: number };
}

export function walrusAppend(ctx: CaseContext, shape: WalrusAppendShape): Promise<Metrics> {
  const options = {
    ...(shape.fsync === undefined ? {} : { fsync: shape.fsync }),
    ...(shape.retention === undefined ? {} : { retention: shape.retention }),
  };
  const topics = benchTopics(shape.topics);
  const batches = makeBatches(ctx.payloads, shape.batchSize);
  return withWalrus(ctx, options, async (wal) => {
    const op =
      shape.batchSize === 1
        ? (i: number) => wal.append(topics[i % topics.length]!, ctx.payloads.at(i))
        : (i: number) => wal.batchAppend(topics[i % topics.length]!, batches[i % batches.length]!);
    const run = await runWindowedLoop(op, {
      window: shape.window,
      entriesPerOp: shape.batchSize,
      durationMs: durationMs(ctx),
    });
    // A retention row that deleted nothing measured nothing of reclaiming: say so beside it.
    if (shape.retention !== undefined && (await wal.stats()).reclaimedSegments === 0)
      ctx.note('retention: no segment was deleted in this repetition (the run wrote less than the limit)');
    return metricsOf(ctx, run);
  });
}

/**
 * `write()` as fast as the producer can issue it, waiting for 'drain' after a false, timed until
 * the closing `flush()` resolved (everything handed to the OS). Latency columns stay empty: no
 * entry has a promise of its own.
 */
export function walrusWrite(ctx: CaseContext, fsync?: WalrusFsync): Promise<Metrics> {
  return withWalrus(ctx, fsync === undefined ? {} : { fsync }, async (wal) => {
    const drained = (): Promise<void> => new Promise((resolve) => wal.once('drain', resolve));
    const startMs = performance.now();
    let written = 0;
    while (performance.now() - startMs < durationMs(ctx)) {
      for (let k = 0; k < 256; k++) {
        if (!wal.write(benchTopic, ctx.payloads.at(written++))) {
          await drained();
          break;
        }
      }
    }
    await wal.flush();
    const seconds = (performance.now() - startMs) / 1000;
    return metricsOf(ctx, { ops: written, entries: written, seconds, histogram: newLatencyHistogram() });
  });
}

/** `writeBytes`: one entry per write, or entries coalesced into writes of about that many bytes. */
export function rawWrite(ctx: CaseContext, writeBytes: 'entry' | number, fdatasync: boolean): Metrics {
  const fd = createLogFile(path.join(ctx.repDir, 'raw.log'));
  try {
    if (writeBytes === 'entry') {
      const op = (i: number): void => {
        fs.writeSync(fd, ctx.payloads.at(i));
        if (fdatasync) fs.fdatasyncSync(fd);
      };
      return metricsOf(ctx, runSyncLoop(op, 1, durationMs(ctx)));
    }
    const chunk = coalesce(ctx.payloads, writeBytes);
    const op = (): void => {
      fs.writeSync(fd, chunk);
      if (fdatasync) fs.fdatasyncSync(fd);
    };
    return metricsOf(ctx, runSyncLoop(op, chunk.length / ctx.payloads.sizeBytes, durationMs(ctx)));
  } finally {
    fs.closeSync(fd);
  }
}

export function sqliteAppend(ctx: CaseContext, synchronous: SqliteSynchronous, batchSize: number): Metrics {
  const log = openSqliteLog(ctx.repDir, synchronous);
  try {
    if (batchSize === 1)
      return metricsOf(
        ctx,
        runSyncLoop((i) => log.insert(benchTopic, ctx.payloads.at(i)), 1, durationMs(ctx)),
      );
    const batches = makeBatches(ctx.payloads, batchSize);
    return metricsOf(
      ctx,
      runSyncLoop((i) => log.insertMany(benchTopic, batches[i % batches.length]!), batchSize, durationMs(ctx)),
    );
  } finally {
    log.close();
  }
}

export async function lmdbAppend(
  ctx: CaseContext,
  overlappingSync: boolean,
  batchSize: number,
  window: number,
): Promise<Metrics> {
  const db = await openLmdbLog(ctx.repDir, { overlappingSync });
  try {
    const batches = makeBatches(ctx.payloads, batchSize);
    const op =
      batchSize === 1
        ? (i: number) => db.put(i, ctx.payloads.at(i))
        : (i: number) => lmdbPutBatch(db, i * batchSize, batches[i % batches.length]!);
    return metricsOf(ctx, await runWindowedLoop(op, { window, entriesPerOp: batchSize, durationMs: durationMs(ctx) }));
  } finally {
    await db.close();
  }
}

export async function levelAppend(
  ctx: CaseContext,
  sync: boolean,
  batchSize: number,
  window: number,
): Promise<Metrics> {
  const db = await openLevelLog(ctx.repDir);
  try {
    const batches = makeBatches(ctx.payloads, batchSize);
    const op =
      batchSize === 1
        ? (i: number) => db.put(levelKey(i), ctx.payloads.at(i), { sync })
        : (i: number) => levelPutBatch(db, i * batchSize, batches[i % batches.length]!, sync);
    return metricsOf(ctx, await runWindowedLoop(op, { window, entriesPerOp: batchSize, durationMs: durationMs(ctx) }));
  } finally {
    await db.close();
  }
}

export async function boomAppend(ctx: CaseContext, sync: boolean): Promise<Metrics> {
  const log = await openBoomLog(ctx.repDir, sync);
  if (sync) {
    const run = runSyncLoop((i) => void log.write(ctx.payloads.at(i)), 1, durationMs(ctx));
    await log.end();
    return metricsOf(ctx, run);
  }
  // Asynchronous mode: time until everything written has reached the OS, honouring backpressure.
  const startMs = performance.now();
  let written = 0;
  while (performance.now() - startMs < durationMs(ctx)) {
    for (let k = 0; k < 64; k++) {
      if (!log.write(ctx.payloads.at(written++))) {
        await log.drained();
        break;
      }
    }
  }
  await log.end();
  const seconds = (performance.now() - startMs) / 1000;
  return metricsOf(ctx, { ops: written, entries: written, seconds, histogram: newLatencyHistogram() });
}
