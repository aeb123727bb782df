/**
 * Producers and consumers of the same topics at once, all on the main thread as a Node program
 * runs them: the stages interleave on one event loop, and one snapshot at the end of the timed
 * window says how much was appended, how much consumed, and what was left unread.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CaseContext } from '../bench-case.js';
import {
  pipelineMetrics,
  runPipelineWindow,
  type PipelineCounts,
  type PipelineStop,
  type PipelineWindowOptions,
  type PipelineWindowRun,
} from '../drive/pipeline-window.js';
import { runWindowedLoop } from '../drive/windowed-loop.js';
import { bytesPerMiB, type Metrics } from '../metrics.js';
import { coalesce, makeBatches, type Payloads } from '../payloads.js';
import { openLmdbLog, putBatch, removeBatch } from '../systems/lmdb.js';
import { coalescedWriteBytes } from '../systems/raw-file.js';
import { openSqliteLog } from '../systems/sqlite.js';
import { benchTopic, benchTopics, withWalrus } from '../systems/walrus.js';
import type { WalrusLog, WalrusReadConsistency } from '../walrus-module.js';
import { checkSize } from './read-runs.js';

export type PipelineConsumer = 'batchRead' | 'readNext' | 'subscribe';

export interface WalrusPipelineShape {
  topics: number;
  /** One consumer per topic; none: the append-only row (the same producer, alone). */
  consumer?: PipelineConsumer;
  readConsistency?: WalrusReadConsistency;
  /** The append-only row of the same topics, for consumed ÷ append-only. */
  appendOnlyKey?: string;
  /**
   * Fan-out: this many named consumers each read every topic (none: the default consumer alone);
   * what counts as consumed is the slowest consumer's count.
   */
  fanOut?: number;
}

/** Peers produce and consume in transactions (batches) of this many entries. */
export const queueBatchEntries = 1000;
/** As the write section's lmdb rows: batches of puts (and here of removals) in flight. */
const lmdbBatchesInFlight = 4;
export const batchReadMaxBytes = bytesPerMiB;
/**
 * A consumer that found nothing unread sleeps until the topic's writer writes again. A write that
 * lands between the empty read and the wait wakes it only at the next write (the producer keeps
 * writing), or after this long at worst.
 */
const idleWaitMs = 50;

function durationMs(ctx: CaseContext): number {
  return ctx.env.options.durationMs;
}

type Consume = (
  wal: WalrusLog,
  topic: string,
  payloads: Payloads,
  stop: PipelineStop,
  counts: PipelineCounts,
) => Promise<void>;

function idle(wal: WalrusLog, topic: string, stop: PipelineStop): Promise<void> {
  return wal.waitForWrites(topic, { signal: stop.signal, timeoutMs: idleWaitMs });
}

const consumers: Record<PipelineConsumer, Consume> = {
  async batchRead(wal, topic, payloads, stop, counts) {
    while (!stop.stopped) {
      const batch = await wal.batchRead(topic, { maxBytes: batchReadMaxBytes });
      for (const entry of batch) checkSize(payloads, entry.data);
      counts.consumed += batch.length;
      if (batch.length === 0) await idle(wal, topic, stop);
    }
  },
  async readNext(wal, topic, payloads, stop, counts) {
    while (!stop.stopped) {
      const entry = await wal.readNext(topic);
      if (entry === null) {
        await idle(wal, topic, stop);
        continue;
      }
      checkSize(payloads, entry.data);
      counts.consumed++;
    }
  },
  async subscribe(wal, topic, payloads, stop, counts) {
    // The default batch size (what a user gets); the iteration ends when the window's signal aborts.
    for await (const entry of wal.subscribe(topic, { signal: stop.signal })) {
      checkSize(payloads, entry.data);
      counts.consumed++;
    }
  },
};

/** As the latency section: min(1 s, the run's duration) of warm-up before the timed window. */
const maxWarmupMs = 1000;

function windowOptions(ctx: CaseContext): PipelineWindowOptions {
  return { durationMs: durationMs(ctx), warmupMs: Math.min(maxWarmupMs, durationMs(ctx)) };
}

