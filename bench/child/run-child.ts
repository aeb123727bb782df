/**
 * Memory figures come from a child process of their own: its peak RSS
 * (`process.resourceUsage().maxRSS`) then belongs to that one job, not to the whole bench run.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Metrics } from '../metrics.js';

const childMain = fileURLToPath(new URL('./main.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const stderrTailChars = 2000;

/** Runs `job` in bench/child/main.ts (under tsx), or in `plainScript`, a .mjs run by plain Node. */
export async function runChild(job: object, plainScript?: string): Promise<Metrics> {
  const args = plainScript === undefined ? ['--import', 'tsx', childMain] : [plainScript];
  const child = spawn(process.execPath, [...args, JSON.stringify(job)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-stderrTailChars)));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  });
  if (code !== 0) throw new Error(`child job failed (${signal ?? `exit ${code}`}): ${stderr.trim() || stdout.trim()}`);
  const lastLine = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(lastLine) as Metrics;
}
