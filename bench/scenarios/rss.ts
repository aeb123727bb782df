/**
 * Peak RSS while ingesting as fast as possible (default 4 GiB), each system in a child process of
 * its own. The ceiling row (1 MiB writeSync) shows what a Node process doing nothing but writing
 * costs; walrus-ts keeps a bounded window of appends in flight, its rings bound the rest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchCase, BenchEnv, CaseContext, Section } from '../bench-case.js';
import { currentRssMiB, peakRssMiB } from '../child/peak-rss.js';
import { runChild } from '../child/run-child.js';
import { runWindowedLoop } from '../drive/windowed-loop.js';
import { bytesPerMiB, type Metrics } from '../metrics.js';
import { formatGiB } from '../report/number-format.js';
import type { SystemId } from '../options.js';
import { coalesce, makePayloads } from '../payloads.js';
import { openBoomLog } from '../systems/sonic-boom.js';
import { benchTopic } from '../systems/walrus.js';
import { loadWalrus } from '../walrus-module.js';

export interface IngestJob {
  kind: 'ingest';
  system: SystemId;
  dir: string;
  sizeBytes: number;
  totalBytes: number;
  window: number;
  writers: number | undefined;
}

type Ingest = (job: IngestJob, entries: number) => Promise<{ run: () => Promise<void>; close: () => Promise<void> }>;

const ingesters: Partial<Record<SystemId, Ingest>> = {
  ceiling: async (job, entries) => {
    const chunk = coalesce(makePayloads(job.sizeBytes), bytesPerMiB);
    const fd = fs.openSync(path.join(job.dir, 'raw.log'), 'w');
    const perChunk = chunk.length / job.sizeBytes;
    return {
      run: async () => {
        for (let done = 0; done < entries; done += perChunk) fs.writeSync(fd, chunk);
      },
      close: async () => fs.closeSync(fd),
    };
  },
  'walrus-ts': async (job, entries) => {
    const walrus = await loadWalrus();
    if (!walrus.ok) throw new Error(walrus.reason);
    const payloads = makePayloads(job.sizeBytes);
    const wal = await walrus.api.open({ dir: job.dir, ...(job.writers === undefined ? {} : { writers: job.writers }) });
    return {
      run: async () => {
        await runWindowedLoop((i) => wal.append(benchTopic, payloads.at(i)), {
          window: job.window,
          entriesPerOp: 1,
          durationMs: Number.POSITIVE_INFINITY,
          maxOps: entries,
        });
      },
      close: () => wal.close(),
    };
  },
  'sonic-boom': async (job, entries) => {
    const payloads = makePayloads(job.sizeBytes);
    const log = await openBoomLog(job.dir, false);
    return {
      run: async () => {
        for (let i = 0; i < entries; i++) if (!log.write(payloads.at(i))) await log.drained();
      },
      close: () => log.end(),
    };
  },
};

/** Runs in the child process. */
export async function ingestJob(job: IngestJob): Promise<Metrics> {
  const ingest = ingesters[job.system];
  if (!ingest) throw new Error(`no ingest job for ${job.system}`);
  const entries = Math.floor(job.totalBytes / job.sizeBytes);
  const session = await ingest(job, entries);
  const baselineRssMiB = currentRssMiB();
  const startMs = performance.now();
  await session.run();
  await session.close();
  const seconds = (performance.now() - startMs) / 1000;
  return { peakRssMiB: peakRssMiB(), baselineRssMiB, seconds, mbPerSec: (entries * job.sizeBytes) / seconds / 1e6 };
}

function ingestIn(ctx: CaseContext, system: SystemId): Promise<Metrics> {
  const { options } = ctx.env;
  const job: IngestJob = {
    kind: 'ingest',
    system,
    dir: ctx.repDir,
    sizeBytes: ctx.payloads.sizeBytes,
    totalBytes: options.ingestBytes,
    window: options.windowOps,
    writers: options.writers,
  };
  return runChild(job);
}

function cases(_sizeBytes: number, env: BenchEnv): BenchCase[] {
  const amount = formatGiB(env.options.ingestBytes);
  return [
    {
      system: 'walrus-ts',
      key: 'walrus.rss',
      ceiling: 'ceiling.rss',
      label: `append ${amount}, ${env.options.windowOps} in flight`,
      durable: 'written to the OS; fsynced within 200 ms',
      run: (ctx) => ingestIn(ctx, 'walrus-ts'),
    },
    {
      system: 'ceiling',
      key: 'ceiling.rss',
      compareTo: 'walrus.rss',
      label: `fs.writeSync ${amount} in 1 MiB buffers`,
      durable: 'no (page cache)',
      run: (ctx) => ingestIn(ctx, 'ceiling'),
    },
    {
      system: 'sonic-boom',
      key: 'sonic.rss',
      compareTo: 'walrus.rss',
      label: `write ${amount}, sync:false, waits for 'drain'`,
      durable: 'no fsync',
      run: (ctx) => ingestIn(ctx, 'sonic-boom'),
    },
  ];
}

export const rssSection: Section = {
  id: 'rss',
  title: 'Peak RSS while ingesting as fast as possible (child process per row)',
  sizes: 'one',
  primary: 'peakRssMiB',
  higherIsBetter: false,
  columns: [
    { title: 'peak RSS MiB', metric: 'peakRssMiB', format: 'decimal' },
    { title: 'RSS before MiB', metric: 'baselineRssMiB', format: 'decimal' },
    { title: 'MB/s', metric: 'mbPerSec', format: 'decimal' },
    { title: 'seconds', metric: 'seconds', format: 'fixed2' },
  ],
  cases,
};
