/**
 * The `walrus` command: dispatches to one module per command and turns what they throw into a
 * message on stderr and a documented exit code (docs/CLI.md): 0 ok, 1 damage found or failure,
 * 2 usage error. bin/walrus.mjs only calls main() and sets process.exitCode.
 */
import { WalError } from '../errors.js';
import { benchUsage, runBench } from './bench.js';
import { CliFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './cli-error.js';
import { dumpUsage, runDump } from './dump.js';
import { packageVersion } from './package-root.js';
import { runStats, statsUsage } from './stats.js';
import { runTail, tailUsage } from './tail.js';
import { runVerify, verifyUsage } from './verify.js';

interface Command {
  summary: string;
  usage: string;
  run: (args: string[]) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  stats: { summary: 'topics, entries (appended, consumed, unread), bytes and files', usage: statsUsage, run: runStats },
  verify: {
    summary: 'parallel checksum audit; exit 1 and file + offset of each damaged frame',
    usage: verifyUsage,
    run: runVerify,
  },
  tail: {
    summary: 'the last entries of a topic; --follow prints new ones as they are written',
    usage: tailUsage,
    run: runTail,
  },
  dump: { summary: 'every frame in order: segment, offset, topic, seq, flags, bytes', usage: dumpUsage, run: runDump },
  bench: {
    summary: 'run the benchmark (source checkout with dev dependencies only)',
    usage: benchUsage,
    run: runBench,
  },
};

export const mainUsage = `Usage: walrus <command> [options]

Inspect a walrus-ts write-ahead log directory. Every command except bench is read-only and
takes no lock, so it can look at the data directory of a running service.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)}${c.summary}`)
  .join('\n')}

<dir> is the directory given to Walrus.open as \`dir\`; add --key K when the log was opened with
a namespace key (its data is in <dir>/<sanitized K>).

Options:
  -h, --help      this text (\`walrus <command> --help\` or \`walrus help <command>\`: a command's)
  -v, --version   the walrus-ts version

Exit codes: 0 ok, 1 damage found (verify) or the command failed, 2 usage error.
`;

export async function main(argv: string[]): Promise<number> {
  // `walrus dump … | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_OK);
    throw err;
  });
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(mainUsage);
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h') {
    process.stdout.write(mainUsage);
    return EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return EXIT_OK;
  }
  if (name === 'help') return help(rest);
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    const kind = name.startsWith('-') ? 'option' : 'command';
    process.stderr.write(`walrus: unknown ${kind} ${JSON.stringify(name)}\nRun "walrus --help" for the commands.\n`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    return report(name, err);
  }
}

function help(args: string[]): number {
  const [name] = args;
  if (name === undefined) {
    process.stdout.write(mainUsage);
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(
      `walrus help: unknown command ${JSON.stringify(name)}\nRun "walrus --help" for the commands.\n`,
    );
    return EXIT_USAGE;
  }
  process.stdout.write(command.usage);
  return EXIT_OK;
}

function report(name: string, err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`walrus ${name}: ${err.message}\nRun "walrus ${name} --help" for usage.\n`);
    return EXIT_USAGE;
  }
  if (err instanceof CliFailure || err instanceof WalError) {
    process.stderr.write(`walrus ${name}: ${err.message}\n`);
    return EXIT_FAILURE;
  }
  // Anything else is unexpected: the stack is what a bug report needs.
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`walrus ${name}: ${text}\n`);
  return EXIT_FAILURE;
}
