/**
 * Waits for "everything submitted before now" to be written, or durable: what sync(), verify()
 * and close() stand on. The targets are the writers' op counters and the cursor log's record
 * count at the call; the flusher is asked for a round once the writers reached theirs.
 */
import type { FsyncMode } from '../../options.js';
import { WalError } from '../../errors.js';
import type { CursorStore } from '../../storage/cursor-store.js';
import {
  CURSOR_DURABLE,
  CURSOR_WRITTEN,
  FLUSHER_DOORBELL,
  FLUSHER_WAITING,
  SYNC_REQUESTS,
  reached,
  ring,
} from '../shared/progress-cells.js';
import type { Lifecycle } from './lifecycle.js';
import type { WriterChannel } from './writer-channel.js';

export interface DurabilityBarrierOptions {
  readonly channels: readonly WriterChannel[];
  readonly cells: Int32Array;
  readonly cursors: CursorStore;
  readonly fsync: FsyncMode;
  readonly lifecycle: Lifecycle;
  readonly waitFor: (done: () => boolean) => Promise<void>;
}

export class DurabilityBarrier {
  readonly args: DurabilityBarrierOptions;

  constructor(args: DurabilityBarrierOptions) {
    this.args = args;
  }

  /** Every append blocked on ring space has been encoded into its ring (or given up). */
  flushBlocked(): Promise<unknown> {
    return Promise.all(this.args.channels.map((c) => c.flushBlocked()));
  }

  /** Every append submitted so far reached its writer and was written to the OS. */
  async writersCaughtUp(): Promise<void> {
    const { channels, waitFor } = this.args;
    await this.flushBlocked();
    const targets = channels.map((c) => c.lastOp);
    await waitFor(() => channels.every((c, i) => reached(c.writtenOps(), targets[i]!)));
  }

  /**
   * Every operation submitted so far (append or write) is written, durable under 'each', and any
   * failure report of it has arrived: what `flush()` waits for. It asks the flusher for nothing:
   * under 'each' the writers ring it, under { intervalMs } written is the promise.
   */
  async submittedSettled(): Promise<void> {
    const { channels, lifecycle, waitFor } = this.args;
    await this.flushBlocked();
    const targets = channels.map((c) => c.lastOp);
    const each = this.args.fsync === 'each';
    await waitFor(() => {
      if (each && lifecycle.fsyncFailed) {
        throw new WalError(
          'ERR_FSYNC_FAILED',
          'an fsync failed: durability cannot be promised; reopen the WAL to recover',
        );
      }
      return channels.every((c, i) => c.settledThrough(targets[i]!));
    });
  }

  /** Everything encoded so far, and every cursor record written so far, is durable (written, under fsync 'none'). */
  async syncEncoded(): Promise<void> {
    const { channels, cells, cursors, lifecycle, waitFor } = this.args;
    const targets = channels.map((c) => c.lastOp);
    const cursorTarget = cursors.recordsWritten;
    Atomics.store(cells, CURSOR_WRITTEN, cursorTarget);
    const none = this.args.fsync === 'none';
    if (!none) {
      // A round covers only what the writers have written when it runs, and under { intervalMs }
      // nothing else asks for the next one before the interval ends: request it once they have.
      await waitFor(() => channels.every((c, i) => reached(c.writtenOps(), targets[i]!)));
      Atomics.add(cells, SYNC_REQUESTS, 1);
      ring(cells, FLUSHER_DOORBELL, FLUSHER_WAITING);
    }
    await waitFor(() => {
      if (!none && lifecycle.fsyncFailed) {
        throw new WalError(
          'ERR_FSYNC_FAILED',
          'an fsync failed: durability cannot be promised; reopen the WAL to recover',
        );
      }
      const ops = channels.every((c, i) => reached(none ? c.writtenOps() : c.durableOps(), targets[i]!));
      return ops && (none || reached(Atomics.load(cells, CURSOR_DURABLE), cursorTarget));
    });
  }
}
