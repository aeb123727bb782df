/**
 * One validator per input that more than one surface takes: the facade (`Walrus`), `subscribe`,
 * the streams, the JetStream subpath, the synchronous `LogStore` and the tests' reference model all
 * accept and refuse the same values because they call these. Top-level (not under src/engine) so
 * src/storage may import it too.
 *
 * Every check throws ERR_INVALID_ARGUMENT with a message naming the input.
 */
import { WalError } from './errors.js';
import { describeArgument } from './storage/limits.js';

/**
 * A read's payload byte budget: a positive safe integer, or Infinity ("no byte bound": the entry
 * count bound still applies). Both the engine and the synchronous LogStore accept Infinity: a
 * budget is only an upper bound the read loop compares against, so "unbounded" is meaningful and
 * harmless, and refusing it in one surface while the other accepts it made one program valid on
 * one and not the other.
 */
export function checkMaxBytes(maxBytes: unknown, name = 'maxBytes'): number {
  if (typeof maxBytes !== 'number' || !(maxBytes >= 1) || (!Number.isSafeInteger(maxBytes) && maxBytes !== Infinity)) {
    throw WalError.invalidArgument(`${name} must be a positive integer (or Infinity), got ${String(maxBytes)}`);
  }
  return maxBytes;
}

/** An options argument: undefined (all defaults) or an object. */
export function checkOptionsObject<T extends object>(options: T | undefined, what = 'options'): T | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw WalError.invalidArgument(`${what} must be an object`);
  return options;
}

/** A `checkpoint` flag: a boolean, true when not given. */
export function checkCheckpoint(checkpoint: unknown): boolean {
  if (checkpoint === undefined) return true;
  if (typeof checkpoint !== 'boolean')
    throw WalError.invalidArgument(`checkpoint must be a boolean, got ${typeof checkpoint}`);
  return checkpoint;
}

/** The `checkpoint` of read options (`{ checkpoint? }`, or undefined): true when not given. */
export function readCheckpointOption(options: unknown): boolean {
  if (options === undefined) return true;
  if (typeof options !== 'object' || options === null) throw WalError.invalidArgument('options must be an object');
  return checkCheckpoint((options as { checkpoint?: unknown }).checkpoint);
}

/**
 * Duck-typed, so a signal from another realm (a vm context, a polyfill, another copy of Node's
 * globals) is accepted too: `instanceof AbortSignal` refused those in some calls and not others.
 */
export function isAbortSignal(value: unknown): value is AbortSignal {
  const s = value as AbortSignal | null;
  return (
    typeof s === 'object' && s !== null && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function'
  );
}

/** An optional `signal` option: undefined or an AbortSignal (from any realm). */
export function checkSignal(signal: unknown, name = 'signal'): AbortSignal | undefined {
  if (signal !== undefined && !isAbortSignal(signal)) throw WalError.invalidArgument(`${name} must be an AbortSignal`);
  return signal;
}

/**
 * The longest delay a Node timer keeps: a longer one (Infinity included) fires after 1 ms, with a
 * warning, which turns a timeout into a hot loop. Every timer option is held to it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Validates a timer option: a number of milliseconds in `minMs` … 2^31 − 1, integral when asked.
 * Refused, not clamped: a caller asking for 30 days (or Infinity for "never") would otherwise get
 * another timeout than asked without knowing; omitting the option is how to wait without one.
 */
export function checkTimerMs(
  value: unknown,
  name: string,
  options: { minMs?: number; integer?: boolean } = {},
): number {
  const { minMs = 0, integer = false } = options;
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < minMs ||
    value > MAX_TIMER_MS ||
    (integer && !Number.isInteger(value))
  ) {
    throw WalError.invalidArgument(
      `${name} must be ${integer ? 'an integer' : 'a number'} of milliseconds from ${minMs} to ${MAX_TIMER_MS}, got ${describeArgument(value)}`,
    );
  }
  return value;
}

/** An optional timeout: undefined (no timeout), or a timer value as `checkTimerMs` allows. */
export function checkTimeoutMs(timeoutMs: unknown, name = 'timeoutMs'): number | undefined {
  return timeoutMs === undefined ? undefined : checkTimerMs(timeoutMs, name);
}
