/**
 * Command-line parsing shared by every command: node:util parseArgs in strict mode (unknown flags
 * and missing values are usage errors, exit 2), plus checks parseArgs does not do itself.
 */
import { UsageError } from './cli-error.js';

/** Flags every command accepts; spread into each command's parseArgs options. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;
export const KEY_OPTION = { key: { type: 'string', short: 'k' } } as const;
export const JSON_OPTION = { json: { type: 'boolean' } } as const;

/** Runs parseArgs; its own errors (ERR_PARSE_ARGS_*) become usage errors with its message. */
export function withUsageErrors<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) throw new UsageError((err as Error).message);
    throw err;
  }
}

/** Checks the positional count: `names` are required in order, `optional` may follow. */
export function takePositionals(
  positionals: string[],
  names: readonly string[],
  optional: readonly string[] = [],
): string[] {
  if (positionals.length < names.length) {
    const missing = names
      .slice(positionals.length)
      .map((n) => `<${n}>`)
      .join(' ');
    throw new UsageError(`missing ${missing}`);
  }
  if (positionals.length > names.length + optional.length) {
    const extra = positionals.slice(names.length + optional.length);
    throw new UsageError(
      `unexpected argument${extra.length > 1 ? 's' : ''}: ${extra.map((a) => JSON.stringify(a)).join(' ')}`,
    );
  }
  for (const [i, value] of positionals.entries()) {
    if (value.length === 0) throw new UsageError(`<${[...names, ...optional][i]}> must not be empty`);
  }
  return positionals;
}

/** One of `allowed`, or a usage error naming the flag and the choices. */
export function parseChoice<const C extends string>(
  value: string | undefined,
  allowed: readonly C[],
  fallback: C,
  flag: string,
): C {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as C;
  throw new UsageError(`${flag} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`);
}

/** A whole number in [min, max] written in decimal, or a usage error. */
export function parseInteger(
  value: string | undefined,
  fallback: number,
  flag: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
  return n;
}
