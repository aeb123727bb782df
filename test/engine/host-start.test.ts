/**
 * A WAL opens however its host process was started (issue 12 item 11). Worker threads inherit the
 * host's execArgv and re-read NODE_OPTIONS: `--input-type` made the writer and flusher fail to start,
 * and preloads (`-r`, `--import`, the usual way APM agents and tsx are loaded) ran again in every
 * writer, flusher and scan thread. Each way of starting a host runs in a real child process against
 * the built dist/, writes two segment files and reopens them (so recovery starts the scan pool).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { splitNodeOptions, workerEnv, workerExecArgv } from '../../dist/src/engine/main/worker-options.js';
import { TmpDirs } from '../helpers/tmp-dir.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const INDEX_URL = pathToFileURL(path.join(root, 'dist/src/index.js')).href;
const tmp = new TmpDirs();
afterEach(() => tmp.removeAll());

/**
 * Opens a WAL in $HOST_TEST_DIR, writes three 40 KiB entries into 64 KiB segments (two files),
 * reopens it and reports what it read back. `report` is how the result leaves (console or port).
 */
function walScript(report: string): string {
  return `
const { Walrus } = await import(${JSON.stringify(INDEX_URL)});
const options = { dir: process.env.HOST_TEST_DIR, writers: 1, ringBytes: 65536, segmentBytes: 65536, blockBytes: 4096 };
const wal = await Walrus.open(options);
for (let i = 0; i < 3; i++) await wal.append('t', String(i).repeat(40 * 1024));
await wal.close();
const again = await Walrus.open(options);
const entries = await again.batchRead('t', { maxBytes: 1 << 22 });
const stats = await again.stats();
await again.close();
${report}({ entries: entries.map((e) => e.text()[0]).join(''), segmentFiles: stats.segments.files });
`;
}

/** A preload that notes every thread it runs in, one line each, in $HOST_TEST_PRELOADS. */
const PRELOAD_CJS = `
const { isMainThread, threadId } = require('node:worker_threads');
require('node:fs').appendFileSync(process.env.HOST_TEST_PRELOADS, (isMainThread ? 'main' : 'thread ' + threadId) + '\\n');
`;

interface HostRun {
  status: number | null;
  stdout: string;
  stderr: string;
  preloadRuns: string[];
}

