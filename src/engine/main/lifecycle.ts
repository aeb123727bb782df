/**
 * The facade's one lifecycle state machine. Every question "may this call run?", "did the WAL
 * fail, and why?", "is a worker's exit a death or our own close?" is answered from this state.
 *
 *   open ──fail──▶ failed ──┐
 *    │                      ├─close──▶ closing ──▶ stopping-workers ──▶ closed
 *    └──────────close───────┘
 *
 * A failure is kept from the moment it happens (even during close): the first one wins, and
 * `closed` always carries one (ERR_CLOSED when nothing failed before).
 */
import type { Worker } from 'node:worker_threads';
import { WalError } from '../../errors.js';
import type { OpenedNamespace } from '../../storage/namespace-opening.js';
import { FATAL_CODE } from '../shared/progress-cells.js';
import type { StartedWorkers } from './worker-startup.js';

export type LifecycleState =
  | { readonly phase: 'open' }
  | { readonly phase: 'failed'; readonly failure: WalError }
  | { readonly phase: 'closing'; readonly failure: WalError | null }
  /** Workers are being told to stop: their exits are expected, not deaths. */
  | { readonly phase: 'stopping-workers'; readonly failure: WalError | null }
  | { readonly phase: 'closed'; readonly failure: WalError };

export class Lifecycle {
  #state: LifecycleState = { phase: 'open' };
  /** The shared progress cells: the flusher reports a failed fsync there (FATAL_CODE). */
  readonly #cells: Int32Array;

  constructor(cells: Int32Array) {
    this.#cells = cells;
  }

  /** An fsync failed (the flusher said so through the shared cells): durability is gone for good. */
  get fsyncFailed(): boolean {
    return Atomics.load(this.#cells, FATAL_CODE) !== 0;
  }

  get phase(): LifecycleState['phase'] {
    return this.#state.phase;
  }

  /** Why the WAL failed (ERR_CLOSED once closed), or null. */
  get failure(): WalError | null {
    return this.#state.phase === 'open' ? null : this.#state.failure;
  }

  /** Neither closing nor closed (a failed WAL still counts: it has not been closed). */
  get notClosing(): boolean {
    return this.#state.phase === 'open' || this.#state.phase === 'failed';
  }

  /** Throws what a public call must throw when the WAL cannot take it. */
  checkUsable(): void {
    const s = this.#state;
    if (s.phase === 'failed') throw s.failure;
    if (s.phase !== 'open') throw WalError.closed();
    if (this.fsyncFailed) {
      throw new WalError(
        'ERR_FSYNC_FAILED',
        'an fsync failed earlier: the WAL no longer promises durability; reopen it to recover',
      );
    }
  }

  /** Records `err` as the failure; true if it is the first (the caller then tells everyone). */
  fail(err: WalError): boolean {
    const s = this.#state;
    if (s.phase === 'open') this.#state = { phase: 'failed', failure: err };
    else if ((s.phase === 'closing' || s.phase === 'stopping-workers') && s.failure === null)
      this.#state = { phase: s.phase, failure: err };
    else return false;
    return true;
  }

  /** Starts closing; returns the failure the WAL already had (null: drain and persist first). */
  beginClose(): WalError | null {
    const failure = this.failure;
    this.#state = { phase: 'closing', failure };
    return failure;
  }

  /** From here on a worker's exit is the close's doing. */
  stopWorkers(): void {
    this.#state = { phase: 'stopping-workers', failure: this.failure };
  }

  /** A worker exited or errored: does that make the WAL fail? */
  workerDeathCounts(event: 'error' | 'exit'): boolean {
    const phase = this.#state.phase;
    if (phase === 'closed') return false;
    return event === 'error' || phase !== 'stopping-workers';
  }

  /** Closed for good; returns ERR_CLOSED when it becomes the failure (the caller tells everyone). */
  finishClose(): WalError | null {
    const first = this.failure === null ? WalError.closed() : null;
    this.#state = { phase: 'closed', failure: this.failure ?? first! };
    return first;
  }
}

/**
 * Makes a worker's death (an error, or an exit the close did not ask for) fail the WAL: the
 * workers hold the topics' tails and fsync, so nothing can be promised without them. Workers are
 * unref'd: an open WAL alone does not keep the process alive.
 */
export function superviseWorkers(
  workers: ReadonlyArray<readonly [who: string, worker: Worker]>,
  lifecycle: Lifecycle,
  fail: (err: WalError) => void,
): void {
  const onDeath = (who: string, event: 'error' | 'exit') => (reason: unknown) => {
    if (!lifecycle.workerDeathCounts(event)) return;
    const why = reason instanceof Error ? reason.message : `exit code ${String(reason)}`;
    fail(new WalError('ERR_WORKER_FAILED', `${who} worker failed: ${why}; reopen the WAL to recover`));
  };
  for (const [who, w] of workers) {
    w.on('error', onDeath(who, 'error'));
    w.on('exit', onDeath(who, 'exit'));
    w.unref();
  }
}

/**
 * Gives back everything a failed `Walrus.open` took, whichever step failed: the control ports
 * (they would keep the process alive), the workers, the cursor log's descriptor and the lock.
 */
export async function releaseFailedOpen(
  ns: OpenedNamespace,
  workers: readonly Worker[],
  started: StartedWorkers | null,
): Promise<void> {
  if (started) {
    for (const c of started.channels) c.control.release();
    started.flusher.release();
  }
  await Promise.allSettled(workers.map((w) => w.terminate()));
  try {
    ns.close(); // the cursor store, then the lock (released even if closing the log fails)
  } catch {
    // The open already failed with its own error, which is the one to report.
  }
}
