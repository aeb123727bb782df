/**
 * The main thread's one watcher of the workers' progress. Appends settle in WriterChannel.poll()
 * and other waits (a durable cursor record, a sync target) are conditions over the shared progress
 * cells; rather than one timer or one Atomics wait per pending operation, a single async loop parks
 * on the main doorbell (writers and the flusher ring it after publishing progress), polls every
 * channel, and settles every condition that now holds. It runs only while something is pending.
 */
import { WalError, toWalError } from '../../errors.js';
import { MAIN_DOORBELL, MAIN_WAITING, parkOnDoorbell } from '../shared/progress-cells.js';
import type { WriterChannel } from './writer-channel.js';

/** Upper bound of one park: a missed ring (none is expected) costs at most this much delay. */
const PROGRESS_WAIT_MS = 100;

interface Waiter {
  done: () => boolean;
  resolve: () => void;
  reject: (err: WalError) => void;
}

export class ProgressWatcher {
  readonly #cells: Int32Array;
  readonly #channels: readonly WriterChannel[];
  #waiters: Waiter[] = [];
  #watching = false;

  constructor(cells: Int32Array, channels: readonly WriterChannel[]) {
    this.#cells = cells;
    this.#channels = channels;
  }

  /** Resolves once `done()` returns true; rejects if it throws. */
  waitFor(done: () => boolean): Promise<void> {
    return this.waitCancelable(done).promise;
  }

  /** Like waitFor, and `cancel()` resolves it early (an abort, a timeout) and forgets the condition. */
  waitCancelable(done: () => boolean): { promise: Promise<void>; cancel: () => void } {
    let cancel = (): void => undefined;
    const promise = new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { done, resolve, reject };
      cancel = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      };
      this.#waiters.push(waiter);
      this.watch();
    });
    return { promise, cancel };
  }

  /** Pending operations exist: make sure the loop runs. */
  watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    void this.#loop();
  }

  /** Rejects every pending wait (the WAL failed or closed). */
  rejectAll(err: WalError): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(err);
  }

  async #loop(): Promise<void> {
    try {
      for (;;) {
        const seen = Atomics.load(this.#cells, MAIN_DOORBELL);
        this.#pollAll();
        if (!this.#hasWork()) break;
        await parkOnDoorbell(this.#cells, MAIN_DOORBELL, MAIN_WAITING, seen, PROGRESS_WAIT_MS);
      }
    } finally {
      this.#watching = false;
    }
    // Work added between the last poll and clearing the flag would otherwise wait for nobody.
    if (this.#hasWork()) this.watch();
  }

  #hasWork(): boolean {
    return this.#waiters.length > 0 || this.#channels.some((c) => c.hasPending);
  }

  #pollAll(): void {
    for (const c of this.#channels) c.poll();
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      try {
        if (w.done()) w.resolve();
        else still.push(w);
      } catch (err) {
        w.reject(toWalError(err));
      }
    }
    this.#waiters = still;
  }
}
