/**
 * Every input the coverage-guided fuzzer (npm run fuzz, fuzz/run.ts) ever broke a parser with,
 * replayed through the same target function: fuzz/regressions/<target>/*.bin. A file's name starts
 * with the defect it reproduces (see the .txt beside it for what the fuzzer saw); the parser must now
 * return a result or report the damage as ERR_CORRUPT / ERR_UNSUPPORTED_FORMAT.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FUZZ_TARGETS, disposeFuzzTargets } from '../../fuzz/targets.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const REGRESSIONS = path.join(ROOT, 'fuzz', 'regressions');
/** A hang is replayed in a child process: a synchronous loop would stop this one and its timeouts too. */
const HANG_REPLAY_TIMEOUT_MS = 30_000;

function inputsOf(target: string): string[] {
  const dir = path.join(REGRESSIONS, target);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.bin'))
    .sort();
}

describe('a parser given bytes that once broke it returns a result or reports damage, never another error or a hang', () => {
  afterAll(disposeFuzzTargets);

  it('has regression inputs only for known targets', () => {
    const known = new Set(FUZZ_TARGETS.map((t) => t.name));
    const dirs = fs.existsSync(REGRESSIONS) ? fs.readdirSync(REGRESSIONS) : [];
    expect(dirs.filter((d) => !known.has(d))).toEqual([]);
  });

  for (const target of FUZZ_TARGETS) {
    const inputs = inputsOf(target.name);
    if (inputs.length === 0) continue;
    describe(target.name, () => {
      for (const name of inputs) {
        const file = path.join(REGRESSIONS, target.name, name);
        if (name.includes('--hang-')) {
          it(name, () => {
            const child = spawnSync(process.execPath, ['--import', 'tsx', 'fuzz/replay.ts', target.name, file], {
              cwd: ROOT,
              encoding: 'utf8',
              timeout: HANG_REPLAY_TIMEOUT_MS,
            });
            expect(child.signal, `still running after ${HANG_REPLAY_TIMEOUT_MS} ms`).toBeNull();
            expect(child.status, child.stdout + child.stderr).toBe(0);
          });
        } else {
          it(name, () => {
            target.run(new Uint8Array(fs.readFileSync(file)));
          });
        }
      }
    });
  }
});
