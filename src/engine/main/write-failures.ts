/**
 * Where a failed `write()` entry goes, since it has no promise to reject (README.md, `write()`;
 * docs/SEMANTICS.md D17): the first failure is held for the next `flush()` (or `close()`) to throw,
 * and every failure is emitted as 'error' on the next tick — so a throwing listener cannot break
 * the settling in progress. With no 'error' listener it becomes a process warning instead of an
 * uncaught exception: never dropped silently, and one failed entry does not end the process.
 */
import type { EventEmitter } from 'node:events';
import type { WalError } from '../../errors.js';
import type { WalrusEvents } from './public-types.js';

export class WriteFailures {
  /** The first failure not yet taken by a flush() or close(). */
  #held: WalError | null = null;
  readonly #emitter: EventEmitter<WalrusEvents>;

  constructor(emitter: EventEmitter<WalrusEvents>) {
    this.#emitter = emitter;
  }

  failed(err: WalError): void {
    this.#held ??= err;
    const emitter = this.#emitter;
    process.nextTick(() => {
      if (emitter.listenerCount('error') > 0) emitter.emit('error', err);
      else
        process.emitWarning(`a write() entry failed and no 'error' listener is attached: ${err.message}`, {
          type: 'WalrusWriteWarning',
          code: err.code,
        });
    });
  }

  /** The held failure, if any; a flush() or close() that reports it (or fails itself) clears it. */
  take(): WalError | null {
    const held = this.#held;
    this.#held = null;
    return held;
  }
}
