/**
 * Opening a namespace, shared by the single-threaded LogStore and the worker engine:
 *
 *   1. openNamespace: create the directory, take the lock, start a new epoch in MANIFEST, load the
 *      cursors, list the segment files. (Scanning the segments is the caller's: inline in the
 *      LogStore, in parallel piscina tasks in the engine.)
 *   2. finishRecovery: merge the scans into each topic's longest valid prefix, record the fences
 *      over frames the merge ignored, move the next sequence number of a topic whose cursor is past
 *      its recovered data up to that cursor, register every topic name, and snapshot the cursors —
 *      all before anything new is written.
 */
import { WalError } from '../errors.js';
import {
  buildCleanShutdown,
  checkCleanShutdown,
  writeCleanShutdown,
  type CleanShutdownCheck,
} from './clean-shutdown.js';
import { CursorStore } from './cursor-store.js';
import { acquireDirLock, type DirLock } from './dir-lock.js';
import { namespaceDirMode, type FileIo } from './file-io.js';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  manifestPath,
  readManifest,
  writeManifest,
  type Manifest,
} from './manifest.js';
import { mergeScans, type Fence, type RecoveryResult } from './recover.js';
import { compareSegmentIds, listSegments, nextEpoch } from './segment-name.js';
import type { DamageReport, SegmentScan } from './segment-scanner.js';
import { gapsByTopic, type SeqGap, type TopicGaps } from './seq-gaps.js';
import { draftSummary, planRecovery, type ScannedBecause } from './summary-files.js';

export interface OpenedNamespace {
  readonly dir: string;
  readonly io: FileIo;
  readonly epoch: number;
  /** As last written: at open (the previous open's fences), then by finishRecovery (this one's). */
  manifest: Manifest;
  readonly cursors: CursorStore;
  readonly segmentPaths: string[];
  /** The segments to scan: those without a trusted summary (summary-files.ts, planRecovery). */
  readonly segmentsToScan: string[];
  /** Contents of the others, from their summaries. */
  readonly summarized: SegmentScan[];
  /** Segments that had a summary not trusted, and why (stats().recovery). */
  readonly distrusted: ScannedBecause[];
  /** What open found of the last close's clean-shutdown record (FORMAT §16). */
  readonly cleanShutdown: CleanShutdownCheck;
  /**
   * What the directory listing revealed, added to the recovery's damage: segment files the clean
   * record names that are gone, empty segment files removed (RecoveryPlan.removedEmpty).
   */
  readonly listingDamage: DamageReport[];
  /** Whether this open makes what it writes durable (fsync other than 'none'). */
  readonly durable: boolean;
  /** Set by finishRecovery: where the new epoch's append times start (docs/FORMAT.md §13.3). */
  timeFloorMs: number;
  /** Releases the lock without touching cursors (open failed). */
  release(): void;
  /** Closes the cursor store and releases the lock (clean close). */
  close(): void;
}

/**
 * `key` is the namespace key `dir` was derived from (undefined when the caller named `dir` itself).
 * Sanitizing maps several keys to one name (`a/b` and `a_b` both become `a_b`), so the first key is
 * recorded in MANIFEST and a different one is refused: distinct keys never share a log.
 * `groupAccess` opens the directory (0750) and the files created in it (0640) to its group;
 * by default both are the owner's only (0700, 0600).
 */