function runHost(
  args: string[],
  options: { input?: string; nodeOptions?: string; files?: Record<string, string> } = {},
): HostRun {
  const work = tmp.make('walrus-host');
  const preloads = path.join(work, 'preloads.txt');
  fs.writeFileSync(path.join(work, 'preload.cjs'), PRELOAD_CJS);
  for (const [name, text] of Object.entries(options.files ?? {})) fs.writeFileSync(path.join(work, name), text);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST_TEST_DIR: path.join(work, 'wal'),
    HOST_TEST_PRELOADS: preloads,
  };
  for (const key of Object.keys(env)) if (key.startsWith('WALRUS_')) delete env[key];
  delete env.NODE_OPTIONS;
  if (options.nodeOptions !== undefined) env.NODE_OPTIONS = options.nodeOptions;
  // The timeout only guards against a hang; nothing is timed.
  const child = spawnSync(process.execPath, args, {
    cwd: work,
    env,
    input: options.input,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const preloadRuns = fs.existsSync(preloads) ? fs.readFileSync(preloads, 'utf8').trim().split('\n') : [];
  return { status: child.status, stdout: child.stdout, stderr: child.stderr, preloadRuns };
}

function expectWalWorked(run: HostRun): void {
  expect(run.stderr).not.toMatch(/ERR_INPUT_TYPE_NOT_ALLOWED|ERR_WORKER/);
  expect(run.status, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toEqual({ entries: '012', segmentFiles: 2 });
}

describe('a WAL opens however its host was started, and the host’s preloads stay in the host', () => {
  const esm = walScript('((r) => console.log(JSON.stringify(r)))');

  it('node --input-type=module -e …', () => {
    expectWalWorked(runHost(['--input-type=module', '-e', esm]));
  });

  it('node --input-type=module < app.mjs', () => {
    expectWalWorked(runHost(['--input-type=module'], { input: esm }));
  });

  it('node --input-type=commonjs -e … (a CommonJS host importing the package)', () => {
    const cjs = `(async () => {\n${esm}\n})().catch((err) => { console.error(err); process.exit(1); });`;
    expectWalWorked(runHost(['--input-type=commonjs', '-e', cjs]));
  });

  it('node -p … (the result printed by the host)', () => {
    const cjs = `(async () => {\n${esm}\n})().catch((err) => { console.error(err); process.exit(1); }), ''`;
    const run = runHost(['-p', cjs]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('{"entries":"012","segmentFiles":2}');
  });

  for (const [label, args, nodeOptions] of [
    ['node -r preload.cjs app.mjs', ['-r', './preload.cjs', 'app.mjs'], undefined],
    ['node --require=./preload.cjs app.mjs', ['--require=./preload.cjs', 'app.mjs'], undefined],
    ['node --import ./preload.cjs app.mjs', ['--import', './preload.cjs', 'app.mjs'], undefined],
    ['NODE_OPTIONS="--require ./preload.cjs" node app.mjs', ['app.mjs'], '--require ./preload.cjs'],
    [
      'NODE_OPTIONS="--enable-source-maps --import ./preload.cjs" node app.mjs',
      ['app.mjs'],
      '--enable-source-maps --import ./preload.cjs',
    ],
  ] as const) {
    it(`${label}: the preload runs once, in the host, not in the WAL's threads`, () => {
      const run = runHost([...args], { nodeOptions, files: { 'app.mjs': esm } });
      expectWalWorked(run);
      expect(run.preloadRuns).toEqual(['main']);
    });
  }

  it('inside a worker thread of a host started with -r: the preload runs in the host and its worker only', () => {
    const host = `
import { Worker } from 'node:worker_threads';
const worker = new Worker(new URL('./user.mjs', import.meta.url));
worker.on('message', (r) => console.log(JSON.stringify(r)));
worker.on('error', (err) => { console.error(err); process.exitCode = 1; });
`;
    const user = `import { parentPort } from 'node:worker_threads';\n${walScript('((r) => parentPort.postMessage(r))')}`;
    const run = runHost(['-r', './preload.cjs', 'host.mjs'], { files: { 'host.mjs': host, 'user.mjs': user } });
    expectWalWorked(run);
    expect(run.preloadRuns).toHaveLength(2);
    expect(run.preloadRuns[0]).toBe('main');
    expect(run.preloadRuns[1]).toMatch(/^thread \d+$/);
  });

  it('inside a worker thread started with --input-type in its own execArgv (eval worker)', () => {
    const host = `
import { Worker } from 'node:worker_threads';
const code = ${JSON.stringify(`const { parentPort } = require('node:worker_threads');\n(async () => {\n${walScript('((r) => parentPort.postMessage(r))')}\n})().catch((err) => { console.error(err); process.exit(1); });`)};
const worker = new Worker(code, { eval: true, execArgv: ['--input-type=commonjs'] });
worker.on('message', (r) => console.log(JSON.stringify(r)));
worker.on('error', (err) => { console.error(err); process.exitCode = 1; });
`;
    expectWalWorked(runHost(['host.mjs'], { files: { 'host.mjs': host } }));
  });
});

describe('what a WAL thread keeps of the host’s Node options', () => {
  it('keeps diagnostics and resolution options, with their values', () => {
    const kept = [
      '--enable-source-maps',
      '--no-warnings',
      '--disable-warning=ExperimentalWarning',
      '--disable-warning',
      'DeprecationWarning',
      '--unhandled-rejections=strict',
      '--trace-warnings',
      '--conditions=development',
      '-C',
      'custom',
      '--preserve-symlinks',
      '--cpu-prof',
      '--cpu-prof-dir=prof',
      '--cpu-prof-interval',
      '200',
    ];
    expect(workerExecArgv(kept)).toEqual(kept);
  });

  it('drops entry points, preloads, loaders, the inspector and per-process options, values included', () => {
    const dropped = [
      '--input-type=module',
      '--input-type',
      'commonjs',
      '-e',
      'code()',
      '--eval=code()',
      '-p',
      '1',
      '--print',
      '1',
      '-r',
      'apm/register',
      '--require=tsx/cjs',
      '--import',
      'tsx',
      '--import=./otel.mjs',
      '--loader',
      'ts-node/esm',
      '--experimental-loader=./l.mjs',
      '--inspect',
      '--inspect=0.0.0.0:9229',
      '--inspect-brk',
      '--inspect-port',
      '9230',
      '--max-old-space-size=4096',
      '--stack-trace-limit=50',
      '--expose-gc',
      '--title',
      'svc',
      '--env-file=.env',
      '--watch',
      '--test',
      '--cpu-prof-name',
      'one-file-for-all.cpuprofile',
    ];
    expect(workerExecArgv([...dropped, '--enable-source-maps'])).toEqual(['--enable-source-maps']);
  });

  it('filters NODE_OPTIONS the same way, quoting kept values that need it', () => {
    expect(splitNodeOptions('--require "a b.cjs"  --conditions "x\\"y" --no-warnings')).toEqual([
      '--require',
      'a b.cjs',
      '--conditions',
      'x"y',
      '--no-warnings',
    ]);
    expect(workerEnv({ NODE_OPTIONS: '--require ./apm.cjs --conditions "a b"', KEEP: '1' })).toEqual({
      NODE_OPTIONS: '--conditions "a b"',
      KEEP: '1',
    });
    expect(workerEnv({ NODE_OPTIONS: '--import tsx --max-old-space-size=100', KEEP: '1' })).toEqual({ KEEP: '1' });
  });
});
