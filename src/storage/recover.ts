/**
 * Merges per-segment scans into each topic's longest valid prefix (docs/FORMAT.md §5 steps 2–3).
 *
 * A topic's history is written segment by segment, and whoever starts writing a topic in a segment
 * (a new epoch after a recovery, or the same writer rolling over) starts at the seq it believes
 * comes next. Hence the rules, applied to the topic's runs in (epoch, writer, segment no) order with
 * `expected` = the next seq wanted and `startSeq` = the durable cursor:
 *
 * - the first run is accepted if it starts at or below `startSeq` (entries below the cursor may have
 *   been reclaimed); otherwise entries at the cursor are missing: damage, and the topic is broken at
 *   `startSeq`;
 * - a run starting at `expected` is accepted, except later in the segment where the topic broke;
 * - a run starting above `expected` but at or below `startSeq` is accepted: what is missing was
 *   consumed (a segment reclaimed while an earlier one is kept for another topic);
 * - a topic's first run in a segment starting below `expected` is accepted and cuts the prefix back
 *   to its first seq: its writer (after a recovery) decided the topic continued there, so the
 *   entries we had accepted from that seq on are frames that recovery ignored;
 * - anything else is damage that ends the prefix, reported once: the rest of that segment is
 *   ignored, and only a run that starts at `expected` later can continue the topic.
 *
 * Frames a recovery ignored must stay ignored forever, yet they can look valid to a later recovery:
 * once the entries that replaced them are lost or reclaimed and the cursor has moved past the gap,
 * "a gap below the cursor" is exactly what a reclaimed segment looks like. So the first run of a
 * topic that a recovery leaves (partly) unaccepted in a segment becomes a fence — in this segment
 * file, this topic's frames from this seq of the run at this offset on, and all its later runs in
 * the file, are void (within a segment the accepted runs of a topic always precede the ignored
 * ones) — and the opener records the fences in MANIFEST before the new epoch writes anything
 * (docs/FORMAT.md §5, §7). Segment files of past epochs are never written again, so a fence stays
 * exact. Fences are applied before the rules above and forgotten once the file is gone.
 */
import type { DamageReport, ScannedRun, SegmentScan } from './segment-scanner.js';
import { compareSegmentIds, type SegmentId } from './segment-name.js';
import { explainedUpTo, type TopicGaps } from './seq-gaps.js';
import { pointsBelowSeq } from './sparse-index.js';

/** Entries [firstSeq, firstSeq + count) of one topic; endOffset bounds them (it is exact unless the run was cut back). */
export interface TopicRun {
  path: string;
  segment: SegmentId;
  firstSeq: number;
  count: number;
  startOffset: number;
  endOffset: number;
  /** Where a reader may start (sparse-index.ts): [offset, seq, timeMs] triples of entries of this run. */
  points: Float64Array;
}

export interface RecoveredTopic {
  id: number;
  name: string;
  nextSeq: number;
  runs: TopicRun[];
  /** The recovered prefix ends before frames (or missing frames) at or after the cursor. */
  damaged: boolean;
}

/**
 * In the segment file `segment`, the frames of `topicId` are void from seq `seq` of the run that
 * contains `offset`, and in every run of that topic starting after it (FORMAT §5.6, §14.1).
 */
export interface Fence {
  segment: SegmentId;
  topicId: number;
  offset: number;
  seq: number;
}

export interface SegmentSummary {
  path: string;
  id: SegmentId;
  sizeBytes: number;
  /** [topicId, lastAcceptedSeq] for every topic with accepted entries in the segment. */
  topics: Array<[number, number]>;
  /** The newest append time of its entries (a version-1 segment: v1TimeMs), when known: for retention.maxAgeMs. */
  maxTimeMs?: number;
}

export interface RecoveryResult {
  topics: RecoveredTopic[];
  segments: SegmentSummary[];
  damage: DamageReport[];
  /** Every fence to keep: the given ones that still void frames on disk, and one per run left unaccepted. */
  fences: Fence[];
  maxEpoch: number;
  maxTopicId: number;
  /**
   * The floor of the new epoch's append times (FORMAT §13.3): the largest time of any frame scanned
   * (ignored ones included: a higher floor is always safe), and v1TimeMs while version-1 segments remain.
   */
  timeFloorMs: number;
  scannedBytes: number;
  skippedFiles: string[];
}

interface RunRef {
  scan: SegmentScan;
  order: number;
  run: ScannedRun;
  /** How many entries from the start of the run belong to the recovered prefix. */
  accepted: number;
}

interface Resolution {
  nextSeq: number;
  damaged: boolean;
}

