/**
 * Open until usable (open, then a count() of every topic) of a large log (default 2 GiB), written
 * once per size (not timed): after a clean close, after a SIGKILL mid-append, and of an empty log,
 * each in a child process of its own (its peak RSS is the open's). The issue-15 targets compare
 * the first two with the third. The ceiling reads a file of the log's size in 1 MiB chunks and
 * CRC-32s it: what a scan of everything would cost.
 */
import { spawn } from 'node:child_process';
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
const crashWriterScript = fileURLToPath(new URL('../child/crash-writer.mjs', import.meta.url));
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
  // Under an interval, like a service would run: the summaries it leaves are synced ones.
  const wal = await openWalrus(ctx, building, { fsync: { intervalMs: 1000 } });
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

/** The state a SIGKILL mid-append leaves, written by a child killed while it appends (crash-writer.mjs). */
async function preparedCrashDir(ctx: CaseContext): Promise<{ dir: string; unsummarized: string[] }> {
  const dir = path.join(ctx.sectionDir, 'walrus-crash');
  const listPath = `${dir}.unsummarized.json`;
  if (!fs.existsSync(listPath)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const job = {
      entry: walrusDistEntryPath,
      options: walrusOpenOptions(ctx, dir, { fsync: { intervalMs: 1000 } }),
      bytes: ctx.env.options.recoveryBytes,
      topics: recoveryTopics,
      entryBytes: ctx.payloads.sizeBytes,
    };
    await killWhenReached(job);
    // What the kill left without a summary; each repetition's open summarizes them, so the next
    // repetition starts from the same state by removing those again (their segments are untouched).
    const unsummarized = fs
      .readdirSync(dir)
      .filter((n) => segmentFile.test(n) && !fs.existsSync(path.join(dir, n.replace(/\.seg$/, '.sum'))));
    fs.writeFileSync(listPath, JSON.stringify(unsummarized));
  }
  return { dir, unsummarized: JSON.parse(fs.readFileSync(listPath, 'utf8')) as string[] };
}

async function killWhenReached(job: object): Promise<void> {
  const child = spawn(process.execPath, [crashWriterScript, JSON.stringify(job)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('reached')) resolve();
    });
    child.once('close', (code) =>
      reject(new Error(`crash-writer exited (${code}) before the log was written: ${stderr}`)),
    );
  });
  child.kill('SIGKILL');
  await exited;
}

const topicNames = Array.from({ length: recoveryTopics }, (_, t) => `${benchTopic}-${t}`);

/** "Open until usable": Walrus.open and a count() of every topic, in a child of its own (see open-walrus.mjs). */
async function openUntilUsable(ctx: CaseContext, dir: string, cold: boolean): Promise<Metrics> {
  const bytes = diskUsage(dir, (name) => segmentFile.test(name)).lengthBytes;
  if (cold) dropCaches();
  // In a plain Node child (see open-walrus.mjs): under this process's tsx loader every worker
  // thread Walrus.open starts would load its modules through tsx's hooks, which users never pay.
  const m = await runChild(
    { entry: walrusDistEntryPath, options: walrusOpenOptions(ctx, dir), topics: topicNames },
    openWalrusScript,
  );
  if (m.seconds === undefined) throw new Error('the open-walrus child reported no time');
  return { ...scanMetrics(bytes, m.seconds), peakRssMiB: m.peakRssMiB };
}

async function walrusOpen(ctx: CaseContext, state: OpenState, cold: boolean): Promise<Metrics> {
  if (state === 'empty') {
    const dir = path.join(ctx.repDir, 'empty');
    fs.mkdirSync(dir, { recursive: true });
    return { ...(await openUntilUsable(ctx, dir, cold)), logGiB: 0, gbPerSec: 0 };
  }
  if (state === 'clean') return openUntilUsable(ctx, await preparedWalrusDir(ctx), cold);
  const { dir, unsummarized } = await preparedCrashDir(ctx);
  for (const name of unsummarized) fs.rmSync(path.join(dir, name.replace(/\.seg$/, '.sum')), { force: true });
  return openUntilUsable(ctx, dir, cold);
}

async function rawScan(ctx: CaseContext, cold: boolean): Promise<Metrics> {
  const filePath = preparedRawFile(ctx);
  if (cold) dropCaches();
  const scan = scanFiles([filePath]);
  return scanMetrics(scan.bytes, scan.seconds);
}

type OpenState = 'empty' | 'clean' | 'crash';

export const recoveryOpenKey = (state: OpenState, cold = false): string => `walrus.open-${state}${cold ? '-cold' : ''}`;

function casesAt(cold: boolean, amount: string): BenchCase[] {
  const suffix = cold ? '-cold' : '';
  const temperature = cold ? 'cold cache' : 'hot cache';
  const opens: Array<[OpenState, string]> = [
    ['empty', 'an empty log'],
    ['clean', `a ${amount} log (16 topics) after a clean close`],
    ['crash', `a ${amount} log (16 topics) after a SIGKILL mid-append`],
  ];
  return [
    ...opens.map(([state, what]): BenchCase => ({
      system: 'walrus-ts',
      key: recoveryOpenKey(state, cold),
      ...(state === 'empty' ? {} : { ceiling: `ceiling.scan-crc${suffix}` }),
      label: `open until usable (open + count of every topic): ${what}, ${temperature}`,
      durable: 'n/a',
      run: (ctx) => walrusOpen(ctx, state, cold),
    })),
    {
      system: 'ceiling',
      key: `ceiling.scan-crc${suffix}`,
      compareTo: recoveryOpenKey('clean', cold),
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
  primary: 'seconds',
  higherIsBetter: false,
  columns: [
    { title: 'log GiB', metric: 'logGiB', format: 'fixed2' },
    { title: 'seconds', metric: 'seconds', format: 'fixed2' },
    { title: 'GB/s', metric: 'gbPerSec', format: 'fixed2' },
    { title: 'peak RSS MiB', metric: 'peakRssMiB', format: 'count' },
  ],
  cases,
};
