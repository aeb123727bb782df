/**
 * Open/recovery time of a large log (default 2 GiB): the log is written once per size (not timed),
 * then opened once per repetition; the figure is segment bytes scanned per second. The ceiling
 * reads a file of the same size in 1 MiB chunks and CRC-32s it, which any validating scan must do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchCase, BenchEnv, CaseContext, Section } from '../bench-case.js';
import { diskUsage } from '../disk-usage.js';
import { bytesPerGiB, type Metrics } from '../metrics.js';
import { dropCaches } from '../page-cache.js';
import { makeBatches } from '../payloads.js';
import { prefillFile, scanFiles } from '../systems/raw-file.js';
import { benchTopic, openWalrus, walrusOpenOptions } from '../systems/walrus.js';
import { runChild } from '../child/run-child.js';
import { walrusDistEntryPath } from '../walrus-module.js';
import { formatGiB } from '../report/number-format.js';

const openWalrusScript = fileURLToPath(new URL('../child/open-walrus.mjs', import.meta.url));
const segmentFile = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{8}\.seg$/;
const recoveryTopics = 16;
const batchEntries = 100;
const batchesInFlight = 40;

function scanMetrics(bytes: number, seconds: number): Metrics {
  return { logGiB: bytes / bytesPerGiB, seconds, gbPerSec: bytes / seconds / 1e9 };
}

/** Writes the log once for all repetitions and temperatures at this size. */
async function preparedWalrusDir(ctx: CaseContext): Promise<string> {
  const dir = path.join(ctx.sectionDir, 'walrus');
  if (fs.existsSync(dir)) return dir;
  const building = `${dir}.building`;
  fs.mkdirSync(building, { recursive: true });
  const wal = await openWalrus(ctx, building, { fsync: 'none' });
  try {
    const batches = makeBatches(ctx.payloads, batchEntries);
    const batchBytes = batchEntries * ctx.payloads.sizeBytes;
    let pending: Array<Promise<void>> = [];
    for (let b = 0; b * batchBytes < ctx.env.options.recoveryBytes; b++) {
      pending.push(wal.batchAppend(`${benchTopic}-${b % recoveryTopics}`, batches[b % batches.length]!));
      if (pending.length === batchesInFlight) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
  } finally {
    await wal.close();
  }
  fs.renameSync(building, dir);
  return dir;
}

function preparedRawFile(ctx: CaseContext): string {
  const filePath = path.join(ctx.sectionDir, 'raw.log');
  if (!fs.existsSync(filePath)) prefillFile(filePath, ctx.payloads, ctx.env.options.recoveryBytes);
  return filePath;
}

async function walrusOpen(ctx: CaseContext, cold: boolean): Promise<Metrics> {
  const dir = await preparedWalrusDir(ctx);
  const bytes = diskUsage(dir, (name) => segmentFile.test(name)).lengthBytes;
  if (cold) dropCaches();
  // In a plain Node child (see open-walrus.mjs): under this process's tsx loader every worker
  // thread Walrus.open starts would load its modules through tsx's hooks, which users never pay.
  const { seconds } = await runChild(
    { entry: walrusDistEntryPath, options: walrusOpenOptions(ctx, dir) },
    openWalrusScript,
  );
  if (seconds === undefined) throw new Error('the open-walrus child reported no time');
  return scanMetrics(bytes, seconds);
}

async function rawScan(ctx: CaseContext, cold: boolean): Promise<Metrics> {
  const filePath = preparedRawFile(ctx);
  if (cold) dropCaches();
  const scan = scanFiles([filePath]);
  return scanMetrics(scan.bytes, scan.seconds);
}

function casesAt(cold: boolean, amount: string): BenchCase[] {
  const suffix = cold ? '-cold' : '';
  const temperature = cold ? 'cold cache' : 'hot cache';
  return [
    {
      system: 'walrus-ts',
      key: `walrus.open${suffix}`,
      ceiling: `ceiling.scan-crc${suffix}`,
      label: `Walrus.open of a ${amount} log (16 topics), ${temperature}`,
      durable: 'n/a',
      run: (ctx) => walrusOpen(ctx, cold),
    },
    {
      system: 'ceiling',
      key: `ceiling.scan-crc${suffix}`,
      compareTo: `walrus.open${suffix}`,
      label: `read ${amount} in 1 MiB chunks + CRC-32, ${temperature}`,
      durable: 'n/a',
      run: (ctx) => rawScan(ctx, cold),
    },
  ];
}

function cases(_sizeBytes: number, env: BenchEnv): BenchCase[] {
  const amount = formatGiB(env.options.recoveryBytes);
  const cold = env.options.cold && env.canDropCaches;
  return [...casesAt(false, amount), ...(cold ? casesAt(true, amount) : [])];
}

export const recoverySection: Section = {
  id: 'recovery',
  title: 'Open / recovery of a large log',
  sizes: 'one',
  primary: 'gbPerSec',
  higherIsBetter: true,
  columns: [
    { title: 'log GiB', metric: 'logGiB', format: 'fixed2' },
    { title: 'seconds', metric: 'seconds', format: 'fixed2' },
    { title: 'GB/s', metric: 'gbPerSec', format: 'fixed2' },
  ],
  cases,
};
