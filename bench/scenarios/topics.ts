/**
 * Many topics with one entry each (default 100,000): time until everything is written and closed,
 * peak RSS (child process per row), and the files and disk space it leaves. The fs row is the
 * hand-rolled alternative: one file per topic, named by a hash of the topic.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchCase, BenchEnv, CaseContext, Section } from '../bench-case.js';
import { peakRssMiB } from '../child/peak-rss.js';
import { runChild } from '../child/run-child.js';
import { diskUsage } from '../disk-usage.js';
import { runWindowedLoop } from '../drive/windowed-loop.js';
import { bytesPerMiB, type Metrics } from '../metrics.js';
import type { SystemId } from '../options.js';
import { makePayloads, type Payloads } from '../payloads.js';
import { openSqliteLog } from '../systems/sqlite.js';
import { loadWalrus } from '../walrus-module.js';

export interface TopicsJob {
  kind: 'topics';
  system: SystemId;
  dir: string;
  sizeBytes: number;
  topics: number;
  window: number;
  writers: number | undefined;
}

const sqliteTransactionEntries = 1000;

function topicName(index: number): string {
  return `topic-${index}`;
}

type WriteTopics = (job: TopicsJob, payloads: Payloads) => Promise<void>;

const writers: Partial<Record<SystemId, WriteTopics>> = {
  'walrus-ts': async (job, payloads) => {
    const walrus = await loadWalrus();
    if (!walrus.ok) throw new Error(walrus.reason);
    const wal = await walrus.api.open({ dir: job.dir, ...(job.writers === undefined ? {} : { writers: job.writers }) });
    try {
      await runWindowedLoop((i) => wal.append(topicName(i), payloads.at(i)), {
        window: job.window,
        entriesPerOp: 1,
        durationMs: Number.POSITIVE_INFINITY,
        maxOps: job.topics,
      });
    } finally {
      await wal.close();
    }
  },
  'better-sqlite3': async (job, payloads) => {
    const log = openSqliteLog(job.dir, 'NORMAL', true);
    try {
      for (let first = 0; first < job.topics; first += sqliteTransactionEntries) {
        const last = Math.min(job.topics, first + sqliteTransactionEntries);
        log.inTransaction(() => {
          for (let i = first; i < last; i++) log.insert(topicName(i), payloads.at(i));
        });
      }
    } finally {
      log.close();
    }
  },
  fs: async (job, payloads) => {
    for (let i = 0; i < job.topics; i++) {
      const fileName = createHash('sha1').update(topicName(i)).digest('hex');
      fs.appendFileSync(path.join(job.dir, fileName), payloads.at(i));
    }
  },
};

/** Runs in the child process. */
export async function topicsJob(job: TopicsJob): Promise<Metrics> {
  const write = writers[job.system];
  if (!write) throw new Error(`no topics job for ${job.system}`);
  const payloads = makePayloads(job.sizeBytes);
  const startMs = performance.now();
  await write(job, payloads);
  const seconds = (performance.now() - startMs) / 1000;
  const usage = diskUsage(job.dir);
  return {
    topics: job.topics,
    seconds,
    entriesPerSec: job.topics / seconds,
    peakRssMiB: peakRssMiB(),
    files: usage.files,
    diskMiB: usage.allocatedBytes / bytesPerMiB,
  };
}

function topicsIn(ctx: CaseContext, system: SystemId): Promise<Metrics> {
  const { options } = ctx.env;
  const job: TopicsJob = {
    kind: 'topics',
    system,
    dir: ctx.repDir,
    sizeBytes: ctx.payloads.sizeBytes,
    topics: options.topicCount,
    window: options.windowOps,
    writers: options.writers,
  };
  return runChild(job);
}

function cases(_sizeBytes: number, env: BenchEnv): BenchCase[] {
  const n = env.options.topicCount.toLocaleString('en-US');
  return [
    {
      system: 'walrus-ts',
      key: 'walrus.topics',
      label: `append 1 entry to each of ${n} topics, then close`,
      durable: 'all, after close',
      run: (ctx) => topicsIn(ctx, 'walrus-ts'),
    },
    {
      system: 'better-sqlite3',
      key: 'sqlite.topics',
      compareTo: 'walrus.topics',
      label: `${n} topics, topic index, transactions of 1000`,
      durable: 'no (synchronous=NORMAL)',
      run: (ctx) => topicsIn(ctx, 'better-sqlite3'),
    },
    {
      system: 'fs',
      key: 'fs.topics',
      compareTo: 'walrus.topics',
      label: `fs.appendFileSync, one file per topic (${n} files)`,
      durable: 'no fsync',
      run: (ctx) => topicsIn(ctx, 'fs'),
    },
  ];
}

export const topicsSection: Section = {
  id: 'topics',
  title: 'Many topics, one entry each (child process per row)',
  sizes: 'one',
  primary: 'seconds',
  higherIsBetter: false,
  columns: [
    { title: 'topics', metric: 'topics', format: 'count' },
    { title: 'seconds', metric: 'seconds', format: 'fixed2' },
    { title: 'peak RSS MiB', metric: 'peakRssMiB', format: 'decimal' },
    { title: 'files', metric: 'files', format: 'count' },
    { title: 'disk MiB', metric: 'diskMiB', format: 'decimal' },
  ],
  cases,
};
