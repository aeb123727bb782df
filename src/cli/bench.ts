/**
 * `walrus bench`: runs the benchmark exactly as `npm run bench` does (`node --import tsx
 * bench/run.ts`, from the package root, arguments passed through). The benchmark, its TypeScript
 * runner and the peer libraries it compares against are dev dependencies, not part of the published
 * package, so this only works in a source checkout; elsewhere it says so instead of failing obscurely.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { CliFailure, EXIT_FAILURE, EXIT_OK } from './cli-error.js';
import { packageRoot } from './package-root.js';

export const benchUsage = `Usage: walrus bench [--] [benchmark options…]

Runs the walrus-ts benchmark (the same as \`npm run bench\`): walrus-ts next to the raw
fs.writeSync ceiling and the peer libraries, then prints the tables and writes bench/results/.

It needs a source checkout of walrus-ts with its dev dependencies installed (\`npm ci\`): the
benchmark (bench/), tsx and the peers are not part of the published package.

Every argument after \`bench\` goes to the benchmark unchanged (a leading \`--\` is dropped);
\`walrus bench -- --help\` lists the benchmark's own options, e.g. \`walrus bench --quick\`.

Options:
  -h, --help   this text

Exit codes: the benchmark's own (0 ok, 2 bad benchmark option), 1 when it cannot be started.
`;

const SOURCE_CHECKOUT_HINT =
  'the benchmark runs from a source checkout of walrus-ts with its dev dependencies: clone the repository, run `npm ci`, then `npx walrus bench` (or `npm run bench`)';

export async function runBench(args: string[]): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h') {
    process.stdout.write(benchUsage);
    return EXIT_OK;
  }
  const passed = args[0] === '--' ? args.slice(1) : args;
  const root = packageRoot();
  const script = path.join(root, 'bench', 'run.ts');
  if (!fs.existsSync(script)) throw new CliFailure(`${path.join(root, 'bench')} is missing: ${SOURCE_CHECKOUT_HINT}`);
  try {
    createRequire(path.join(root, 'package.json')).resolve('tsx');
  } catch {
    throw new CliFailure(`tsx (a dev dependency) is not installed in ${root}: ${SOURCE_CHECKOUT_HINT}`);
  }
  return runChild(root, ['--import', 'tsx', script, ...passed]);
}

/** Runs the benchmark in the foreground; Ctrl-C reaches it (same process group) and it reports its own exit. */
function runChild(cwd: string, nodeArgs: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { cwd, stdio: 'inherit' });
    // The child gets the terminal's SIGINT too; this process waits for it to finish instead of dying first.
    const ignore = (): void => {};
    process.on('SIGINT', ignore);
    child.once('error', (err) => {
      process.removeListener('SIGINT', ignore);
      reject(new CliFailure(`could not start the benchmark: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      process.removeListener('SIGINT', ignore);
      resolve(code ?? (signal !== null ? EXIT_FAILURE : EXIT_OK));
    });
  });
}
