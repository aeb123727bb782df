/**
 * A log's users live here: a producer and consumers of the same topics at once, counted while both
 * run. Each walrus-ts consumer row is read against the append-only row of the same topics (the same
 * producer alone, in the same run) and against the ceiling (one thread writing a file and reading it
 * back); the peers are used as queues, producer and consumer interleaved on the main thread.
 */
import type { BenchCase, BenchEnv, Column, Section } from '../bench-case.js';
import type { WalrusReadConsistency } from '../walrus-module.js';
import { ceilingPipeline, lmdbQueue, sqliteQueue, walrusPipeline, type PipelineConsumer } from './pipeline-runs.js';

export const pipelineHeadlineKey = 'walrus.pipeline-batch-read';
export const pipelineAppendOnlyKey = 'walrus.pipeline-append-only';
export const pipelineCeilingKey = 'ceiling.pipeline';
/** The peers used as queues (the "best peer" of the pipeline targets). */
const sqliteQueueKey = 'sqlite.queue';
const lmdbQueueKey = 'lmdb.queue';
export const pipelineQueueKeys: readonly string[] = [sqliteQueueKey, lmdbQueueKey];
/** The topics of the many-topics rows, one consumer each. */
export const pipelineManyTopics = 16;

export const pipelineColumns: readonly Column[] = [
  { title: 'consumed/s', metric: 'entriesPerSec', format: 'count' },
  { title: 'appended/s', metric: 'appendedPerSec', format: 'count' },
  { title: 'of append-only', metric: 'ofAppendOnly', format: 'percent' },
  { title: 'backlog', metric: 'backlogEntries', format: 'count' },
  { title: 'backlog %', metric: 'backlogShare', format: 'percent' },
  { title: 'loop p99 ms', metric: 'loopP99Ms', format: 'fixed2' },
  { title: 'loop max ms', metric: 'loopMaxMs', format: 'fixed2' },
];

interface ConsumerRow {
  key: string;
  consumer: PipelineConsumer;
  readConsistency?: WalrusReadConsistency;
  label: string;
  durable: string;
}

const consumerRows: readonly ConsumerRow[] = [
  {
    key: 'batch-read',
    consumer: 'batchRead',
    label: 'batchRead maxBytes 1 MiB, strictly-at-once',
    durable: 'cursor per call',
  },
  {
    key: 'read-next-at-least-once',
    consumer: 'readNext',
    readConsistency: { atLeastOnce: { persistEvery: 1000 } },
    label: 'readNext, atLeastOnce persistEvery 1000',
    durable: 'cursor every 1000 reads',
  },
  {
    key: 'read-next-strict',
    consumer: 'readNext',
    readConsistency: 'strictly-at-once',
    label: 'readNext, strictly-at-once',
    durable: 'cursor to the OS per read',
  },
  {
    key: 'subscribe',
    consumer: 'subscribe',
    label: 'subscribe, 64 KiB batches (default), strictly-at-once',
    durable: 'cursor per batch',
  },
];

/** The append-only row, then one row per consumer kind, for one topic count. */
function walrusRows(topics: number, window: number): BenchCase[] {
  const suffix = topics === 1 ? '' : `-${topics}-topics`;
  const where = topics === 1 ? '1 topic' : `${topics} topics, ${topics} consumers`;
  const appendOnlyKey = pipelineAppendOnlyKey + suffix;
  return [
    {
      system: 'walrus-ts',
      key: appendOnlyKey,
      label: `${topics === 1 ? '1 topic' : `${topics} topics round-robin`}: append only, ${window} in flight`,
      durable: 'written to the OS; fsynced within 200 ms',
      run: (ctx) => walrusPipeline(ctx, { topics }),
    },
    ...consumerRows.map((row): BenchCase => ({
      system: 'walrus-ts',
      key: `walrus.pipeline-${row.key}${suffix}`,
      ...(row.key === 'batch-read' && topics === 1 ? {} : { compareTo: pipelineHeadlineKey }),
      ceiling: pipelineCeilingKey,
      label: `${where}: ${row.label}`,
      durable: row.durable,
      run: (ctx) =>
        walrusPipeline(ctx, {
          topics,
          consumer: row.consumer,
          appendOnlyKey,
          ...(row.readConsistency === undefined ? {} : { readConsistency: row.readConsistency }),
        }),
    })),
  ];
}

/** Named consumers of the fan-out row (issue 16: each ≥ 80 % of a lone consumer's rate, in one run). */
export const pipelineFanOutConsumers = 4;
export const pipelineFanOutKey = `walrus.pipeline-fan-out-${pipelineFanOutConsumers}`;

function cases(_sizeBytes: number, env: BenchEnv): BenchCase[] {
  const window = env.options.windowOps;
  const peer = { compareTo: pipelineHeadlineKey };
  return [
    ...walrusRows(1, window),
    {
      system: 'walrus-ts',
      key: pipelineFanOutKey,
      compareTo: pipelineHeadlineKey,
      ceiling: pipelineCeilingKey,
      label: `1 topic: ${pipelineFanOutConsumers} named consumers, each batchRead 1 MiB, strictly-at-once (the slowest)`,
      durable: 'cursor per call, per consumer',
      run: (ctx) =>
        walrusPipeline(ctx, {
          topics: 1,
          consumer: 'batchRead',
          fanOut: pipelineFanOutConsumers,
          appendOnlyKey: pipelineAppendOnlyKey,
        }),
    },
    ...walrusRows(pipelineManyTopics, window),
    {
      ...peer,
      system: 'ceiling',
      key: pipelineCeilingKey,
      label: 'one thread: fs.writeSync 1 MiB + fs.readSync 1 MiB per turn',
      durable: 'no (page cache); no cursor',
      run: (ctx) => ceilingPipeline(ctx),
    },
    {
      ...peer,
      system: 'better-sqlite3',
      key: sqliteQueueKey,
      label: 'queue: INSERT tx of 1000 per turn; SELECT + DELETE tx of 1000 per turn',
      durable: 'no (synchronous=NORMAL); delete per transaction',
      run: (ctx) => sqliteQueue(ctx),
    },
    {
      ...peer,
      system: 'lmdb',
      key: lmdbQueueKey,
      label: 'queue: 1000 puts per turn, 4 in flight; getRange 1000 + remove per turn',
      durable: 'committed; fsync overlapped; remove per batch',
      run: (ctx) => lmdbQueue(ctx),
    },
  ];
}

export const pipelineSection: Section = {
  id: 'pipeline',
  title: 'Producer and consumers at once (consumed while both run)',
  sizes: 'one',
  primary: 'entriesPerSec',
  higherIsBetter: true,
  chartReference: 'appendedPerSec',
  columns: pipelineColumns,
  cases,
};
