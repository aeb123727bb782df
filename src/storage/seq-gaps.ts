/**
 * Sequence gaps (docs/FORMAT.md §7.3, docs/SEMANTICS.md rule D4): seqs of a topic that some consumer
 * had already passed when a recovery found them no longer stored. Unless fsync is 'each', a
 * consumer's position (a cursor record, a CURSORS snapshot, which is always durable) can reach the
 * disk before the entries it passed; after a power cut the topic's stored prefix ends at E while a
 * position stands at C > E. Sequence numbers are never handed out twice, so appends continue at C,
 * and [E, C) is a hole in the middle of the topic for every consumer still behind it.
 *
 * A recovery records each such hole in MANIFEST, durably, before the new epoch writes at C, so that
 * every later recovery accepts the topic's entries after the hole instead of taking it for damage
 * (which ended the topic at E and dropped what was appended after it), and readers skip it with a
 * 'skipped' event like a retention limit's. A gap is kept until the topic's firstSeq passes it.
 */

/** Seqs [fromSeq, toSeq) of topic `topicId` are gone: consumed by some consumer, then lost. */
export interface SeqGap {
  topicId: number;
  fromSeq: number;
  toSeq: number;
}

/** The gaps of one topic, sorted by fromSeq, not overlapping. */
export type TopicGaps = readonly SeqGap[];

/** Every topic's gaps from a flat list: sorted, and overlapping or touching ones merged. */
export function gapsByTopic(gaps: readonly SeqGap[]): Map<number, SeqGap[]> {
  const byTopic = new Map<number, SeqGap[]>();
  for (const g of [...gaps].sort((a, b) => a.topicId - b.topicId || a.fromSeq - b.fromSeq)) {
    const list = byTopic.get(g.topicId) ?? [];
    const last = list.at(-1);
    if (last !== undefined && g.fromSeq <= last.toSeq)
      list[list.length - 1] = { ...last, toSeq: Math.max(last.toSeq, g.toSeq) };
    else list.push({ ...g });
    byTopic.set(g.topicId, list);
  }
  return byTopic;
}

/**
 * How far missing seqs from `fromSeq` on are explained: the first seq from there that is neither
 * below `consumedBelow` (every consumer passed it: reclaiming may have deleted it) nor in a recorded
 * gap. Gaps and reclaimed stretches may alternate (a gap, an entry reclaimed since, another gap).
 */
export function explainedUpTo(gaps: TopicGaps | undefined, fromSeq: number, consumedBelow: number): number {
  let seq = Math.max(fromSeq, consumedBelow);
  for (let after = afterGap(gaps, seq); after > seq; after = afterGap(gaps, seq)) seq = Math.max(after, consumedBelow);
  return seq;
}

/** Where reading from `seq` continues: the end of the gap holding it, or `seq` itself. */
export function afterGap(gaps: TopicGaps | undefined, seq: number): number {
  if (gaps === undefined) return seq;
  for (const g of gaps) if (g.fromSeq <= seq && seq < g.toSeq) return g.toSeq;
  return seq;
}

/** Entries a consumer at `position` has left to read before `nextSeq`: the seqs in between, less the gaps. */
export function unreadCount(gaps: TopicGaps | undefined, position: number, nextSeq: number): number {
  let count = Math.max(0, nextSeq - position);
  if (gaps === undefined) return count;
  for (const g of gaps) count -= Math.max(0, Math.min(g.toSeq, nextSeq) - Math.max(g.fromSeq, position));
  return Math.max(0, count);
}

/** Every gap with its topic's name, as recovery reports them (`stats().recovery.gaps`). */
export function namedGaps(
  topics: Iterable<{ id: number; name: string }>,
  gaps: ReadonlyMap<number, TopicGaps>,
): Array<{ topic: string; fromSeq: number; toSeq: number }> {
  return [...topics].flatMap((t) =>
    (gaps.get(t.id) ?? []).map((g) => ({ topic: t.name, fromSeq: g.fromSeq, toSeq: g.toSeq })),
  );
}
