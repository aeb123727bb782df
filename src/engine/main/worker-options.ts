/**
 * The Node options a WAL's threads (writer, flusher, scan pool) start with. A Worker inherits the
 * host's `process.execArgv` and re-reads `NODE_OPTIONS`, and much of that is about the host's own
 * entry point, not about threads running this package's compiled .js:
 *   - `--input-type` makes every thread started from a file fail (ERR_INPUT_TYPE_NOT_ALLOWED), so a
 *     host started as `node --input-type=module -e …` or `node --input-type=module < app.mjs` could
 *     not open a WAL; `-e`/`-p`/`-i`/`--test`/`--watch` likewise describe the host's entry point;
 *   - preloads (`-r`/`--require`, `--import`, `--loader`: APM agents, tsx) ran again in every thread;
 *   - the inspector (`--inspect*`) belongs to the host, whose session reaches the threads anyway.
 * So the threads get an allowlist: the options that change how errors, warnings and deprecations are
 * reported and how modules resolve, so the host's diagnostics apply to its WAL's threads too, and
 * the CPU profiler (`--cpu-prof`, its directory and interval: each thread writes its own profile,
 * which is how the writer's and the flusher's time is seen; `--cpu-prof-name` would make them
 * overwrite each other's file, so it stays the host's).
 * Everything else is dropped; per-process and V8 options (heap size, stack-trace limit, `--expose-gc`)
 * act on the whole process already, and a Worker given them explicitly refuses to start.
 */

/** Options kept, by name; those in VALUE_OPTIONS may carry their value in the next argument. */
const KEPT = new Set([
  '--enable-source-maps',
  '--no-warnings',
  '--disable-warning',
  '--trace-warnings',
  '--trace-deprecation',
  '--throw-deprecation',
  '--no-deprecation',
  '--pending-deprecation',
  '--trace-uncaught',
  '--unhandled-rejections',
  '--conditions',
  '-C',
  '--preserve-symlinks',
  '--preserve-symlinks-main',
  '--cpu-prof',
  '--cpu-prof-dir',
  '--cpu-prof-interval',
]);

/** Options whose value may be the next argument (`-r x`, `--eval code`), so that value goes with them. */
const VALUE_OPTIONS = new Set([
  '--disable-warning',
  '--unhandled-rejections',
  '--conditions',
  '-C',
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-e',
  '--eval',
  '-p',
  '--print',
  '--input-type',
  '--env-file',
  '--title',
  '--inspect-port',
  '--debug-port',
  '--watch-path',
  '--cpu-prof-dir',
  '--cpu-prof-interval',
  '--cpu-prof-name',
]);

/** The part of `args` (an execArgv, or NODE_OPTIONS split) a WAL thread starts with. */
export function workerExecArgv(args: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const hasSeparateValue = name === arg && VALUE_OPTIONS.has(name) && i + 1 < args.length;
    if (KEPT.has(name)) {
      kept.push(arg);
      if (hasSeparateValue) kept.push(args[i + 1]!);
    }
    if (hasSeparateValue) i++;
  }
  return kept;
}

/** The environment a WAL thread starts with: the host's, with NODE_OPTIONS filtered as execArgv is. */
export function workerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const copy = { ...env };
  const nodeOptions = copy.NODE_OPTIONS;
  if (nodeOptions === undefined) return copy;
  const kept = workerExecArgv(splitNodeOptions(nodeOptions));
  if (kept.length === 0) delete copy.NODE_OPTIONS;
  else copy.NODE_OPTIONS = kept.map(quoteNodeOption).join(' ');
  return copy;
}

/** What every WAL thread is started with (Worker and piscina options alike). */
export function workerStartOptions(): { execArgv: string[]; env: NodeJS.ProcessEnv } {
  return { execArgv: workerExecArgv(), env: workerEnv() };
}

/** NODE_OPTIONS as Node splits it: on spaces, except inside double quotes, where `\` escapes. */
export function splitNodeOptions(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let started = false;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted && c === '\\' && i + 1 < value.length) {
      current += value[++i];
    } else if (c === '"') {
      quoted = !quoted;
    } else if (c === ' ' && !quoted) {
      if (started) out.push(current);
      current = '';
      started = false;
      continue;
    } else {
      current += c;
    }
    started = true;
  }
  if (started) out.push(current);
  return out;
}

function quoteNodeOption(option: string): string {
  return /[\s"\\]/.test(option) ? `"${option.replace(/[\\"]/g, '\\$&')}"` : option;
}
