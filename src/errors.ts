/**
 * One error class for everything the library rejects with. `code` is stable and documented in
 * docs/ERRORS.md; messages may change. Errors cross worker boundaries as plain data
 * (`toWire` / `fromWire`) because structured clone and comlink drop custom properties.
 */
export type WalErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_TOO_LARGE'
  | 'ERR_CLOSED'
  | 'ERR_LOCKED'
  | 'ERR_CORRUPT'
  | 'ERR_UNSUPPORTED_FORMAT'
  | 'ERR_DISK_FULL'
  | 'ERR_IO'
  | 'ERR_FSYNC_FAILED'
  | 'ERR_WORKER_FAILED'
  /** A call this build cannot serve on this log (e.g. a seek by time before entries carry their time). */
  | 'ERR_UNSUPPORTED'
  /** walrus-ts/jetstream: a topic mirrored to JetStream had another consumer (its cursor moved under the mirror). */
  | 'ERR_CONFLICT'
  /** walrus-ts/jetstream: replay found a topic's sequence numbers missing from the stream. */
  | 'ERR_SEQUENCE_GAP';

export interface WalErrorDetails {
  topic?: string;
  path?: string;
  offset?: number;
  /** The OS error code (`ENOSPC`, `EIO`, …) when the failure came from a system call. */
  errno?: string;
  syscall?: string;
  limit?: number;
  actual?: number;
  /** walrus-ts/jetstream: the sequence number that was expected next (ERR_SEQUENCE_GAP, ERR_CONFLICT). */
  expectedSeq?: number;
  /** walrus-ts/jetstream: the JetStream stream involved. */
  stream?: string;
}

export interface WalErrorWire {
  readonly walError: true;
  code: WalErrorCode;
  message: string;
  details: WalErrorDetails;
  stack?: string;
}

export class WalError extends Error {
  readonly code: WalErrorCode;
  readonly details: WalErrorDetails;

  constructor(code: WalErrorCode, message: string, details: WalErrorDetails = {}, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'WalError';
    this.code = code;
    this.details = details;
  }

  static invalidArgument(message: string, details?: WalErrorDetails): WalError {
    return new WalError('ERR_INVALID_ARGUMENT', message, details);
  }

  static tooLarge(what: string, actual: number, limit: number, details: WalErrorDetails = {}): WalError {
    return new WalError('ERR_TOO_LARGE', `${what} is ${actual}, the limit is ${limit}`, { ...details, actual, limit });
  }

  static closed(): WalError {
    return new WalError('ERR_CLOSED', 'the WAL is closed');
  }

  static corrupt(message: string, details?: WalErrorDetails): WalError {
    return new WalError('ERR_CORRUPT', message, details);
  }

  /** Maps an fs error to ERR_DISK_FULL / ERR_IO, keeping the OS code and the path. */
  static fromSystem(err: unknown, what: string, path?: string): WalError {
    if (err instanceof WalError) return err;
    const sys = err as NodeJS.ErrnoException;
    const errno = typeof sys?.code === 'string' ? sys.code : undefined;
    const details: WalErrorDetails = { errno, syscall: sys?.syscall, path: path ?? sys?.path };
    const code: WalErrorCode = errno === 'ENOSPC' || errno === 'EDQUOT' ? 'ERR_DISK_FULL' : 'ERR_IO';
    const reason = sys?.message ?? String(err);
    return new WalError(code, `${what} failed: ${reason}`, details, { cause: err });
  }

  toWire(): WalErrorWire {
    return { walError: true, code: this.code, message: this.message, details: this.details, stack: this.stack };
  }

  static fromWire(wire: WalErrorWire): WalError {
    const prefix = `${wire.code}: `;
    const message = wire.message.startsWith(prefix) ? wire.message.slice(prefix.length) : wire.message;
    const err = new WalError(wire.code, message, wire.details);
    if (wire.stack) err.stack = wire.stack;
    return err;
  }

  static isWire(value: unknown): value is WalErrorWire {
    return typeof value === 'object' && value !== null && (value as WalErrorWire).walError === true;
  }
}

/** Converts anything thrown (in any thread) into a WalError without losing the code. */
export function toWalError(err: unknown, fallback: WalErrorCode = 'ERR_IO'): WalError {
  if (err instanceof WalError) return err;
  if (WalError.isWire(err)) return WalError.fromWire(err);
  const sys = err as NodeJS.ErrnoException;
  if (sys && typeof sys.code === 'string' && typeof sys.syscall === 'string')
    return WalError.fromSystem(err, sys.syscall);
  const message = err instanceof Error ? err.message : String(err);
  return new WalError(fallback, message, {}, { cause: err });
}
