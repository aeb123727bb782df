/**
 * Exit codes and the two failures a command can end with. Commands throw these instead of calling
 * process.exit, so main() alone decides the exit code and stdout is flushed before the process ends.
 */

/** Documented in docs/CLI.md: scripts branch on these, so they never change meaning. */
export const EXIT_OK = 0;
/** Damage found (verify), or the command could not do its job (missing directory, I/O error). */
export const EXIT_FAILURE = 1;
/** The command line itself is wrong: unknown command or flag, missing or extra argument. */
export const EXIT_USAGE = 2;

/** A wrong command line: main prints the message and a pointer to `--help`, exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command that ran but failed (no such directory, no such topic): main prints the message, exits 1. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}
