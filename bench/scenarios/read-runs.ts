/**
 * Read-back: each system is filled with the same entries (not timed), closed, reopened, optionally
 * stripped of its page cache, and then read in append order until done or the time is up.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CaseContext } from '../bench-case.js';
import { runDrainLoop, type DrainRun } from '../drive/drain-loop.js';
import { measureLoopDelay } from '../drive/loop-delay.js';
import { throughputMetrics } from '../drive/throughput.js';
import { bytesPerMiB, type Metrics } from '../metrics.js';
import { dropCaches } from '../page-cache.js';
import { makeBatches, type Payloads } from '../payloads.js';
import { levelKey, openLevelLog, putBatch as levelPutBatch } from '../systems/level.js';
import { openLmdbLog, putBatch as lmdbPutBatch } from '../systems/lmdb.js';
import { coalescedWriteBytes, prefillFile } from '../systems/raw-file.js';
import { openSqliteLog } from '../systems/sqlite.js';
import { benchTopic, openWalrus } from '../systems/walrus.js';
import type { WalrusLog, WalrusReadConsistency } from '../walrus-module.js';

export const prefillBatchEntries = 1000;
const maxReadEntries = 1_000_000;
const readPageEntries = 1000;
const walrusPrefillBatch = 100;
const walrusPrefillBatchesInFlight = 40;

/** Entries prefilled for read-back: `readBytes` worth, at most a million, in whole batches. */
export function readEntryCount(sizeBytes: number, readBytes: number): number {
  const entries = Math.min(maxReadEntries, Math.floor(readBytes / sizeBytes));
  return Math.max(prefillBatchEntries, entries - (entries % prefillBatchEntries));
}

export interface ReadShape {
  cold: boolean;
}

function entryCount(ctx: CaseContext): number {
  return readEntryCount(ctx.payloads.sizeBytes, ctx.env.options.readBytes);
}

/** Calls `put` once per prefill batch of 1000 entries, with the sequence number of its first entry. */
async function prefillBatches(ctx: CaseContext, put: (first: number, batch: Buffer[]) => unknown): Promise<void> {
  const batches = makeBatches(ctx.payloads, prefillBatchEntries);
  for (let b = 0; b < entryCount(ctx) / prefillBatchEntries; b++)
    await put(b * prefillBatchEntries, batches[b % batches.length]!);
}

export function checkSize(payloads: Payloads, data: Uint8Array): void {
  if (data.length !== payloads.sizeBytes)
    throw new Error(`read back ${data.length} bytes, wrote ${payloads.sizeBytes}`);
}

/** A reader that ran dry must have delivered every entry written: a fast wrong answer is no figure. */
function finish(ctx: CaseContext, run: DrainRun): Metrics {
  const written = entryCount(ctx);
  // Coalesced ceiling reads count entries as bytes / entry size: compare whole entries.
  if (run.entries === 0 || (run.exhausted && Math.round(run.entries) !== written))
    throw new Error(`read back ${run.entries} of ${written} entries`);
  return throughputMetrics(run, ctx.payloads.sizeBytes);
}

function maybeDropCaches(shape: ReadShape): void {
  if (shape.cold) dropCaches();
}

