/**
 * Appends as fast as a producer can issue them, walrus-ts in its default mode (fsync every 200 ms)
 * next to the raw-write ceiling and the peers a Node user would otherwise pick, none of which is
 * durable per entry here. Every row is compared with walrus-ts `append` on one topic.
 */
import type { BenchCase, BenchEnv, Section } from '../bench-case.js';
import {
  boomAppend,
  lmdbAppend,
  levelAppend,
  rawWrite,
  sqliteAppend,
  walrusAppend,
  walrusWrite,
} from './append-runs.js';
import { throughputColumns } from './throughput-columns.js';
import { coalescedWriteBytes } from '../systems/raw-file.js';

export const writeHeadlineKey = 'walrus.append-1-topic';
export const writeCeilingKey = 'ceiling.write-1MiB';
export const writeCallKey = 'walrus.write-1-topic';
export const writeRetentionKey = 'walrus.append-retention';
/** Small enough that a timed run deletes its oldest segments over and over (64 MiB each by default). */
const retentionMaxBytes = 128 * 1024 * 1024;

const intervalDurable = 'written to the OS; fsynced within 200 ms';
const peerBatchesInFlight = 4;
const levelPutsInFlight = 64;
const walrusBatchEntries = 100;

function cases(_sizeBytes: number, env: BenchEnv): BenchCase[] {
  const window = env.options.windowOps;
  const batchWindow = Math.max(1, Math.round(window / walrusBatchEntries));
  const peer = { compareTo: writeHeadlineKey };
  const walrus = { system: 'walrus-ts', ceiling: writeCeilingKey } as const;
  return [
    {
      ...walrus,
      key: writeHeadlineKey,
      label: `append, 1 topic, ${window} in flight`,
      durable: intervalDurable,
      run: (ctx) => walrusAppend(ctx, { topics: 1, batchSize: 1, window }),
    },
    {
      ...walrus,
      key: writeCallKey,
      label: "write(), 1 topic, waits for 'drain', timed to flush()",
      durable: intervalDurable,
      compareTo: writeHeadlineKey,
      run: (ctx) => walrusWrite(ctx),
    },
    {
      ...walrus,
      key: writeRetentionKey,
      label: `append, 1 topic, ${window} in flight, retention maxBytes 128 MiB (oldest segments deleted while appending)`,
      durable: intervalDurable,
      compareTo: writeHeadlineKey,
      run: (ctx) => walrusAppend(ctx, { topics: 1, batchSize: 1, window, retention: { maxBytes: retentionMaxBytes } }),
    },
    {
      ...walrus,
      key: 'walrus.append-16-topics',
      label: `append, 16 topics round-robin, ${window} in flight`,
      durable: intervalDurable,
      compareTo: writeHeadlineKey,
      run: (ctx) => walrusAppend(ctx, { topics: 16, batchSize: 1, window }),
    },
    {
      ...walrus,
      key: 'walrus.batch-100',
      label: `batchAppend of ${walrusBatchEntries}, ${batchWindow} batches in flight`,
      durable: intervalDurable,
      compareTo: writeHeadlineKey,
      run: (ctx) => walrusAppend(ctx, { topics: 1, batchSize: walrusBatchEntries, window: batchWindow }),
    },
    {
      ...walrus,
      key: 'walrus.append-no-fsync',
      label: `append, fsync 'none', ${window} in flight`,
      durable: 'written to the OS; never fsynced',
      compareTo: writeHeadlineKey,
      run: (ctx) => walrusAppend(ctx, { fsync: 'none', topics: 1, batchSize: 1, window }),
    },
    {
      ...peer,
      system: 'ceiling',
      key: writeCeilingKey,
      label: 'fs.writeSync of 1 MiB coalesced buffers',
      durable: 'no (page cache)',
      run: async (ctx) => rawWrite(ctx, coalescedWriteBytes, false),
    },
    {
      ...peer,
      system: 'ceiling',
      key: 'ceiling.write-entry',
      label: 'fs.writeSync per entry',
      durable: 'no (page cache)',
      run: async (ctx) => rawWrite(ctx, 'entry', false),
    },
    {
      ...peer,
      system: 'better-sqlite3',
      key: 'sqlite.normal-each',
      label: 'WAL, synchronous=NORMAL, INSERT per entry',
      durable: 'no (fsync at checkpoint); survives a process crash',
      run: async (ctx) => sqliteAppend(ctx, 'NORMAL', 1),
    },
    {
      ...peer,
      system: 'better-sqlite3',
      key: 'sqlite.normal-tx1000',
      label: 'WAL, synchronous=NORMAL, transactions of 1000',
      durable: 'no (fsync at checkpoint); survives a process crash',
      run: async (ctx) => sqliteAppend(ctx, 'NORMAL', 1000),
    },
    {
      ...peer,
      system: 'lmdb',
      key: 'lmdb.put',
      label: 'put, awaited one at a time',
      durable: 'committed; fsync overlapped (durable at db.flushed)',
      run: (ctx) => lmdbAppend(ctx, true, 1, 1),
    },
    {
      ...peer,
      system: 'lmdb',
      key: 'lmdb.turn-1000',
      label: `1000 puts per event turn, ${peerBatchesInFlight} turns in flight`,
      durable: 'committed; fsync overlapped (durable at db.flushed)',
      run: (ctx) => lmdbAppend(ctx, true, 1000, peerBatchesInFlight),
    },
    {
      ...peer,
      system: 'classic-level',
      key: 'level.put',
      label: `put sync:false, ${levelPutsInFlight} in flight`,
      durable: 'no (LevelDB log not fsynced)',
      run: (ctx) => levelAppend(ctx, false, 1, levelPutsInFlight),
    },
    {
      ...peer,
      system: 'classic-level',
      key: 'level.batch-1000',
      label: `batch of 1000 sync:false, ${peerBatchesInFlight} in flight`,
      durable: 'no (LevelDB log not fsynced)',
      run: (ctx) => levelAppend(ctx, false, 1000, peerBatchesInFlight),
    },
    {
      ...peer,
      system: 'sonic-boom',
      key: 'sonic.sync',
      label: 'sync:true (a writeSync per entry)',
      durable: 'no fsync',
      run: (ctx) => boomAppend(ctx, true),
    },
    {
      ...peer,
      system: 'sonic-boom',
      key: 'sonic.async',
      label: "sync:false, waits for 'drain'",
      durable: 'no fsync',
      run: (ctx) => boomAppend(ctx, false),
    },
  ];
}

export const writeSection: Section = {
  id: 'write',
  title: 'Appends, as fast as possible',
  sizes: 'each',
  primary: 'entriesPerSec',
  higherIsBetter: true,
  columns: throughputColumns,
  cases,
};
