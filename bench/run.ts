/**
 * `npm run bench`: walrus-ts, the physical ceiling and the peers, side by side in one run.
 * Prints the table and the target checks, writes JSON, Markdown and an SVG chart to bench/results/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchOptions, SectionId } from './options.js';
import { OptionsError, parseOptions, usage } from './options.js';
import { bytesPerGiB } from './metrics.js';
import { canDropCaches } from './page-cache.js';
import { renderChart } from './report/chart.js';
import { formatGiB } from './report/number-format.js';
import { describeMachine, machineLine } from './report/machine.js';
import { createProgress } from './report/progress.js';
import { resultStamp, writeResults } from './report/results-file.js';
import { renderAligned, renderMarkdown, tableBlocks } from './report/table.js';
import { checkTargets, renderTargets } from './report/targets.js';
import { createEnv, planCases, runPlan, sizeLabel, type CaseResult } from './runner.js';
import { sectionById } from './sections.js';
import { loadWalrus } from './walrus-module.js';

const fullIngestBytes = 4 * bytesPerGiB;
const fullRecoveryBytes = 2 * bytesPerGiB;
const fullTopicCount = 100_000;

function scaleNotes(options: BenchOptions): string[] {
  const notes: string[] = [];
  const has = (id: SectionId): boolean => options.sections.includes(id);
  if (has('rss') && options.ingestBytes < fullIngestBytes) {
    notes.push(`peak RSS ingests ${formatGiB(options.ingestBytes)} (scaled down from 4 GiB)`);
  }
  if (has('recovery') && options.recoveryBytes < fullRecoveryBytes) {
    notes.push(`recovery opens a ${formatGiB(options.recoveryBytes)} log (scaled down from 2 GiB)`);
  }
  if (has('topics') && options.topicCount < fullTopicCount) {
    notes.push(`many-topics uses ${options.topicCount.toLocaleString('en-US')} topics (scaled down from 100,000)`);
  }
  return notes;
}

function settingsLine(options: BenchOptions): string {
  return [
    `sizes ${options.sizesBytes.map(sizeLabel).join(', ')}`,
    `${options.durationMs} ms × ${options.repeat} repetitions per case (median)`,
    `walrus-ts window ${options.windowOps} appends in flight`,
    options.quick ? 'quick mode' : 'full run',
  ].join('; ');
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    process.stderr.write(`${err.message}\n\n${usage}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(usage);
    return 0;
  }
  const startedAt = new Date();
  const walrus = await loadWalrus();
  const dropCapable = canDropCaches();
  const results: CaseResult[] = [];
  const env = createEnv(options, walrus, dropCapable, results);
  const machine = describeMachine(options.baseDir);
  const header = [
    `walrus-ts benchmark, ${startedAt.toISOString()}`,
    `machine: ${machineLine(machine)}`,
    `settings: ${settingsLine(options)}`,
    ...scaleNotes(options).map((n) => `note: ${n}`),
    ...(walrus.ok ? [] : [`note: ${walrus.reason}: walrus-ts rows are skipped`]),
    ...(options.cold && !dropCapable
      ? ['note: cannot drop the page cache here (needs root on Linux): cold-cache rows are skipped']
      : []),
  ];
  process.stdout.write(`${header.join('\n')}\n\n`);

  const runDir = fs.mkdtempSync(path.join(options.baseDir, 'walrus-bench-'));
  const removeRunDir = (): void => fs.rmSync(runDir, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals): void => {
    removeRunDir();
    process.stderr.write(`\ninterrupted (${signal}); removed ${runDir}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const progress = createProgress();
  try {
    await runPlan(planCases(env), env, runDir, results, progress);
  } finally {
    progress.done();
    removeRunDir();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }

  const sections = options.sections.map(sectionById);
  const blocks = tableBlocks(sections, results);
  const checks = checkTargets(results);
  process.stdout.write(
    `${renderAligned(blocks)}\n\nTargets (1 KiB entries unless stated):\n${renderTargets(checks)}\n\n`,
  );

  const finishedAt = new Date();
  const stamp = resultStamp(startedAt);
  const markdown = [
    `walrus-ts benchmark, ${startedAt.toISOString()}`,
    '',
    `- machine: ${machineLine(machine)}`,
    `- settings: ${settingsLine(options)}`,
    ...header.slice(3).map((line) => `- ${line}`),
    '',
    renderMarkdown(blocks),
    '',
    'Targets (1 KiB entries unless stated):',
    '',
    '```',
    renderTargets(checks),
    '```',
    '',
  ].join('\n');
  const svg = renderChart(
    sections,
    results,
    `${startedAt.toISOString().slice(0, 10)}, ${machine.cpus} CPUs, ${machine.filesystem}`,
  );
  const data = {
    format: 'walrus-ts-bench',
    version: 1,
    startedAt,
    finishedAt,
    machine,
    options,
    walrus: walrus.ok ? 'built' : walrus.reason,
    canDropCaches: dropCapable,
    results,
    targets: checks,
  };
  const files = writeResults(options.outDir, stamp, data, svg, markdown);
  process.stdout.write(`results: ${files.json}\nchart:   ${files.svg}\ntable:   ${files.markdown}\n`);
  const failed = results.filter((r) => r.error);
  if (failed.length > 0) process.stdout.write(`${failed.length} row(s) failed; see the table\n`);
  return failed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
