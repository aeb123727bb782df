/**
 * One fuzzing session of one target, in a worker thread so the runner (fuzz/run.ts) can watch it:
 * before each input the worker publishes it in shared memory and bumps a counter, so a runner that
 * sees the counter stand still past the per-input timeout knows which input hangs, terminates the
 * worker and starts another.
 *
 * Feedback is V8 block coverage (jazzer.js, the libFuzzer binding, cannot be installed here: see
 * fuzz/README.md). After each input the worker takes the precise block counts of the built code
 * (dist/src/), which V8 resets on every take, and turns them into features (block, log2 hit-count
 * bucket) as AFL does; an input that shows a feature never seen is kept in the corpus.
 */
import * as inspector from 'node:inspector';
import { parentPort, workerData } from 'node:worker_threads';
import { mutate } from './mutate.js';
import type { WorkerData, WorkerMessage } from './protocol.js';

const data = workerData as WorkerData;
const port = parentPort!;
const send = (message: WorkerMessage): void => port.postMessage(message);

// Shared slots: [0] inputs started, [1] 1 while an input runs, [2] its length; its bytes after.
const slots = new Int32Array(data.shared, 0, 4);
const current = new Uint8Array(data.shared, 16);

const session = new inspector.Session();
session.connect();
function post<T>(method: string, params?: object): T {
  let result: T | undefined;
  let failure: Error | null = null;
  // A session connected to its own thread answers synchronously.
  session.post(method, params ?? {}, (err, res) => {
    failure = err;
    result = res as T;
  });
  if (failure) throw failure;
  return result!;
}
post('Profiler.enable');
post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });

interface CoverageRange {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  scriptId: string;
  url: string;
  functions: Array<{ ranges: CoverageRange[] }>;
}

// Imported after coverage started, so every function of the target is compiled with block counters.
const { fuzzTarget, disposeFuzzTargets } = await import('./targets.js');
const target = fuzzTarget(data.target);

/** Every block range ever seen, per script and function start: blocks V8 omits inherit the enclosing count. */
const blocksByFunction = new Map<string, Array<[number, number]>>();
const blockKeys = new Set<string>();
const coveredBlocks = new Set<string>();
const features = new Set<string>();

function bucket(count: number): number {
  return count <= 3 ? count : count < 8 ? 4 : count < 16 ? 5 : count < 32 ? 6 : count < 128 ? 7 : 8;
}

/** The features of the input that just ran; counts how many are new (and records them). */
function collectNewFeatures(): number {
  const { result } = post<{ result: ScriptCoverage[] }>('Profiler.takePreciseCoverage');
  let fresh = 0;
  for (const script of result) {
    if (!script.url.includes('/dist/src/')) continue;
    for (const fn of script.functions) {
      const ranges = fn.ranges;
      if (ranges.length === 0 || ranges[0]!.count === 0) continue;
      const fnKey = `${script.scriptId}:${ranges[0]!.startOffset}`;
      let blocks = blocksByFunction.get(fnKey);
      if (blocks === undefined) blocksByFunction.set(fnKey, (blocks = []));
      for (const r of ranges) {
        const key = `${script.url}:${r.startOffset}:${r.endOffset}`;
        if (!blockKeys.has(key)) {
          blockKeys.add(key);
          blocks.push([r.startOffset, r.endOffset]);
        }
      }
      for (const [start, end] of blocks) {
        // Ranges come outermost first, so the last one holding the block gives its count.
        let count = 0;
        for (const r of ranges) if (r.startOffset <= start && end <= r.endOffset) count = r.count;
        if (count === 0) continue;
        const block = `${script.url}:${start}:${end}`;
        coveredBlocks.add(block);
        const feature = `${block}:${bucket(count)}`;
        if (!features.has(feature)) {
          features.add(feature);
          fresh++;
        }
      }
    }
  }
  return fresh;
}

function describe(err: unknown): { message: string; stack: string } {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `\ncaused by: ${err.cause.stack ?? err.cause.message}` : '';
    return { message: err.message, stack: `${err.stack ?? err.message}${cause}` };
  }
  return { message: String(err), stack: String(err) };
}

/** Runs one input under the watchdog; returns whether it added coverage. */
function execute(input: Uint8Array): boolean {
  current.set(input.subarray(0, current.byteLength));
  Atomics.store(slots, 2, input.byteLength);
  Atomics.store(slots, 1, 1);
  Atomics.add(slots, 0, 1);
  try {
    target.run(input);
  } catch (err) {
    const { message, stack } = describe(err);
    send({ type: 'finding', kind: 'crash', input, message, stack });
  } finally {
    Atomics.store(slots, 1, 0);
  }
  const allocatedBytes = process.memoryUsage().arrayBuffers;
  if (allocatedBytes > data.maxArrayBufferBytes) {
    send({
      type: 'finding',
      kind: 'huge-allocation',
      input,
      message: `${allocatedBytes} bytes of ArrayBuffers after this input (limit ${data.maxArrayBufferBytes})`,
      stack: '',
    });
  }
  return collectNewFeatures() > 0;
}

let execs = 0;
const corpus: Uint8Array[] = [];
for (const input of data.corpus) {
  execute(input);
  execs++;
  corpus.push(input);
}
send({ type: 'started', features: features.size });

let random = data.randomSeed >>> 0 || 1;
const rand = (n: number): number => {
  // xorshift32: deterministic per seed, so a session can be replayed.
  random ^= random << 13;
  random ^= random >>> 17;
  random ^= random << 5;
  return (random >>> 0) % n;
};

const deadline = Date.now() + data.durationMs;
let lastReport = Date.now();
while (Date.now() < deadline) {
  const parent = corpus[rand(corpus.length)]!;
  const other = corpus[rand(corpus.length)]!;
  const child = mutate(parent, other, target.maxInputBytes, rand);
  execs++;
  if (execute(child)) {
    corpus.push(child);
    send({ type: 'corpus', input: child });
  }
  if (Date.now() - lastReport > 1000) {
    lastReport = Date.now();
    send({ type: 'progress', execs, features: features.size, corpus: corpus.length });
  }
}

const byFile = new Map<string, { blocks: number; covered: number }>();
for (const key of blockKeys) {
  const file = key.slice(
    key.indexOf('/dist/src/') + '/dist/src/'.length,
    key.lastIndexOf(':', key.lastIndexOf(':') - 1),
  );
  const entry = byFile.get(file) ?? { blocks: 0, covered: 0 };
  entry.blocks++;
  if (coveredBlocks.has(key)) entry.covered++;
  byFile.set(file, entry);
}
send({
  type: 'done',
  execs,
  features: features.size,
  corpus: corpus.length,
  coverage: [...byFile].map(([file, c]) => ({ file, ...c })),
});
post('Profiler.stopPreciseCoverage');
session.disconnect();
disposeFuzzTargets();
