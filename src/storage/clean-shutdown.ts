/**
 * The clean-shutdown record (docs/FORMAT.md §16): the `clean` field of MANIFEST, written by a clean
 * close as its last write, naming every segment it left and the summary of each. The next open
 * checks the directory against it and reports what differs.
 *
 * What it buys, as built (FORMAT §22.3): it is an audit, not a shortcut. Open still applies every
 * check of §15.4 to every summary (the header read among them: about 45 ms at 16 GiB, 256 segments,
 * measured within the ≤ 1.5× target), so a record never makes open trust more than the summaries
 * vouch for. What it adds: a segment file that existed at close and is gone is reported as damage
 * instead of being taken for a deleted one, and `stats().recovery.cleanShutdown` says whether the
 * last close was clean and whether the directory is still what it left.
 */
import * as path from 'node:path';
import { crc32 } from './crc32.js';
import { writeU32 } from './frame.js';
import type { FileIo } from './file-io.js';
import { writeManifest, type CleanShutdown, type Manifest } from './manifest.js';
import type { DamageReport } from './segment-scanner.js';
import type { SegmentId } from './segment-name.js';
import type { RecoveryPlan } from './summary-files.js';

/** What open found of the last close (stats().recovery.cleanShutdown). */
export interface CleanShutdownCheck {
  /** MANIFEST held a clean-shutdown record: the last open of this directory ended in a clean close. */
  found: boolean;
  /** The directory is exactly what that close left (every segment, length and summary). */
  matched: boolean;
  /** Why it did not match (absent when it matched or none was found). */
  why?: string;
}

/** One segment as the record binds it. */
interface BoundSegment {
  path: string;
  sizeBytes: number;
  headCrc: number;
}

/**
 * The record of a close whose every segment has a trusted summary (`plan`: planRecovery of the
 * directory after the workers stopped), or a string saying why there is none (a segment without a
 * summary: the next open scans it, and a record naming it would vouch for nothing).
 */
export function buildCleanShutdown(
  plan: RecoveryPlan,
  facts: { epoch: number; cursorGeneration: number; synced: boolean; bootId: string | null },
): CleanShutdown | string {
  if (plan.toScan.length > 0) return `${path.basename(plan.toScan[0]!)} has no trusted summary`;
  if (!facts.synced && facts.bootId === null) return 'no boot id to bind a record written without fsync';
  const bound = boundSegments(plan);
  return {
    epoch: facts.epoch,
    closedAtMs: Date.now(),
    cursorGeneration: facts.cursorGeneration,
    segments: bound.length,
    segmentBytes: bound.reduce((sum, s) => sum + s.sizeBytes, 0),
    summariesCrc: summariesCrcOf(bound),
    timeFloorMs: plan.trusted.reduce((max, scan) => Math.max(max, scan.maxTimeMs), 0),
    synced: facts.synced,
    ...(facts.synced ? {} : { bootId: facts.bootId! }),
  };
}

/**
 * The last write of a clean close: MANIFEST with the record (durable in every mode, like every
 * MANIFEST; under 'none' the record says `synced: false`: the segments and summaries it names were
 * not fsynced).
 */
export function writeCleanShutdown(io: FileIo, dir: string, manifest: Manifest, record: CleanShutdown): void {
  writeManifest(io, dir, { ...manifest, clean: record });
}

/**
 * Checks the record of the MANIFEST found at open (`found`, before this open's epoch replaced it)
 * against the directory: its epoch is that MANIFEST's, no segment is of a later epoch, it was synced
 * or written in this boot, and every segment, its length and its summary's head are the ones it
 * names. `damage` gets a report when segment files it names are gone.
 */
export function checkCleanShutdown(
  found: Manifest | null,
  segments: ReadonlyArray<{ id: SegmentId; path: string }>,
  plan: RecoveryPlan,
  context: { bootId: string | null; cursorGeneration: number; manifestPath: string },
  damage: DamageReport[],
): CleanShutdownCheck {
  const record = found?.clean;
  if (record === undefined) return { found: false, matched: false };
  const differs = (why: string): CleanShutdownCheck => ({ found: true, matched: false, why });
  if (record.epoch !== found!.epoch) return differs(`it is of epoch ${record.epoch}, MANIFEST of ${found!.epoch}`);
  const later = segments.find((s) => s.id.epoch > record.epoch);
  if (later !== undefined) return differs(`${path.basename(later.path)} was written after it`);
  if (!record.synced && record.bootId !== context.bootId)
    return differs('it was written without fsync in another boot');
  if (segments.length < record.segments) {
    const gone = record.segments - segments.length;
    damage.push({
      path: context.manifestPath,
      offset: 0,
      reason: `${gone} segment file(s) that existed at the last clean close are gone`,
    });
    return differs(`${record.segments} segments at close, ${segments.length} now`);
  }
  if (segments.length > record.segments) return differs(`${record.segments} segments at close, ${segments.length} now`);
  const unsummarized = plan.toScan[0];
  if (unsummarized !== undefined) return differs(`${path.basename(unsummarized)} has no trusted summary now`);
  const bound = boundSegments(plan);
  const bytes = bound.reduce((sum, s) => sum + s.sizeBytes, 0);
  if (bytes !== record.segmentBytes) return differs(`${record.segmentBytes} segment bytes at close, ${bytes} now`);
  if (summariesCrcOf(bound) !== record.summariesCrc)
    return differs('the segments or their summaries are not those of the close');
  // Cursors load the same way on both paths (FORMAT §16): a different generation is reported, nothing more.
  if (context.cursorGeneration !== record.cursorGeneration)
    return differs(`cursor generation ${context.cursorGeneration}, the close wrote ${record.cursorGeneration}`);
  return { found: true, matched: true };
}

function boundSegments(plan: RecoveryPlan): BoundSegment[] {
  return plan.trusted
    .map((scan) => ({ path: scan.path, sizeBytes: scan.sizeBytes, headCrc: plan.headCrcs.get(scan.path) ?? 0 }))
    .sort((a, b) => (path.basename(a.path) < path.basename(b.path) ? -1 : 1));
}

/** CRC-32 over, per segment in name order: file name (UTF-8) ‖ length (u64 LE) ‖ summary headCrc (u32 LE). */
function summariesCrcOf(bound: readonly BoundSegment[]): number {
  const numbers = new Uint8Array(12);
  let crc = 0;
  for (const s of bound) {
    const name = Buffer.from(path.basename(s.path), 'utf8');
    writeU32(numbers, 0, s.sizeBytes % 2 ** 32);
    writeU32(numbers, 4, Math.floor(s.sizeBytes / 2 ** 32));
    writeU32(numbers, 8, s.headCrc);
    crc = crc32(numbers, 0, 12, crc32(name, 0, name.byteLength, crc));
  }
  return crc;
}