export function openNamespace(
  io: FileIo,
  dir: string,
  durable: boolean,
  key?: string,
  groupAccess = false,
  /** Read only the heads of summaries: each run's points are loaded when first read (summary-files.ts). */
  summaryHeadsOnly = false,
): OpenedNamespace {
  const kind = io.kind(dir);
  if (kind !== null && kind !== 'dir')
    throw WalError.invalidArgument(`the data directory ${dir} exists and is not a directory`, { path: dir });
  try {
    io.mkdirp(dir, namespaceDirMode(groupAccess));
  } catch (err) {
    throw WalError.fromSystem(err, 'creating the data directory', dir);
  }
  const lock: DirLock = acquireDirLock(io, dir);
  try {
    const manifest = readManifest(io, dir);
    if (key !== undefined && manifest?.key !== undefined && manifest.key !== key) {
      throw WalError.invalidArgument(
        `namespace key ${JSON.stringify(key)} maps to ${dir}, which holds the log of key ${JSON.stringify(manifest.key)}; ` +
          'keys that differ only in characters other than letters, digits, "-", "_" and "." share a directory name, so use another key',
        { path: dir },
      );
    }
    const listed = listSegments(io, dir);
    const epoch = nextEpoch(manifest && { epoch: manifest.epoch, path: manifestPath(dir) }, listed);
    const nowMs = Date.now();
    const recordedKey = key ?? manifest?.key;
    // §20.3: the first version-2 open of a version-1 log (or of segments without a MANIFEST) fixes
    // the time of every version-1 entry, durably before anything else; later opens carry it.
    const upgrading = manifest === null ? listed.length > 0 : manifest.version < MANIFEST_VERSION;
    const v1TimeMs = manifest?.v1TimeMs ?? (upgrading ? nowMs : undefined);
    const written: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      epoch,
      createdAtMs: manifest?.createdAtMs ?? nowMs,
      openedAtMs: nowMs,
      ...(recordedKey === undefined ? {} : { key: recordedKey }),
      fences: manifest?.fences ?? [],
      ...(v1TimeMs === undefined ? {} : { v1TimeMs }),
      ...(manifest?.gaps === undefined ? {} : { gaps: manifest.gaps }),
    };
    writeManifest(io, dir, written);
    // After MANIFEST: planning unlinks drafts, orphan summaries and empty segments (FORMAT §17 steps 2–3).
    const plan = planRecovery(
      io,
      dir,
      listed.map((s) => s.path),
      { headsOnly: summaryHeadsOnly },
    );
    const removed = new Set(plan.removedEmpty);
    const segments = listed.filter((s) => !removed.has(s.path));
    const segmentPaths = segments.map((s) => s.path);
    const cursors = CursorStore.open(io, dir, { durable });
    const listingDamage: DamageReport[] = plan.removedEmpty.map((p) => ({
      path: p,
      offset: 0,
      reason:
        'empty segment file removed (it held no frame: a crash between creating a segment and its first write leaves one)',
    }));
    const cleanShutdown = checkCleanShutdown(
      manifest,
      segments,
      plan,
      { bootId: io.bootId(), cursorGeneration: cursors.generation, manifestPath: manifestPath(dir) },
      listingDamage,
    );
    return {
      dir,
      io,
      epoch,
      manifest: written,
      cursors,
      segmentPaths,
      segmentsToScan: plan.toScan,
      summarized: plan.trusted,
      distrusted: plan.distrusted,
      cleanShutdown,
      listingDamage,
      durable,
      timeFloorMs: 0,
      release: () => lock.release(),
      close: () => {
        try {
          cursors.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * What finishRecovery adds to the merge: which segments came from summaries, and the drafts it wrote
 * for the segments it scanned (each sealed, since this open starts a new epoch), to be published
 * once those segments are durable (summary-files.ts, publishSummaries).
 */
export interface NamespaceRecovery extends RecoveryResult {
  /** Per topic, the seqs consumed and no longer stored, which readers skip (seq-gaps.ts). */
  gaps: ReadonlyMap<number, TopicGaps>;
  summarizedPaths: ReadonlySet<string>;
  summarizedBytes: number;
  distrusted: ScannedBecause[];
  cleanShutdown: CleanShutdownCheck;
  summaryDrafts: string[];
}

export function finishRecovery(ns: OpenedNamespace, scanned: SegmentScan[]): NamespaceRecovery {
  const scans = [...ns.summarized, ...scanned];
  const names = new Map<number, string>();
  const startSeq = new Map<number, number>();
  const firstSeq = new Map<number, number>();
  for (const [name, id] of ns.cursors.topicTable()) {
    names.set(id, name);
    // Below every consumer's position (and below firstSeq) entries may have been deleted (FORMAT §18.1).
    startSeq.set(id, ns.cursors.minPosition(id));
    firstSeq.set(id, ns.cursors.firstSeq(id));
  }
  const recorded = ns.manifest.gaps ?? [];
  const byTopic = gapsByTopic(recorded);
  const recovery = mergeScans(scans, {
    ...{ names, startSeq, firstSeq, fences: ns.manifest.fences, gaps: byTopic },
    v1TimeMs: ns.manifest.v1TimeMs,
  });
  ns.timeFloorMs = recovery.timeFloorMs;
  recovery.damage.push(...ns.listingDamage);
  const gaps: SeqGap[] = [];
  for (const topic of recovery.topics) {
    ns.cursors.registerTopic(topic.name, topic.id);
    // A cursor past the recovered entries means they were consumed and then lost or reclaimed
    // (e.g. the segment with a topic's last, consumed entries was deleted; or, unless fsync is
    // 'each', a position reached the disk before the entries it passed and a power cut took them).
    // Their sequence numbers were handed out already: new appends continue after the cursor, never
    // reusing them. With many consumers: at least every consumer's position and the topic's firstSeq
    // (§18.1). A consumer behind the lost seqs (or one registered or sought later) must be able to
    // go past them, now and after every later recovery: the hole is recorded (seq-gaps.ts).
    // A recorded gap's end counts as a position: the consumer that stood there may be deleted since,
    // and the seqs in the gap were handed out all the same.
    const known = byTopic.get(topic.id) ?? [];
    const cursor = Math.max(ns.cursors.maxPosition(topic.id), ...known.map((g) => g.toSeq));
    if (cursor > topic.nextSeq) {
      gaps.push({ topicId: topic.id, fromSeq: topic.nextSeq, toSeq: cursor });
      topic.nextSeq = cursor;
    }
  }
  // A gap is needed while some entry or position lies below its end (the topic's firstSeq passed it).
  for (const g of recorded) if (g.toSeq > ns.cursors.firstSeq(g.topicId)) gaps.push(g);
  const gapsNow = gapsByTopic(gaps);
  const merged = [...gapsNow.values()].flat();
  if (!sameFences(recovery.fences, ns.manifest.fences) || !sameGaps(merged, recorded)) {
    // Durable like every MANIFEST (even under fsync 'none'), and before the new epoch writes: without
    // it a power cut could let frames this recovery ignored come back once the new epoch's writes that
    // replace them are reclaimed, or the next recovery take a recorded hole for damage.
    ns.manifest = { ...ns.manifest, fences: recovery.fences, gaps: merged };
    writeManifest(ns.io, ns.dir, ns.manifest);
  }
  ns.cursors.snapshot();
  const summaryDrafts: string[] = [];
  for (const scan of scanned) if (draftSummary(ns.io, scan, 'recovery', ns.durable)) summaryDrafts.push(scan.path);
  const summarizedBytes = ns.summarized.reduce((sum, scan) => sum + scan.sizeBytes, 0);
  return {
    ...recovery,
    gaps: gapsNow,
    scannedBytes: recovery.scannedBytes - summarizedBytes,
    summarizedPaths: new Set(ns.summarized.map((scan) => scan.path)),
    summarizedBytes,
    distrusted: ns.distrusted,
    cleanShutdown: ns.cleanShutdown,
    summaryDrafts,
  };
}

/**
 * The last write of a clean close (FORMAT §16 step 5), once every segment is sealed, summarized and
 * durable and the cursors snapshotted: MANIFEST with the clean-shutdown record. Returns why no record
 * was written (a segment without a trusted summary), or null. Throws what writing MANIFEST throws.
 */
export function recordCleanShutdown(ns: OpenedNamespace): string | null {
  const plan = planRecovery(
    ns.io,
    ns.dir,
    listSegments(ns.io, ns.dir).map((s) => s.path),
    { headsOnly: true },
  );
  const record = buildCleanShutdown(plan, {
    epoch: ns.epoch,
    cursorGeneration: ns.cursors.generation,
    synced: ns.durable,
    bootId: ns.io.bootId(),
  });
  if (typeof record === 'string') return record;
  writeCleanShutdown(ns.io, ns.dir, ns.manifest, record);
  return null;
}

function sameGaps(a: readonly SeqGap[], b: readonly SeqGap[]): boolean {
  const key = (g: SeqGap): string => `${g.topicId}:${g.fromSeq}:${g.toSeq}`;
  const keys = new Set(b.map(key));
  return a.length === b.length && a.every((g) => keys.has(key(g)));
}

function sameFences(a: readonly Fence[], b: readonly Fence[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (f, i) =>
        f.topicId === b[i]!.topicId &&
        f.offset === b[i]!.offset &&
        f.seq === b[i]!.seq &&
        compareSegmentIds(f.segment, b[i]!.segment) === 0,
    )
  );
}
