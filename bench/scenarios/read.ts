/**
 * Read-back of what was appended, in append order. walrus-ts `batchRead` is the reference row;
 * peers scan their store in pages of 1000 (they have no consumer cursor to persist). Cold rows
 * drop the page cache after opening, where the process may.
 */
import type { BenchCase, BenchEnv, Section } from '../bench-case.js';
import {
  levelRead,
  lmdbGet,
  lmdbRead,
  rawRead,
  sqliteRead,
  walrusGet,
  walrusRead,
  walrusSeekByTime,
  type ReadShape,
} from './read-runs.js';
import { readColumns } from './throughput-columns.js';

export const batchReadKey = 'walrus.batch-read';
const readCeilingKey = 'ceiling.read-1MiB';
const noCursor = 'no cursor';

function casesAt(shape: ReadShape): BenchCase[] {
  const suffix = shape.cold ? '-cold' : '';
  const temperature = shape.cold ? 'cold cache' : 'hot cache';
  const ref = batchReadKey + suffix;
  const peer = { compareTo: ref, durable: noCursor };
  const rows: BenchCase[] = [
    {
      system: 'walrus-ts',
      key: ref,
      ceiling: readCeilingKey + suffix,
      label: `batchRead maxBytes 1 MiB, strictly-at-once, ${temperature}`,
      durable: 'cursor per call',
      run: (ctx) => walrusRead(ctx, 'batchRead', 'strictly-at-once', shape),
    },
    {
      ...peer,
      system: 'ceiling',
      key: readCeilingKey + suffix,
      label: `fs.readSync of 1 MiB chunks, ${temperature}`,
      run: (ctx) => rawRead(ctx, shape),
    },
    {
      ...peer,
      system: 'better-sqlite3',
      key: 'sqlite.read' + suffix,
      label: `SELECT pages of 1000 by rowid, ${temperature}`,
      run: (ctx) => sqliteRead(ctx, shape),
    },
    {
      ...peer,
      system: 'lmdb',
      key: 'lmdb.read' + suffix,
      label: `getRange pages of 1000, ${temperature}`,
      run: (ctx) => lmdbRead(ctx, shape),
    },
    {
      ...peer,
      system: 'classic-level',
      key: 'level.read' + suffix,
      label: `iterator nextv(1000), ${temperature}`,
      run: (ctx) => levelRead(ctx, shape),
    },
  ];
  if (shape.cold) return rows;
  return [
    ...rows.slice(0, 1),
    {
      system: 'walrus-ts',
      key: 'walrus.read-next-at-least-once',
      compareTo: ref,
      ceiling: readCeilingKey,
      label: 'readNext, atLeastOnce persistEvery 1000, hot cache',
      durable: 'cursor every 1000 reads',
      run: (ctx) => walrusRead(ctx, 'readNext', { atLeastOnce: { persistEvery: 1000 } }, shape),
    },
    {
      system: 'walrus-ts',
      key: 'walrus.read-next-strict',
      compareTo: ref,
      ceiling: readCeilingKey,
      label: 'readNext, strictly-at-once, hot cache',
      durable: 'cursor to the OS per read; fsynced within 200 ms',
      run: (ctx) => walrusRead(ctx, 'readNext', 'strictly-at-once', shape),
    },
    ...rows.slice(1),
    {
      system: 'walrus-ts',
      key: walrusGetKey,
      label: 'get(topic, seq) of random seqs, hot cache',
      durable: 'reads, moves no cursor',
      run: (ctx) => walrusGet(ctx),
    },
    {
      system: 'walrus-ts',
      key: walrusSeekKey,
      label: 'consumer.seek(topic, { timeMs }) to random times, hot cache',
      durable: 'cursor per seek',
      run: (ctx) => walrusSeekByTime(ctx),
    },
    {
      system: 'lmdb',
      key: 'lmdb.get-random',
      compareTo: walrusGetKey,
      label: 'get(key) of random keys, hot cache',
      durable: noCursor,
      run: (ctx) => lmdbGet(ctx),
    },
  ];
}

export const walrusGetKey = 'walrus.get-random';
export const walrusSeekKey = 'walrus.seek-time';

function cases(_sizeBytes: number, env: BenchEnv): BenchCase[] {
  const cold = env.options.cold && env.canDropCaches;
  return [...casesAt({ cold: false }), ...(cold ? casesAt({ cold: true }) : [])];
}

export const readSection: Section = {
  id: 'read',
  title: 'Read-back in append order',
  sizes: 'each',
  primary: 'entriesPerSec',
  higherIsBetter: true,
  columns: readColumns,
  cases,
};
