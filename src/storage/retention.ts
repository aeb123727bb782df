/**
 * Retention (docs/SEMANTICS.md rule D22, docs/FORMAT.md §19.2): which sealed segments a reclaim round deletes.
 *
 * - no limit: a sealed segment goes once every consumer that holds space consumed all of its
 *   entries (§9 with many consumers) — unless `keepConsumed`, which keeps consumed segments for
 *   re-reading by `seek`;
 * - `maxBytes`: while the namespace's segment bytes exceed it, the oldest sealed segments go
 *   (name order), consumed or not; the topics whose entries they held give those seqs up
 *   (`firstSeq`), which the caller makes durable before any unlink.
 *
 * - `maxAgeMs`: the oldest sealed segments whose newest entry is older than it go, consumed or not
 *   (a version-1 segment's entries all carry MANIFEST.v1TimeMs, FORMAT §20.3); a segment whose
 *   newest time is unknown is never too old.
 */
import { WalError } from '../errors.js';
import type { CursorStore } from './cursor-store.js';
import type { SegmentSummary } from './recover.js';
import { compareSegmentIds } from './segment-name.js';
import { describeArgument } from './limits.js';

export interface RetentionPolicy {
  readonly maxBytes: number | undefined;
  readonly maxAgeMs: number | undefined;
  readonly keepConsumed: boolean;
}

export const DEFAULT_RETENTION: RetentionPolicy = Object.freeze({
  maxBytes: undefined,
  maxAgeMs: undefined,
  keepConsumed: false,
});

const RETENTION_KEYS = new Set(['maxBytes', 'maxAgeMs', 'keepConsumed']);

/** Validates `Walrus.open({ retention })`; every bad value is ERR_INVALID_ARGUMENT naming the field. */
export function parseRetention(value: unknown): RetentionPolicy {
  if (value === undefined) return DEFAULT_RETENTION;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw WalError.invalidArgument(`retention must be an object, got ${describeArgument(value)}`);
  for (const key of Object.keys(value))
    if (!RETENTION_KEYS.has(key)) throw WalError.invalidArgument(`unknown retention option '${key}'`);
  const { maxBytes, maxAgeMs, keepConsumed } = value as Record<string, unknown>;
  if (maxBytes !== undefined && !(typeof maxBytes === 'number' && Number.isSafeInteger(maxBytes) && maxBytes >= 1))
    throw WalError.invalidArgument(`retention.maxBytes must be a positive integer, got ${describeArgument(maxBytes)}`);
  if (maxAgeMs !== undefined && !(typeof maxAgeMs === 'number' && Number.isFinite(maxAgeMs) && maxAgeMs >= 0))
    throw WalError.invalidArgument(`retention.maxAgeMs must be a number ≥ 0, got ${describeArgument(maxAgeMs)}`);
  if (keepConsumed !== undefined && typeof keepConsumed !== 'boolean')
    throw WalError.invalidArgument(`retention.keepConsumed must be a boolean, got ${describeArgument(keepConsumed)}`);
  return { maxBytes, maxAgeMs, keepConsumed: keepConsumed ?? false };
}

export interface RetentionRound {
  /** Segments to delete, oldest first. */
  readonly doomed: SegmentSummary[];
  /** Per topic, the firstSeq the limits' deletions give up to (entries below it are gone). */
  readonly firstSeqs: Map<number, number>;
}

/**
 * The segments of one reclaim round. `totalBytes`: the namespace's segment bytes now (sealed and
 * live); `consumedBelow(topicId)`: below it every consumer that holds space consumed the topic, per
 * the last durable snapshot.
 */
export function retentionRound(
  segments: readonly SegmentSummary[],
  policy: RetentionPolicy,
  args: {
    isSealed: (s: SegmentSummary) => boolean;
    consumedBelow: (topicId: number) => number;
    totalBytes: number;
    /** The newest append time of a segment's entries; undefined when unknown (then it is never too old). */
    maxTimeMs?: (s: SegmentSummary) => number | undefined;
    nowMs?: number;
  },
): RetentionRound {
  const sealed = segments.filter(args.isSealed).sort((a, b) => compareSegmentIds(a.id, b.id));
  const doomed = new Set<SegmentSummary>();
  const firstSeqs = new Map<number, number>();
  const give = (s: SegmentSummary): void => {
    doomed.add(s);
    for (const [topicId, lastSeq] of s.topics)
      firstSeqs.set(topicId, Math.max(firstSeqs.get(topicId) ?? 0, lastSeq + 1));
  };
  if (policy.maxAgeMs !== undefined) {
    const nowMs = args.nowMs ?? Date.now();
    // Times never decrease within a topic, so a segment this old has only older ones of its topics before it.
    for (const s of sealed) {
      const newest = args.maxTimeMs?.(s);
      if (newest !== undefined && nowMs - newest > policy.maxAgeMs) give(s);
    }
  }
  if (policy.maxBytes !== undefined) {
    let total = args.totalBytes;
    for (const s of sealed) {
      if (doomed.has(s)) {
        total -= s.sizeBytes;
        continue;
      }
      if (total <= policy.maxBytes) break;
      give(s);
      total -= s.sizeBytes;
    }
  }
  if (!policy.keepConsumed) {
    for (const s of sealed) {
      if (!doomed.has(s) && s.topics.every(([topicId, lastSeq]) => args.consumedBelow(topicId) > lastSeq))
        doomed.add(s);
    }
  }
  return { doomed: sealed.filter((s) => doomed.has(s)), firstSeqs };
}

/** What a reclaim round deletes, and the firstSeqs it gave up (already raised in the cursors, in memory). */
export interface ReclaimPlan {
  /** Segments to delete, oldest first. */
  readonly doomed: SegmentSummary[];
  /** [topicId, firstSeq] of every topic whose firstSeq the round raised: durable before any unlink (§19.2 step 1). */
  readonly raised: Array<[number, number]>;
}

/**
 * One reclaim round's decision, shared by the engine's Reclaimer and the synchronous LogStore: the
 * round of `retentionRound` over `segments` by the cursors' last durable snapshot, and every firstSeq
 * it gives up raised in `cursors`. The caller snapshots the cursors durably when `raised` is not
 * empty, and only then forgets and unlinks `doomed` (docs/FORMAT.md §19.2).
 */
export function planReclaim(
  segments: readonly SegmentSummary[],
  policy: RetentionPolicy,
  cursors: Pick<CursorStore, 'durableConsumedBelow' | 'firstSeq' | 'raiseFirstSeq'>,
  args: {
    isSealed: (s: SegmentSummary) => boolean;
    /** The namespace's segment bytes now (sealed and live); asked only under `maxBytes`. */
    segmentBytes: () => number;
    maxTimeMs?: (s: SegmentSummary) => number | undefined;
    nowMs?: number;
  },
): ReclaimPlan {
  const round = retentionRound(segments, policy, {
    isSealed: args.isSealed,
    consumedBelow: (topicId) => cursors.durableConsumedBelow(topicId),
    totalBytes: policy.maxBytes !== undefined ? args.segmentBytes() : 0,
    maxTimeMs: args.maxTimeMs,
    nowMs: args.nowMs,
  });
  const raised: Array<[number, number]> = [];
  if (round.doomed.length === 0) return { doomed: [], raised };
  for (const [topicId, firstSeq] of round.firstSeqs) {
    if (firstSeq <= cursors.firstSeq(topicId)) continue;
    cursors.raiseFirstSeq(topicId, firstSeq);
    raised.push([topicId, firstSeq]);
  }
  return { doomed: round.doomed, raised };
}
