/**
 * The steps of `Walrus.open` before any worker exists: lock and load the namespace, scan its
 * segments (on the scan pool), and lay out what the workers start from. A failure at any step
 * gives back what the earlier steps took (the lock, the cursor log's descriptor), so a failed open
 * leaves nothing behind; a raw fs error (ENOTDIR, EACCES from a stat) comes out as a WalError.
 */
import { toWalError } from '../../errors.js';
import type { ResolvedOptions } from '../../options.js';
import { nodeFileIo } from '../../storage/file-io.js';
import { encodeTopic } from '../../storage/limits.js';
import {
  finishRecovery,
  openNamespace,
  type NamespaceRecovery,
  type OpenedNamespace,
} from '../../storage/namespace-opening.js';
import type { RecoveredTopic } from '../../storage/recover.js';
import { CURSOR_LOG_GENERATION, createProgressCells } from '../shared/progress-cells.js';
import { releaseFailedOpen } from './lifecycle.js';
import { scanSegmentsInParallel } from './recovery-scan.js';
import { writerForTopic } from './topic-router.js';

export interface RecoveredNamespace {
  ns: OpenedNamespace;
  recovery: NamespaceRecovery;
  recoveryMs: number;
  /** The shared progress cells, the cursor log's generation already in them. */
  cells: Int32Array;
  /** The recovered topics each writer owns, by writer index. */
  topicsByWriter: RecoveredTopic[][];
}

export async function recoverNamespace(options: ResolvedOptions): Promise<RecoveredNamespace> {
  const started = performance.now();
  let ns: OpenedNamespace;
  try {
    // Summary heads only: the main thread loads a segment's points when a read first needs them.
    const durable = options.fsync !== 'none';
    ns = openNamespace(nodeFileIo, options.namespaceDir, durable, options.key, options.groupAccess, true);
  } catch (err) {
    throw toWalError(err);
  }
  try {
    const recovery = finishRecovery(ns, await scanSegmentsInParallel(ns.segmentsToScan));
    const recoveryMs = performance.now() - started;
    const cells = createProgressCells(options.writers);
    Atomics.store(cells, CURSOR_LOG_GENERATION, ns.cursors.generation);
    const topicsByWriter: RecoveredTopic[][] = Array.from({ length: options.writers }, () => []);
    for (const t of recovery.topics) topicsByWriter[writerForTopic(encodeTopic(t.name), options.writers)]!.push(t);
    return { ns, recovery, recoveryMs, cells, topicsByWriter };
  } catch (err) {
    await releaseFailedOpen(ns, [], null);
    throw toWalError(err);
  }
}
