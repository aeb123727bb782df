/**
 * The order `Walrus.close()` shuts down in (README.md, close): reads in flight finish, queued
 * reclaims and verifies finish, every appended entry is written, the cursors still owed under
 * at-least-once are recorded, all of it made durable, the cursor snapshot rewritten — then the
 * workers are told to stop (their exits from here on are not deaths), released and terminated, the
 * segment descriptors closed, the clean-shutdown record written (docs/FORMAT.md §16) and the lock
 * released. A WAL that had already failed skips straight
 * to stopping: nothing it would write could be trusted. Every step runs even when an earlier one
 * failed; the first error is the close's.
 */
import { toWalError, type WalError } from '../../errors.js';
import { recordCleanShutdown, type OpenedNamespace } from '../../storage/namespace-opening.js';
import type { ConsumerRegistry } from './consumer-registry.js';
import type { DurabilityBarrier } from './durability-barrier.js';
import type { Lifecycle } from './lifecycle.js';
import type { Reclaimer } from './reclaimer.js';
import type { SegmentReads } from './segment-reads.js';
import type { ReadPath } from './topic-reader.js';
import type { TopicTable } from './topic-table.js';
import type { StartedWorkers } from './worker-startup.js';
import type { WriteFailures } from './write-failures.js';

export interface ClosingParts extends StartedWorkers {
  ns: OpenedNamespace;
  lifecycle: Lifecycle;
  reads: ReadPath;
  reclaimer: Reclaimer;
  barrier: DurabilityBarrier;
  topics: TopicTable;
  segments: SegmentReads;
  writeFailures: WriteFailures;
  registry: ConsumerRegistry;
  /** Rejects every promise still pending (appends, waits) with the close's error. */
  rejectEverything: (err: WalError) => void;
}

export async function closeWalrus(p: ClosingParts): Promise<void> {
  const { ns, channels, flusher, flusherWorker, lifecycle, reads, reclaimer, barrier } = p;
  const failedBefore = lifecycle.beginClose();
  reclaimer.stop();
  let firstError: unknown = null;
  const attempt = async (step: () => Promise<unknown>): Promise<void> => {
    try {
      await step();
    } catch (err) {
      firstError ??= err;
    }
  };
  if (!failedBefore) {
    await attempt(() => reads.drain());
    // Every reclaim and verify queued before close finishes first (none starts after it).
    await attempt(() => reclaimer.runSegmentFileJob(() => Promise.resolve()));
    await attempt(() => barrier.flushBlocked());
    // Every consumer's at-least-once positions still owed (each consumer counts its own).
    await attempt(() => p.registry.settled());
    for (const [consumerId, topicIds] of reads.pendingPersists()) {
      const pending = new Set(topicIds);
      for (const t of p.topics.values()) {
        if (!pending.has(t.id)) continue;
        const reader = consumerId === 0 ? t.reader : p.registry.readerIfAny(consumerId, t.id);
        if (reader !== undefined && ns.cursors.isDurable(consumerId))
          ns.cursors.advance(t.id, reader.cursor, true, consumerId);
      }
    }
    await attempt(() => barrier.syncEncoded());
    await attempt(() => reclaimer.persistCursorSnapshot());
  }
  lifecycle.stopWorkers();
  const writersClosed = await Promise.allSettled(channels.map((c) => c.control.call('close')));
  const [flusherClosed] = await Promise.allSettled([flusher.call('close')]);
  for (const c of channels) c.control.release();
  flusher.release();
  await Promise.allSettled([...channels.map((c) => c.worker.terminate()), flusherWorker.terminate()]);
  // The writers sealed their segments and the flusher's last round published their summaries:
  // the clean-shutdown record is the last write, only after a close in which nothing failed.
  const clean =
    !failedBefore &&
    firstError === null &&
    lifecycle.failure === null &&
    writersClosed.every((r) => r.status === 'fulfilled') &&
    flusherClosed!.status === 'fulfilled';
  if (clean) await attempt(() => Promise.resolve(recordCleanShutdown(ns)));
  const closed = lifecycle.finishClose();
  if (closed) p.rejectEverything(closed);
  p.segments.close();
  ns.close();
  // A write() failure no flush() took is the close's to report.
  firstError ??= p.writeFailures.take();
  if (firstError) throw toWalError(firstError);
}