async function fillWalrus(ctx: CaseContext): Promise<void> {
  const wal = await openWalrus(ctx, ctx.repDir, { fsync: 'none' });
  try {
    const batches = makeBatches(ctx.payloads, walrusPrefillBatch);
    let pending: Array<Promise<void>> = [];
    for (let b = 0; b < entryCount(ctx) / walrusPrefillBatch; b++) {
      pending.push(wal.batchAppend(benchTopic, batches[b % batches.length]!));
      if (pending.length === walrusPrefillBatchesInFlight) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
  } finally {
    await wal.close();
  }
}

export type WalrusReadCall = 'batchRead' | 'readNext';

export async function walrusRead(
  ctx: CaseContext,
  call: WalrusReadCall,
  readConsistency: WalrusReadConsistency,
  shape: ReadShape,
): Promise<Metrics> {
  await fillWalrus(ctx);
  const wal: WalrusLog = await openWalrus(ctx, ctx.repDir, { readConsistency });
  try {
    maybeDropCaches(shape);
    const read =
      call === 'batchRead'
        ? async () => {
            const batch = await wal.batchRead(benchTopic, { maxBytes: bytesPerMiB });
            for (const entry of batch) checkSize(ctx.payloads, entry.data);
            return batch.length;
          }
        : async () => {
            const entry = await wal.readNext(benchTopic);
            if (entry === null) return 0;
            checkSize(ctx.payloads, entry.data);
            return 1;
          };
    const { result, loopDelay } = await measureLoopDelay(() => runDrainLoop(read, ctx.env.options.durationMs));
    return { ...finish(ctx, result), ...loopDelay };
  } finally {
    await wal.close();
  }
}

export async function rawRead(ctx: CaseContext, shape: ReadShape): Promise<Metrics> {
  const filePath = path.join(ctx.repDir, 'raw.log');
  prefillFile(filePath, ctx.payloads, entryCount(ctx) * ctx.payloads.sizeBytes);
  const fd = fs.openSync(filePath, 'r');
  try {
    maybeDropCaches(shape);
    const chunk = Buffer.allocUnsafe(coalescedWriteBytes);
    const read = (): number => fs.readSync(fd, chunk, 0, chunk.length, null) / ctx.payloads.sizeBytes;
    return finish(ctx, await runDrainLoop(read, ctx.env.options.durationMs));
  } finally {
    fs.closeSync(fd);
  }
}

export async function sqliteRead(ctx: CaseContext, shape: ReadShape): Promise<Metrics> {
  const writer = openSqliteLog(ctx.repDir, 'NORMAL');
  await prefillBatches(ctx, (_first, batch) => writer.insertMany(benchTopic, batch));
  writer.close();
  const log = openSqliteLog(ctx.repDir, 'NORMAL');
  try {
    maybeDropCaches(shape);
    let lastId = 0;
    const read = (): number => {
      const rows = log.readPage(lastId, readPageEntries);
      for (const row of rows) checkSize(ctx.payloads, row.data);
      if (rows.length > 0) lastId = rows[rows.length - 1]!.id;
      return rows.length;
    };
    return finish(ctx, await runDrainLoop(read, ctx.env.options.durationMs));
  } finally {
    log.close();
  }
}

export async function lmdbRead(ctx: CaseContext, shape: ReadShape): Promise<Metrics> {
  const writer = await openLmdbLog(ctx.repDir, { overlappingSync: true });
  await prefillBatches(ctx, (first, batch) => lmdbPutBatch(writer, first, batch));
  await writer.close();
  const db = await openLmdbLog(ctx.repDir, { overlappingSync: true });
  try {
    maybeDropCaches(shape);
    let next = 0;
    const read = (): number => {
      let delivered = 0;
      for (const { value } of db.getRange({ start: next, limit: readPageEntries })) {
        checkSize(ctx.payloads, value);
        delivered++;
      }
      next += delivered;
      return delivered;
    };
    return finish(ctx, await runDrainLoop(read, ctx.env.options.durationMs));
  } finally {
    await db.close();
  }
}

export async function levelRead(ctx: CaseContext, shape: ReadShape): Promise<Metrics> {
  const writer = await openLevelLog(ctx.repDir);
  await prefillBatches(ctx, (first, batch) => levelPutBatch(writer, first, batch, false));
  await writer.close();
  const db = await openLevelLog(ctx.repDir);
  const iterator = db.iterator({ gte: levelKey(0) });
  try {
    maybeDropCaches(shape);
    const read = async (): Promise<number> => {
      const page = await iterator.nextv(readPageEntries);
      for (const [, value] of page) checkSize(ctx.payloads, value);
      return page.length;
    };
    return finish(ctx, await runDrainLoop(read, ctx.env.options.durationMs));
  } finally {
    await iterator.close();
    await db.close();
  }
}

/** Random reads per timed operation of the random-access rows. */
const randomReadsPerOp = 100;

/**
 * A random-access row's timed operation: `randomReadsPerOp` reads, until as many reads as entries
 * were made (then 0: the row ends, as a read-back row does when it ran dry) or the time is up.
 */
function randomReads(ctx: CaseContext, readOne: () => Promise<void> | void): () => Promise<number> {
  const limit = entryCount(ctx);
  let done = 0;
  return async () => {
    if (done >= limit) return 0;
    for (let i = 0; i < randomReadsPerOp; i++) await readOne();
    done += randomReadsPerOp;
    return randomReadsPerOp;
  };
}

/** A seeded stream of entry indexes in [0, n): every system reads the same ones. */
function randomIndexes(n: number): () => number {
  let state = 0x2545f491;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
}

/** `wal.get` of random sequence numbers (issue 16's target: ≥ 100,000/s hot). */
export async function walrusGet(ctx: CaseContext): Promise<Metrics> {
  await fillWalrus(ctx);
  const wal = await openWalrus(ctx, ctx.repDir, {});
  try {
    const next = randomIndexes(entryCount(ctx));
    const read = randomReads(ctx, async () => {
      const entry = await wal.get(benchTopic, next());
      if (entry === null) throw new Error('get found no entry where one was appended');
      checkSize(ctx.payloads, entry.data);
    });
    const { result, loopDelay } = await measureLoopDelay(() => runDrainLoop(read, ctx.env.options.durationMs));
    return { ...throughputMetrics(result, ctx.payloads.sizeBytes), ...loopDelay };
  } finally {
    await wal.close();
  }
}

/** A named consumer's `seek` to random times between the first and last entry's (target ≥ 10,000/s). */
export async function walrusSeekByTime(ctx: CaseContext): Promise<Metrics> {
  await fillWalrus(ctx);
  const wal = await openWalrus(ctx, ctx.repDir, {});
  try {
    const first = (await wal.get(benchTopic, 0))!.timeMs;
    const last = (await wal.get(benchTopic, entryCount(ctx) - 1))!.timeMs;
    const consumer = wal.consumer('bench-seek');
    const next = randomIndexes(1_000_000);
    const read = randomReads(ctx, () =>
      consumer.seek(benchTopic, { timeMs: first + ((last - first) * next()) / 1_000_000 }),
    );
    const { result, loopDelay } = await measureLoopDelay(() => runDrainLoop(read, ctx.env.options.durationMs));
    return { ...throughputMetrics(result, ctx.payloads.sizeBytes), ...loopDelay };
  } finally {
    await wal.close();
  }
}

/** lmdb `get` of random keys: the peer a user would pick for reads by key. */
export async function lmdbGet(ctx: CaseContext): Promise<Metrics> {
  const writer = await openLmdbLog(ctx.repDir, { overlappingSync: true });
  await prefillBatches(ctx, (first, batch) => lmdbPutBatch(writer, first, batch));
  await writer.close();
  const db = await openLmdbLog(ctx.repDir, { overlappingSync: true });
  try {
    const next = randomIndexes(entryCount(ctx));
    const read = randomReads(ctx, () => {
      const value = db.get(next());
      if (value === undefined) throw new Error('lmdb get found no value where one was put');
      checkSize(ctx.payloads, value);
    });
    return throughputMetrics(await runDrainLoop(read, ctx.env.options.durationMs), ctx.payloads.sizeBytes);
  } finally {
    await db.close();
  }
}
