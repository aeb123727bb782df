/**
 * The runnable examples in examples/ are part of the documentation: each runs here as a child
 * process, as a user would start it (small sizes through its flags), and must exit 0 with the
 * summary it promises. Both import the built package (dist/), which `npm test` builds first.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runExample(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'examples', file), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Temp dirs the examples would create and must remove: `walrus-demo-*` / `walrus-jobs-*` in a private TMPDIR. */
function privateTmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-examples-'));
}

describe('examples/ingest-demo.mjs', () => {
  it('runs an ingestion pipeline with several producers and prints its summary', async () => {
    const tmp = privateTmp();
    try {
      const run = await runExample('ingest-demo.mjs', ['--entries', '900', '--producers', '3', '--topics', '2'], {
        TMPDIR: tmp,
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('3 producers → 2 topics → 2 consumers, 900 entries');
      expect(run.stdout).toMatch(/appended\s+900 entries/);
      expect(run.stdout).toMatch(/consumed\s+900 entries with checkpoints/);
      expect(run.stdout).toMatch(
        /recovery\s+reopened in \d+ ms: .*900 entries ever appended, 0 unread, 0 damaged frames/,
      );
      expect(fs.readdirSync(tmp)).toEqual([]); // its temp data dir is gone
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('keeps the data with --dir, and a second run recovers it', async () => {
    const tmp = privateTmp();
    try {
      const dir = path.join(tmp, 'kept');
      const first = await runExample('ingest-demo.mjs', [
        '--dir',
        dir,
        '--entries',
        '300',
        '--producers',
        '2',
        '--topics',
        '2',
      ]);
      expect(first.code).toBe(0);
      expect(first.stdout).toContain(`data kept in ${dir}`);
      const second = await runExample('ingest-demo.mjs', [
        '--dir',
        dir,
        '--entries',
        '300',
        '--producers',
        '2',
        '--topics',
        '2',
      ]);
      expect(second.code).toBe(0);
      expect(Number(/\(epoch (\d+),/.exec(second.stdout)?.[1])).toBeGreaterThan(1); // not a fresh log
      expect(second.stdout).toMatch(/600 entries ever appended, 0 unread/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('rejects a bad flag value with exit code 2', async () => {
    const run = await runExample('ingest-demo.mjs', ['--entries', 'many']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--entries must be a positive integer');
  });
});

describe('examples/job-queue.mjs', () => {
  it('runs the queue with several at-least-once workers, survives a SIGKILLed worker, and prints its summary', async () => {
    const tmp = privateTmp();
    try {
      const run = await runExample('job-queue.mjs', ['--jobs', '300', '--workers', '3', '--crash-after', '17'], {
        TMPDIR: tmp,
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const out = run.stdout;
      expect(out).toContain('300 jobs, 3 workers, at-least-once consumers (cursor persisted every 10 jobs)');
      expect(out).toMatch(/done\s+300 of 300 jobs in [\d.]+ s \(w1 \d+, w2 \d+, w3 \d+\)/);
      expect(out).toMatch(/results\s+300 recorded, 0 duplicates, 0 jobs left in the queue/);
      expect(out).toMatch(/crashed\s+after 17 of 100 jobs/);
      const redelivered = Number(/redelivered\s+(\d+) jobs already done/.exec(out)?.[1]);
      expect(redelivered).toBeGreaterThanOrEqual(0);
      expect(redelivered).toBeLessThanOrEqual(10);
      expect(out).toMatch(/finished\s+the other 83 jobs: 100 results, 0 duplicates, 0 jobs left in the queue/);
      expect(out.trimEnd().endsWith('job queue: ok')).toBe(true);
      // Every worker got work: the subscriptions share the queue instead of one taking it all.
      for (const m of out.matchAll(/w\d (\d+)/g)) expect(Number(m[1])).toBeGreaterThan(0);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('runs without the crash part and prints --help', async () => {
    const run = await runExample('job-queue.mjs', ['--jobs', '50', '--workers', '2', '--crash-after', '0']);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('part 2');
    expect(run.stdout).toContain('job queue: ok');
    const help = await runExample('job-queue.mjs', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: node examples/job-queue.mjs');
  });
});