/** A starved consumer is a result (0/s), but one the reader of the table must not miss. */
function consumedMetrics(ctx: CaseContext, run: PipelineWindowRun): Metrics {
  if (run.appended + run.consumed === 0) ctx.note('a repetition appended and consumed nothing in its timed window');
  else if (run.consumed === 0)
    ctx.note('a repetition consumed nothing in its timed window while entries were appended');
  return pipelineMetrics(run);
}

/**
 * walrus-ts: the write section's producer (`append`, the run's window in flight, topics round-robin)
 * and one consumer per topic, on one open log in its default fsync mode.
 */
export function walrusPipeline(ctx: CaseContext, shape: WalrusPipelineShape): Promise<Metrics> {
  const topics = benchTopics(shape.topics);
  const options = shape.readConsistency === undefined ? {} : { readConsistency: shape.readConsistency };
  return withWalrus(ctx, options, async (wal) => {
    const produced = { settled: 0 };
    const counts: PipelineCounts = { appended: 0, consumed: 0 };
    const append = (i: number): Promise<void> => wal.append(topics[i % topics.length]!, ctx.payloads.at(i));
    const consume = shape.consumer === undefined ? undefined : consumers[shape.consumer];
    // Fan-out: every named consumer reads every topic with counts of its own; the row reports the slowest.
    const fanOut = Array.from({ length: shape.fanOut ?? 0 }, (_, i) => {
      const c = wal.consumer(`fan-out-${i}`);
      // The consumer's reads, the WAL's waits: all a Consume calls.
      const reader = {
        readNext: c.readNext.bind(c),
        batchRead: c.batchRead.bind(c),
        subscribe: c.subscribe.bind(c),
        waitForWrites: wal.waitForWrites.bind(wal),
      } as Partial<WalrusLog> as WalrusLog;
      return { reader, counts: { appended: 0, consumed: 0 } as PipelineCounts };
    });
    const consumed = (): number =>
      fanOut.length === 0 ? counts.consumed : Math.min(...fanOut.map((f) => f.counts.consumed));
    const readers = fanOut.length === 0 ? [{ reader: wal, counts }] : fanOut;
    const run = await runPipelineWindow(
      () => ({ appended: produced.settled, consumed: consumed() }),
      (stop) => [
        runWindowedLoop(append, {
          window: ctx.env.options.windowOps,
          entriesPerOp: 1,
          durationMs: Number.POSITIVE_INFINITY,
          stop: () => stop.stopped,
          progress: produced,
        }),
        ...(consume === undefined
          ? []
          : readers.flatMap((r) => topics.map((topic) => consume(r.reader, topic, ctx.payloads, stop, r.counts)))),
      ],
      windowOptions(ctx),
    );
    if (consume === undefined) {
      if (run.appended === 0) ctx.note('a repetition appended nothing in its timed window');
      return { appendedPerSec: run.appended / run.seconds, ...run.loopDelay };
    }
    const metrics = consumedMetrics(ctx, run);
    const appendOnly =
      shape.appendOnlyKey === undefined
        ? undefined
        : ctx.env.measured(shape.appendOnlyKey, ctx.payloads.sizeBytes)?.appendedPerSec;
    return appendOnly === undefined || !(appendOnly > 0)
      ? metrics
      : { ...metrics, ofAppendOnly: metrics.entriesPerSec! / appendOnly };
  });
}

/** Calls `step` once per event-loop turn until the window ends, as a Node program interleaves tasks. */
async function everyTurn(stop: PipelineStop, step: (turn: number) => void): Promise<void> {
  for (let turn = 0; !stop.stopped; turn++) {
    step(turn);
    await nextTurn();
  }
}

/**
 * The ceiling: one thread appends 1 MiB of entries with `fs.writeSync` and reads the next 1 MiB
 * back with `fs.readSync`, one of each per event-loop turn.
 */
