/**
 * npm run fuzz -- [--seconds N] [--target NAME] [--timeout-ms MS] [--seed S] [--out DIR]
 *
 * Runs every fuzz target of fuzz/targets.ts in turn, one worker at a time, for N seconds in total
 * (default 60), split evenly among the targets (--target runs one target for all N). Each target
 * starts from fuzz/corpus/<target>/ and fuzz/regressions/<target>/. An input that breaks the
 * parsers' contract (see targets.ts), runs longer than --timeout-ms (default 2000), leaves more
 * than 512 MiB of ArrayBuffers or kills the worker is a finding: it is written to
 * <out>/<target>/<kind>-<sha1>.bin with the error next to it (.txt), and the run exits 1.
 * Keep each finding as a regression input under fuzz/regressions/<target>/ (the test
 * test/faults/fuzz-regressions.test.ts replays them all) and in fuzz/corpus/<target>/.
 *
 * Fuzzes the BUILT code: run `npm run build` first (npm test does).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { FindingKind, WorkerData, WorkerMessage } from './protocol.js';

const FUZZ_DIR = path.dirname(fileURLToPath(import.meta.url));
const TARGET_NAMES = ['frame', 'segment', 'frame-walker', 'manifest', 'cursors', 'cursor-log', 'summary'];
const SHARED_INPUT_BYTES = 64 * 1024;
const WATCHDOG_INTERVAL_MS = 100;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    target: { type: 'string' },
    'timeout-ms': { type: 'string', default: '2000' },
    seed: { type: 'string', default: String(Date.now() % 0x7fff_ffff) },
    out: { type: 'string', default: path.join(FUZZ_DIR, 'findings') },
  },
});
const totalSeconds = Number(values.seconds);
const timeoutMs = Number(values['timeout-ms']);
if (!(totalSeconds > 0) || !(timeoutMs > 0)) throw new Error('--seconds and --timeout-ms must be positive numbers');
const targets = values.target === undefined ? TARGET_NAMES : [values.target];
for (const t of targets) if (!TARGET_NAMES.includes(t)) throw new Error(`unknown target ${t}`);
if (!fs.existsSync(path.join(FUZZ_DIR, '..', 'dist', 'src', 'storage', 'frame.js')))
  throw new Error('dist/ is missing: run npm run build first');

/**
 * The worker, transpiled to plain JavaScript in a temp dir, its imports of dist/ made absolute. Not
 * loaded through tsx: every script in a thread makes each V8 coverage take slower, and tsx's own
 * made a take (once per input) five times slower.
 */
function buildWorker(): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-fuzz-build-'));
  process.on('exit', () => fs.rmSync(out, { recursive: true, force: true }));
  fs.writeFileSync(path.join(out, 'package.json'), '{ "type": "module" }\n');
  const distUrl = pathToFileURL(path.join(FUZZ_DIR, '..', 'dist')).href;
  for (const name of ['worker.ts', 'targets.ts', 'mutate.ts', 'mem-file-io.ts', 'protocol.ts']) {
    const source = fs.readFileSync(path.join(FUZZ_DIR, name), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: name,
    });
    fs.writeFileSync(path.join(out, name.replace(/\.ts$/, '.js')), outputText.replaceAll("'../dist/", `'${distUrl}/`));
  }
  return path.join(out, 'worker.js');
}
const workerPath = buildWorker();

function readInputs(dir: string): Uint8Array[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.bin'))
    .sort()
    .map((name) => new Uint8Array(fs.readFileSync(path.join(dir, name))));
}

interface Finding {
  kind: FindingKind;
  message: string;
  file: string;
}

interface TargetReport {
  target: string;
  seconds: number;
  execs: number;
  features: number;
  corpus: number;
  restarts: number;
  coverage: Array<{ file: string; blocks: number; covered: number }>;
  findings: Finding[];
}

/** A finding's identity: its kind and message with the numbers taken out, so one defect is saved once. */
function signature(kind: string, message: string): string {
  return `${kind}:${message.split('\n')[0]!.replace(/-?\d+/g, 'N')}`;
}

