/**
 * Running the `walrus` command as a user does: `node bin/walrus.mjs …` from the repository root,
 * on the BUILT package (`npm test` builds first).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = path.join(root, 'bin', 'walrus.mjs');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the command and leaves it running (stdin open), for `tail --follow` and signals. */
export function startWalrus(args: string[], binPath = bin): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [binPath, ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs the command to its end with an empty stdin; resolves with its exit code and output. */
export function runWalrus(args: string[], binPath = bin): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = startWalrus(args, binPath);
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