export async function ceilingPipeline(ctx: CaseContext): Promise<Metrics> {
  const fd = fs.openSync(path.join(ctx.repDir, 'raw.log'), 'w+');
  const chunk = coalesce(ctx.payloads, coalescedWriteBytes);
  const readBuffer = Buffer.allocUnsafe(chunk.length);
  const sizeBytes = ctx.payloads.sizeBytes;
  let writtenBytes = 0;
  let readBytes = 0;
  try {
    const run = await runPipelineWindow(
      () => ({ appended: writtenBytes / sizeBytes, consumed: readBytes / sizeBytes }),
      (stop) => [
        everyTurn(stop, () => {
          writtenBytes += fs.writeSync(fd, chunk, 0, chunk.length, writtenBytes);
          readBytes += fs.readSync(fd, readBuffer, 0, readBuffer.length, readBytes);
        }),
      ],
      windowOptions(ctx),
    );
    return consumedMetrics(ctx, run);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * better-sqlite3 as a queue: the producer inserts a transaction of 1000 per turn, the consumer
 * selects the oldest 1000 and deletes them in one transaction per turn (it polls: SQLite has no
 * way to wake it).
 */
export async function sqliteQueue(ctx: CaseContext): Promise<Metrics> {
  const log = openSqliteLog(ctx.repDir, 'NORMAL');
  try {
    const batches = makeBatches(ctx.payloads, queueBatchEntries);
    const counts: PipelineCounts = { appended: 0, consumed: 0 };
    const run = await runPipelineWindow(
      () => ({ ...counts }),
      (stop) => [
        everyTurn(stop, (turn) => {
          log.insertMany(benchTopic, batches[turn % batches.length]!);
          counts.appended += queueBatchEntries;
        }),
        everyTurn(stop, () => {
          const rows = log.take(queueBatchEntries);
          for (const row of rows) checkSize(ctx.payloads, row.data);
          counts.consumed += rows.length;
        }),
      ],
      windowOptions(ctx),
    );
    return consumedMetrics(ctx, run);
  } finally {
    log.close();
  }
}

/**
 * lmdb as a queue: the producer is the write section's (1000 puts per event turn, 4 batches in
 * flight); the consumer takes up to 1000 committed entries per turn with `getRange` and queues
 * their removal (4 batches of removals in flight at most).
 */
export async function lmdbQueue(ctx: CaseContext): Promise<Metrics> {
  const db = await openLmdbLog(ctx.repDir, { overlappingSync: true });
  try {
    const batches = makeBatches(ctx.payloads, queueBatchEntries);
    const produced = { settled: 0 };
    const counts: PipelineCounts = { appended: 0, consumed: 0 };
    const put = (i: number): Promise<unknown> => putBatch(db, i * queueBatchEntries, batches[i % batches.length]!);
    const consume = async (stop: PipelineStop): Promise<void> => {
      let next = 0;
      const removals: Array<Promise<unknown>> = [];
      while (!stop.stopped) {
        if (removals.length >= lmdbBatchesInFlight) await removals.shift();
        const keys: number[] = [];
        for (const { key, value } of db.getRange({ start: next, limit: queueBatchEntries })) {
          checkSize(ctx.payloads, value);
          keys.push(key);
        }
        if (keys.length > 0) {
          next = keys[keys.length - 1]! + 1;
          counts.consumed += keys.length;
          const removal = removeBatch(db, keys);
          // Handled now, rethrown when awaited: a failed removal never goes unhandled.
          removal.catch(() => {});
          removals.push(removal);
        }
        await nextTurn();
      }
      await Promise.all(removals);
    };
    const run = await runPipelineWindow(
      () => ({ appended: produced.settled * queueBatchEntries, consumed: counts.consumed }),
      (stop) => [
        runWindowedLoop(put, {
          window: lmdbBatchesInFlight,
          entriesPerOp: queueBatchEntries,
          durationMs: Number.POSITIVE_INFINITY,
          stop: () => stop.stopped,
          progress: produced,
        }),
        consume(stop),
      ],
      windowOptions(ctx),
    );
    return consumedMetrics(ctx, run);
  } finally {
    await db.close();
  }
}
