import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './temp-dir.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function bench(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run bench (bench/run.ts)', () => {
  it('prints the table, writes JSON, Markdown and SVG, and removes its data directory', () => {
    const out = tempDir();
    const data = tempDir();
    const r = bench([
      '--scenarios',
      'write',
      '--systems',
      'ceiling',
      '--sizes',
      '100',
      '--duration',
      '20ms',
      '--dir',
      data,
      '--out',
      out,
    ]);
    expect(r.stderr).toContain('[1/2] write 100 B');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/write, 100 B entries/);
    expect(r.stdout).toMatch(/fs\.writeSync of 1 MiB coalesced buffers\s+[\d,]+/);
    const files = fs.readdirSync(out).sort();
    expect(files.map((f) => path.extname(f))).toEqual(['.json', '.md', '.svg']);
    const json = JSON.parse(fs.readFileSync(path.join(out, files[0]!), 'utf8')) as {
      results: Array<{ key: string; samples: unknown[] }>;
      machine: { cpus: number };
    };
    expect(json.machine.cpus).toBeGreaterThan(0);
    const ceiling = json.results.find((x) => x.key === 'ceiling.write-1MiB')!;
    expect(ceiling.samples).toHaveLength(3);
    expect(fs.readdirSync(data)).toEqual([]);
  });

  it('rejects bad options with the usage text and exit code 2', () => {
    const r = bench(['--scenarios', 'everything']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown scenario "everything"');
    expect(r.stderr).toContain('Usage: npm run bench');
  });

  it('prints the usage on --help', () => {
    expect(
      execFileSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--help'], {
        cwd: repoRoot,
        encoding: 'utf8',
      }),
    ).toContain('--quick');
  });
});