export function mergeScans(
  scans: SegmentScan[],
  known: {
    names: Map<number, string>;
    startSeq: Map<number, number>;
    fences?: readonly Fence[];
    /** Per topic, the seq below which entries were given up by a retention limit (FORMAT §18.1). */
    firstSeq?: Map<number, number>;
    /** Per topic, seqs an earlier recovery found consumed and lost (seq-gaps.ts): not damage. */
    gaps?: ReadonlyMap<number, TopicGaps>;
    v1TimeMs?: number;
  },
): RecoveryResult {
  const sorted = [...scans].sort((a, b) => compareSegmentIds(a.id, b.id));
  const damage: DamageReport[] = sorted.flatMap((scan) => scan.damage);
  const fences = known.fences ?? [];
  const live = new Set<Fence>();
  const refsByTopic = collectRuns(sorted, fences, live);
  const names = collectNames(sorted, known.names, damage);
  const topics: RecoveredTopic[] = [];
  const newFences: Fence[] = [];

  const ids = [...new Set([...names.keys(), ...refsByTopic.keys()])].sort((a, b) => a - b);
  for (const id of ids) {
    // Runs wholly below firstSeq are in segments a retention limit gave up (a crash came before
    // their unlink): never returned, and left out of the summaries, so the next reclaim deletes them.
    const floor = known.firstSeq?.get(id) ?? 0;
    const refs = (refsByTopic.get(id) ?? []).filter((r) => r.run.firstSeq + r.run.count > floor);
    const name = names.get(id);
    if (name === undefined) {
      const first = refs[0];
      if (first === undefined) continue;
      damage.push({
        path: first.scan.path,
        offset: first.run.startOffset,
        reason: `entries of topic id ${id}, whose name is nowhere defined`,
        topicId: id,
      });
      continue;
    }
    const startSeq = known.startSeq.get(id) ?? 0;
    const { nextSeq, damaged } = resolveTopic(id, refs, startSeq, known.gaps?.get(id), damage);
    topics.push({ id, name, nextSeq, runs: refs.filter((r) => r.accepted > 0).map(toTopicRun), damaged });
    let fencedOrder = -1;
    for (const ref of refs) {
      if (ref.accepted === ref.run.count || ref.order === fencedOrder) continue;
      fencedOrder = ref.order;
      newFences.push({
        segment: ref.scan.id,
        topicId: id,
        offset: ref.run.startOffset,
        seq: ref.run.firstSeq + ref.accepted,
      });
    }
  }

  return {
    topics,
    segments: summarize(sorted, refsByTopic, known.v1TimeMs),
    damage,
    fences: [...fences.filter((f) => live.has(f)), ...newFences],
    maxEpoch: sorted.reduce((max, scan) => Math.max(max, scan.id.epoch), 0),
    maxTopicId: maxTopicIdOf(sorted, known.names, damage),
    timeFloorMs: sorted.reduce(
      (max, scan) => Math.max(max, scan.maxTimeMs, scan.formatVersion === 1 ? (known.v1TimeMs ?? 0) : 0),
      0,
    ),
    scannedBytes: sorted.reduce((sum, scan) => sum + scan.sizeBytes, 0),
    skippedFiles: sorted.filter((scan) => scan.unreadable).map((scan) => scan.path),
  };
}

/** Every run by topic, in segment order, with fenced frames cut off; marks the fences that cut something in `live`. */
function collectRuns(sorted: SegmentScan[], fences: readonly Fence[], live: Set<Fence>): Map<number, RunRef[]> {
  const byTopic = new Map<number, RunRef[]>();
  sorted.forEach((scan, order) => {
    const here = fences.filter((f) => compareSegmentIds(f.segment, scan.id) === 0);
    // What an unreadable file holds is unknown (it may read again later): keep its fences.
    if (scan.unreadable) for (const f of here) live.add(f);
    for (const scanned of scan.runs) {
      let run = scanned;
      for (const f of here) {
        // §14.1: a run ending at or before the fence is untouched, the run containing its offset
        // keeps its entries below the fence's seq, a run starting after it is void. A fence a
        // version-1 build recorded names the start of a run it had split: a stretch inside one run here.
        if (f.topicId !== run.topicId || run.endOffset <= f.offset) continue;
        const keep = run.startOffset <= f.offset ? Math.max(0, Math.min(run.count, f.seq - run.firstSeq)) : 0;
        if (keep === run.count) continue;
        live.add(f);
        run = { ...run, count: keep, points: pointsBelowSeq(run.points, run.firstSeq + keep) };
      }
      if (run.count === 0) continue;
      let refs = byTopic.get(run.topicId);
      if (refs === undefined) byTopic.set(run.topicId, (refs = []));
      refs.push({ scan, order, run, accepted: 0 });
    }
  });
  return byTopic;
}