async function fuzzTarget(target: string, durationMs: number, randomSeed: number): Promise<TargetReport> {
  // Regression inputs are corpus entries too (usually copied there as well: counted once).
  const unique = new Map<string, Uint8Array>();
  for (const input of [
    ...readInputs(path.join(FUZZ_DIR, 'corpus', target)),
    ...readInputs(path.join(FUZZ_DIR, 'regressions', target)),
  ])
    unique.set(Buffer.from(input).toString('base64'), input);
  const corpus = [...unique.values()];
  if (corpus.length === 0) corpus.push(Uint8Array.of(0));
  const report: TargetReport = {
    target,
    seconds: 0,
    execs: 0,
    features: 0,
    corpus: 0,
    restarts: 0,
    coverage: [],
    findings: [],
  };
  const seen = new Set<string>();
  const started = Date.now();
  const deadline = started + durationMs;

  const save = (kind: FindingKind, input: Uint8Array, message: string, stack: string): void => {
    const sig = signature(kind, message);
    if (seen.has(sig)) return;
    seen.add(sig);
    const dir = path.join(values.out!, target);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${kind}-${crypto.createHash('sha1').update(input).digest('hex').slice(0, 16)}.bin`);
    fs.writeFileSync(file, input);
    fs.writeFileSync(file.replace(/\.bin$/, '.txt'), `${kind}: ${message}\n\n${stack}\n`);
    report.findings.push({ kind, message, file: path.relative(process.cwd(), file) });
    console.log(
      `  FINDING ${kind} in ${target}: ${message.split('\n')[0]}\n    saved ${path.relative(process.cwd(), file)}`,
    );
  };

  while (Date.now() < deadline) {
    const shared = new SharedArrayBuffer(16 + SHARED_INPUT_BYTES);
    const slots = new Int32Array(shared, 0, 4);
    const workerData: WorkerData = {
      target,
      corpus,
      durationMs: deadline - Date.now(),
      randomSeed: randomSeed + report.restarts,
      shared,
      maxArrayBufferBytes: 512 * 1024 * 1024,
    };
    const worker = new Worker(workerPath, {
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    const runningInput = (): Uint8Array =>
      new Uint8Array(shared, 16, Math.min(Atomics.load(slots, 2), SHARED_INPUT_BYTES)).slice();
    let lastCount = -1;
    let lastChange = Date.now();
    let done = false;
    let hung = false;
    let ready = false;
    const watchdog = setInterval(() => {
      const count = Atomics.load(slots, 0);
      if (count !== lastCount) {
        lastCount = count;
        lastChange = Date.now();
      } else if (Atomics.load(slots, 1) === 1 && Date.now() - lastChange > timeoutMs) {
        hung = true;
        const input = runningInput();
        save('hang', input, `an input ran longer than ${timeoutMs} ms`, '');
        // The next worker replays the corpus first: without this input, or it would hang there again.
        for (let i = corpus.length - 1; i >= 0; i--)
          if (Buffer.from(corpus[i]!).equals(Buffer.from(input))) corpus.splice(i, 1);
        if (corpus.length === 0) corpus.push(Uint8Array.of(0));
        void worker.terminate();
      }
    }, WATCHDOG_INTERVAL_MS);
    await new Promise<void>((resolve) => {
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'started') ready = true;
        else if (m.type === 'corpus') corpus.push(m.input);
        else if (m.type === 'finding') save(m.kind, m.input, m.message, m.stack);
        else if (m.type === 'progress') {
          report.features = Math.max(report.features, m.features);
        } else if (m.type === 'done') {
          done = true;
          report.execs += m.execs;
          report.features = m.features;
          report.coverage = m.coverage;
        }
      });
      worker.on('error', (err) => {
        if (!ready) throw new Error(`the ${target} fuzz worker failed to start`, { cause: err });
        save('worker-died', runningInput(), err.message, err.stack ?? '');
      });
      worker.on('exit', (code) => {
        if (!done && !hung && code !== 0) save('worker-died', runningInput(), `worker exited with code ${code}`, '');
        resolve();
      });
    });
    clearInterval(watchdog);
    if (done) break;
    report.restarts++;
    // A worker that died took its exec count with it; what it found went to `corpus` as it ran.
    report.execs += Atomics.load(slots, 0);
  }
  report.seconds = (Date.now() - started) / 1000;
  report.corpus = corpus.length;
  return report;
}

const randomSeed = Number(values.seed);
console.log(
  `fuzzing ${targets.join(', ')} for ${totalSeconds} s in total (seed ${randomSeed}, timeout ${timeoutMs} ms per input)`,
);
const reports: TargetReport[] = [];
for (const target of targets) {
  const share = (totalSeconds * 1000) / targets.length;
  console.log(`${target}: ${(share / 1000).toFixed(1)} s`);
  const report = await fuzzTarget(target, share, randomSeed);
  reports.push(report);
  const covered = report.coverage.reduce((s, c) => s + c.covered, 0);
  const blocks = report.coverage.reduce((s, c) => s + c.blocks, 0);
  console.log(
    `  ${report.execs} execs (${Math.round(report.execs / report.seconds)}/s), ${report.features} features, ` +
      `corpus ${report.corpus}, blocks covered ${covered} of ${blocks} seen` +
      (report.restarts > 0 ? `, ${report.restarts} worker restarts` : '') +
      `, ${report.findings.length} findings`,
  );
  for (const c of report.coverage.sort((a, b) => a.file.localeCompare(b.file)))
    if (c.covered > 0) console.log(`    ${c.file}: ${c.covered}/${c.blocks} blocks`);
}
const findings = reports.flatMap((r) => r.findings);
console.log(
  `fuzz: ${reports.reduce((s, r) => s + r.execs, 0)} execs, ${findings.length} findings` +
    (findings.length > 0 ? ` (in ${values.out})` : ''),
);
process.exitCode = findings.length > 0 ? 1 : 0;
