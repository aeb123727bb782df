/**
 * Appends that resolve only once on stable storage. walrus-ts `fsync: 'each'` at concurrency 1, 64
 * and 1024 against the group-commit ceiling (write + fdatasync per entry / 64 KiB / 1 MiB) and the
 * peers in their durable settings. Each peer row is compared with the walrus-ts row of similar
 * concurrency.
 */
import type { BenchCase, Section } from '../bench-case.js';
import { bytesPerMiB } from '../metrics.js';
import { lmdbAppend, levelAppend, rawWrite, sqliteAppend, walrusAppend } from './append-runs.js';
import { throughputColumns } from './throughput-columns.js';

const each1 = 'walrus.each-c1';
const each64 = 'walrus.each-c64';
const each1024 = 'walrus.each-c1024';
const groupCommit64KiB = 64 * 1024;

function walrusEach(concurrency: number, key: string, ceiling: string): BenchCase {
  return {
    system: 'walrus-ts',
    key,
    ceiling,
    label: `append, fsync 'each', ${concurrency} in flight`,
    durable: 'yes, each append',
    run: (ctx) => walrusAppend(ctx, { fsync: 'each', topics: 1, batchSize: 1, window: concurrency }),
  };
}

function cases(): BenchCase[] {
  return [
    walrusEach(1, each1, 'ceiling.fdatasync-entry'),
    walrusEach(64, each64, 'ceiling.fdatasync-64KiB'),
    walrusEach(1024, each1024, 'ceiling.fdatasync-1MiB'),
    {
      system: 'ceiling',
      key: 'ceiling.fdatasync-entry',
      compareTo: each1,
      label: 'write + fdatasync per entry',
      durable: 'yes, each entry',
      run: async (ctx) => rawWrite(ctx, 'entry', true),
    },
    {
      system: 'ceiling',
      key: 'ceiling.fdatasync-64KiB',
      compareTo: each64,
      label: 'write + fdatasync per 64 KiB',
      durable: 'yes, per 64 KiB group',
      run: async (ctx) => rawWrite(ctx, groupCommit64KiB, true),
    },
    {
      system: 'ceiling',
      key: 'ceiling.fdatasync-1MiB',
      compareTo: each1024,
      label: 'write + fdatasync per 1 MiB',
      durable: 'yes, per 1 MiB group',
      run: async (ctx) => rawWrite(ctx, bytesPerMiB, true),
    },
    {
      system: 'better-sqlite3',
      key: 'sqlite.full-each',
      compareTo: each1,
      label: 'WAL, synchronous=FULL, INSERT per entry',
      durable: 'yes, each commit',
      run: async (ctx) => sqliteAppend(ctx, 'FULL', 1),
    },
    {
      system: 'better-sqlite3',
      key: 'sqlite.full-tx1000',
      compareTo: each1024,
      label: 'WAL, synchronous=FULL, transactions of 1000',
      durable: 'yes, each transaction',
      run: async (ctx) => sqliteAppend(ctx, 'FULL', 1000),
    },
    {
      system: 'lmdb',
      key: 'lmdb.sync-put',
      compareTo: each1,
      label: 'put, overlappingSync:false, awaited one at a time',
      durable: 'yes, each transaction',
      run: (ctx) => lmdbAppend(ctx, false, 1, 1),
    },
    {
      system: 'lmdb',
      key: 'lmdb.sync-turn-1000',
      compareTo: each1024,
      label: '1000 puts per event turn, overlappingSync:false, 4 turns in flight',
      durable: 'yes, each transaction',
      run: (ctx) => lmdbAppend(ctx, false, 1000, 4),
    },
    {
      system: 'classic-level',
      key: 'level.sync-put',
      compareTo: each64,
      label: 'put sync:true, 64 in flight',
      durable: 'yes, each put',
      run: (ctx) => levelAppend(ctx, true, 1, 64),
    },
    {
      system: 'classic-level',
      key: 'level.sync-batch-1000',
      compareTo: each1024,
      label: 'batch of 1000 sync:true, 4 in flight',
      durable: 'yes, each batch',
      run: (ctx) => levelAppend(ctx, true, 1000, 4),
    },
  ];
}

export const durableSection: Section = {
  id: 'durable',
  title: 'Durable appends (resolve once on stable storage)',
  sizes: 'each',
  primary: 'entriesPerSec',
  higherIsBetter: true,
  columns: throughputColumns,
  cases,
};