/** Names from the cursor file first, then from TOPIC_DEF frames; one name per id and one id per name. */
function collectNames(
  sorted: SegmentScan[],
  knownNames: Map<number, string>,
  damage: DamageReport[],
): Map<number, string> {
  const names = new Map<number, string>();
  const ids = new Map<string, number>();
  const claim = (id: number, name: string, path: string): void => {
    const named = names.get(id);
    const owner = ids.get(name);
    if (named === name) return;
    if (named !== undefined) {
      damage.push({
        path,
        offset: 0,
        reason: `topic id ${id} is named ${JSON.stringify(name)} here, ${JSON.stringify(named)} elsewhere`,
        topicId: id,
      });
    } else if (owner !== undefined) {
      damage.push({
        path,
        offset: 0,
        reason: `topic ${JSON.stringify(name)} has id ${owner} and id ${id}; id ${id} is ignored`,
        topicId: id,
      });
    } else {
      names.set(id, name);
      ids.set(name, id);
    }
  };
  for (const [id, name] of knownNames) claim(id, name, 'CURSORS');
  for (const scan of sorted) for (const [id, name] of scan.topicNames) claim(id, name, scan.path);
  return names;
}

function resolveTopic(
  id: number,
  refs: RunRef[],
  startSeq: number,
  gaps: TopicGaps | undefined,
  damage: DamageReport[],
): Resolution {
  const chain: RunRef[] = [];
  let expected = -1;
  let lastOrder = -1;
  let brokenOrder = -1;
  let broken = false;
  let damaged = false;
  const accept = (ref: RunRef): void => {
    ref.accepted = ref.run.count;
    chain.push(ref);
    expected = ref.run.firstSeq + ref.run.count;
    broken = false;
  };
  const breakAt = (ref: RunRef, reason: string): void => {
    if (!broken) damage.push({ path: ref.scan.path, offset: ref.run.startOffset, reason, topicId: id, seq: expected });
    damaged = true;
    broken = true;
    brokenOrder = ref.order;
  };

  for (const ref of refs) {
    const segmentStart = ref.order !== lastOrder;
    lastOrder = ref.order;
    if (ref.order === brokenOrder) continue;
    const first = ref.run.firstSeq;
    if (expected < 0) {
      if (first <= explainedUpTo(gaps, startSeq, startSeq)) {
        accept(ref);
      } else {
        expected = startSeq;
        breakAt(ref, `entries ${startSeq}..${first - 1} are missing; later entries are ignored`);
      }
    } else if (first === expected || (first > expected && first <= explainedUpTo(gaps, expected, startSeq))) {
      // Missing seqs below every position were consumed and reclaimed; in a recorded gap, lost.
      accept(ref);
    } else if (segmentStart && first < expected) {
      cutBack(chain, first);
      accept(ref);
    } else {
      breakAt(ref, `expected seq ${expected}, found seq ${first}; later entries are ignored`);
    }
  }
  return { nextSeq: expected < 0 ? startSeq : expected, damaged };
}

function cutBack(chain: RunRef[], seq: number): void {
  while (chain.length > 0 && chain.at(-1)!.run.firstSeq >= seq) chain.pop()!.accepted = 0;
  const last = chain.at(-1);
  if (last !== undefined && last.run.firstSeq + last.accepted > seq) last.accepted = seq - last.run.firstSeq;
}

function toTopicRun(ref: RunRef): TopicRun {
  const { scan, run } = ref;
  return {
    path: scan.path,
    segment: scan.id,
    firstSeq: run.firstSeq,
    count: ref.accepted,
    startOffset: run.startOffset,
    endOffset: run.endOffset,
    points: ref.accepted === run.count ? run.points : pointsBelowSeq(run.points, run.firstSeq + ref.accepted),
  };
}

function summarize(sorted: SegmentScan[], refsByTopic: Map<number, RunRef[]>, v1TimeMs = 0): SegmentSummary[] {
  const lastSeqs = sorted.map(() => new Map<number, number>());
  for (const [topicId, refs] of refsByTopic) {
    for (const ref of refs) {
      if (ref.accepted > 0) lastSeqs[ref.order]!.set(topicId, ref.run.firstSeq + ref.accepted - 1);
    }
  }
  const summaries: SegmentSummary[] = [];
  sorted.forEach((scan, order) => {
    if (scan.unreadable) return;
    summaries.push({
      path: scan.path,
      id: scan.id,
      sizeBytes: scan.sizeBytes,
      topics: [...lastSeqs[order]!].sort((a, b) => a[0] - b[0]),
      maxTimeMs: scan.formatVersion === 1 ? v1TimeMs : scan.maxTimeMs,
    });
  });
  return summaries;
}

function maxTopicIdOf(sorted: SegmentScan[], knownNames: Map<number, string>, damage: DamageReport[]): number {
  let max = 0;
  for (const id of knownNames.keys()) max = Math.max(max, id);
  for (const scan of sorted) {
    for (const [id] of scan.topicNames) max = Math.max(max, id);
    for (const run of scan.runs) max = Math.max(max, run.topicId);
  }
  for (const report of damage) if (report.topicId !== undefined) max = Math.max(max, report.topicId);
  return max;
}
