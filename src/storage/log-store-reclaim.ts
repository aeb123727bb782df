/**
 * The synchronous LogStore's reclaim round (docs/FORMAT.md §9, §19.2; docs/SEMANTICS.md rules 12
 * and D22), in the engine's order (src/engine/main/reclaimer.ts), through the same decision
 * (`planReclaim`, retention.ts):
 *
 * 0. a CURSORS snapshot: every consumer's position in it holds space (rule 12);
 * 1. the round: consumed sealed segments unless `keepConsumed`, and what `maxBytes` / `maxAgeMs`
 *    take, consumed or not; if a limit gives seqs up, the raised firstSeqs are made durable in a
 *    second snapshot **before any unlink**;
 * 2. the partition forgets the segments (runs, descriptors, pending fdatasyncs and summaries);
 * 3. each segment is unlinked, then its summary (and any draft);
 * 4. one directory fsync (none under fsync 'none').
 *
 * A consumer whose position is below a raised firstSeq continues from it: its position is never
 * below its topic's firstSeq (CursorStore.position), so reads, counts and 'earliest' go on from the
 * first retained entry, as they go on past a recorded gap (seq-gaps.ts).
 */
import { WalError } from '../errors.js';
import type { CursorStore } from './cursor-store.js';
import type { FileIo } from './file-io.js';
import type { SegmentSummary } from './recover.js';
import { planReclaim, type RetentionPolicy } from './retention.js';
import { totalSegmentBytes } from './segment-name.js';
import { removeSummaryFiles } from './summary-files.js';

export interface LogStoreReclaim {
  readonly io: FileIo;
  readonly dir: string;
  readonly cursors: CursorStore;
  readonly policy: RetentionPolicy;
  /** The candidates: every segment known (older epochs' and this open's sealed ones, the live one). */
  readonly segments: readonly SegmentSummary[];
  readonly isSealed: (s: SegmentSummary) => boolean;
  /** Step 2: drop the segments from every index and descriptor cache. */
  readonly forget: (paths: string[]) => void;
  /** Step 4, or null under fsync 'none'. */
  readonly fsyncDir: (() => void) | null;
}

/** Runs one round; returns the segments deleted, oldest first. */
export function reclaimSegments(r: LogStoreReclaim): SegmentSummary[] {
  r.cursors.snapshot();
  const { doomed, raised } = planReclaim(r.segments, r.policy, r.cursors, {
    isSealed: r.isSealed,
    segmentBytes: () => totalSegmentBytes(r.io, r.dir),
    maxTimeMs: (s) => s.maxTimeMs,
    nowMs: Date.now(),
  });
  if (doomed.length === 0) return [];
  // FORMAT §19.2 step 1: the seqs a limit gives up are durable before any unlink.
  if (raised.length > 0) r.cursors.snapshot();
  const paths = doomed.map((s) => s.path);
  r.forget(paths);
  for (const segmentPath of paths) {
    try {
      r.io.unlink(segmentPath);
      removeSummaryFiles(r.io, segmentPath);
    } catch (err) {
      throw WalError.fromSystem(err, 'deleting a reclaimed segment', segmentPath);
    }
  }
  r.fsyncDir?.();
  return doomed;
}
