/**
 * The MANIFEST control file (docs/FORMAT.md §7): which format a namespace directory holds, the last
 * epoch opened in it, the namespace key it was opened with (so two keys that sanitize to the same
 * directory name cannot share it), and the fences that keep frames an earlier recovery ignored void
 * (recover.ts), and — version 2 (§20.2) — `v1TimeMs`, the time of every entry of a version-1 segment,
 * and `clean`, the clean-shutdown record a clean close writes last (§16, clean-shutdown.ts).
 * Version 1 and 2 files are read; version 2 is written. Rewritten atomically at every open, before
 * the new epoch writes data.
 */
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { describeDiskValue, packControlFile, unpackControlMap } from './disk-codec.js';
import { writeFileAtomic, type FileIo } from './file-io.js';
import type { Fence } from './recover.js';
import { MAX_ENTRY_BYTES_LIMIT, MAX_SEGMENT_BYTES, MAX_SEQ, MAX_TOPIC_ID } from './limits.js';
import { MAX_TIME_MS } from './frame.js';
import { MAX_EPOCH, parseSegmentFileName, segmentFileName } from './segment-name.js';
import type { SeqGap } from './seq-gaps.js';

export const MANIFEST_FILE_NAME = 'MANIFEST';
export const MANIFEST_FORMAT = 'walrus-ts';
/** The version this build writes; it also reads version 1 (docs/FORMAT.md §20.1). */
export const MANIFEST_VERSION = 2;
const MANIFEST_VERSION_1 = 1;
/** A segment holds at most segmentBytes plus one write that did not fit, so no frame starts past this. */
const MAX_FENCE_OFFSET = MAX_SEGMENT_BYTES + MAX_ENTRY_BYTES_LIMIT;

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  /** As read (1 or 2); always MANIFEST_VERSION when written. */
  version: number;
  epoch: number;
  createdAtMs: number;
  openedAtMs: number;
  /** The namespace key of the first keyed open; absent for a directory only ever named directly. */
  key?: string;
  fences: Fence[];
  /**
   * The time of every entry of a version-1 segment: the first version-2 open's time (FORMAT
   * §20.3), carried unchanged by every later MANIFEST. Absent in a log that never held version 1.
   */
  v1TimeMs?: number;
  /**
   * Seqs a recovery found consumed and no longer stored (seq-gaps.ts, FORMAT §7.3): carried by every
   * later MANIFEST until the topic's firstSeq passes them. Absent when there are none.
   */
  gaps?: SeqGap[];
  /** Written only by a clean close, as its last write; never carried into the next epoch's MANIFEST. */
  clean?: CleanShutdown;
}

/** FORMAT §16: what a clean close left, for the next open to check the directory against. */
export interface CleanShutdown {
  /** The epoch that closed: the record holds only while MANIFEST.epoch equals it. */
  epoch: number;
  closedAtMs: number;
  /** The CURSORS generation close wrote. */
  cursorGeneration: number;
  /** How many segment files existed at close, and their total length. */
  segments: number;
  segmentBytes: number;
  /** CRC-32 over every segment in name order: its file name ‖ its length (u64) ‖ its summary's headCrc (u32). */
  summariesCrc: number;
  /** The largest append time written: the next epoch's floor (§13.3). */
  timeFloorMs: number;
  /** False under fsync 'none': then bootId says in which boot it holds. */
  synced: boolean;
  bootId?: string;
}

const CLEAN_KEYS = [
  'epoch',
  'closedAtMs',
  'cursorGeneration',
  'segments',
  'segmentBytes',
  'summariesCrc',
  'timeFloorMs',
  'synced',
  'bootId',
] as const;

/** A fence on disk: [segment file name, topic id, run offset, first void seq]. */
type StoredFence = [string, number, number, number];
/** A gap on disk: [topic id, first missing seq, first seq after it]. */
type StoredGap = [number, number, number];

export function manifestPath(dir: string): string {
  return path.join(dir, MANIFEST_FILE_NAME);
}

/** The MANIFEST of `dir`, or null when there is none yet (a new namespace). */
export function readManifest(io: FileIo, dir: string): Manifest | null {
  const filePath = manifestPath(dir);
  if (io.kind(filePath) === null) return null;
  let bytes: Uint8Array;
  try {
    bytes = io.readFile(filePath);
  } catch (err) {
    throw WalError.fromSystem(err, 'reading MANIFEST', filePath);
  }
  return decodeManifest(bytes, filePath);
}

/** Replaces MANIFEST, durably in every fsync mode (writeFileAtomic). */
export function writeManifest(io: FileIo, dir: string, manifest: Manifest): void {
  const filePath = manifestPath(dir);
  try {
    const { fences, key, v1TimeMs, gaps, clean, ...rest } = manifest;
    const fields = { ...rest, version: MANIFEST_VERSION };
    const stored: StoredFence[] = fences.map((f) => [segmentFileName(f.segment), f.topicId, f.offset, f.seq]);
    // Absent fields stay absent: a file without fences or key is byte-identical to one from before they existed.
    const keyed = key === undefined ? fields : { ...fields, key };
    const withKey = v1TimeMs === undefined ? keyed : { ...keyed, v1TimeMs };
    const withFences = stored.length > 0 ? { ...withKey, fences: stored } : withKey;
    const withGaps =
      gaps === undefined || gaps.length === 0
        ? withFences
        : { ...withFences, gaps: gaps.map((g): StoredGap => [g.topicId, g.fromSeq, g.toSeq]) };
    writeFileAtomic(io, filePath, packControlFile(clean === undefined ? withGaps : { ...withGaps, clean }));
  } catch (err) {
    throw WalError.fromSystem(err, 'writing MANIFEST', filePath);
  }
}

function decodeManifest(bytes: Uint8Array, filePath: string): Manifest {
  let fields: Record<string, unknown>;
  try {
    fields = unpackControlMap(bytes);
  } catch (err) {
    throw WalError.corrupt(`${filePath} is not a readable MANIFEST: ${(err as Error).message}`, { path: filePath });
  }
  if (
    fields.format !== MANIFEST_FORMAT ||
    (fields.version !== MANIFEST_VERSION && fields.version !== MANIFEST_VERSION_1)
  ) {
    throw new WalError(
      'ERR_UNSUPPORTED_FORMAT',
      `${filePath} has format ${describeDiskValue(fields.format)} version ${describeDiskValue(fields.version)}; ` +
        `this build reads ${MANIFEST_FORMAT} versions ${MANIFEST_VERSION_1} and ${MANIFEST_VERSION}`,
      { path: filePath },
    );
  }
  const { epoch, createdAtMs, openedAtMs, key, v1TimeMs, gaps, clean } = fields;
  if (!Number.isInteger(epoch) || (epoch as number) < 0 || (epoch as number) > MAX_EPOCH) {
    throw WalError.corrupt(`${filePath} has an invalid epoch ${describeDiskValue(epoch)}`, { path: filePath });
  }
  if (!Number.isFinite(createdAtMs) || !Number.isFinite(openedAtMs)) {
    throw WalError.corrupt(`${filePath} has invalid timestamps`, { path: filePath });
  }
  if (key !== undefined && typeof key !== 'string') {
    throw WalError.corrupt(`${filePath} has an invalid namespace key ${describeDiskValue(key)}`, { path: filePath });
  }
  // Version 1 had no such field: one there is not a field of this format.
  if (v1TimeMs !== undefined && (fields.version === MANIFEST_VERSION_1 || !isIntegerIn(v1TimeMs, 0, MAX_TIME_MS))) {
    throw WalError.corrupt(`${filePath} has an invalid v1TimeMs ${describeDiskValue(v1TimeMs)}`, { path: filePath });
  }
  return {
    format: MANIFEST_FORMAT,
    version: fields.version as number,
    epoch: epoch as number,
    createdAtMs: createdAtMs as number,
    openedAtMs: openedAtMs as number,
    ...(key === undefined ? {} : { key }),
    fences: decodeFences(fields.fences, filePath),
    ...(v1TimeMs === undefined ? {} : { v1TimeMs: v1TimeMs as number }),
    ...(gaps === undefined ? {} : { gaps: decodeGaps(gaps, fields.version as number, filePath) }),
    ...(clean === undefined ? {} : { clean: decodeCleanShutdown(clean, fields.version as number, filePath) }),
  };
}

function decodeCleanShutdown(value: unknown, version: number, filePath: string): CleanShutdown {
  const invalid = (): WalError =>
    WalError.corrupt(`${filePath} has an invalid clean-shutdown record`, { path: filePath });
  if (version === MANIFEST_VERSION_1 || typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid();
  const r = value as Record<string, unknown>;
  if (Object.keys(r).some((k) => !(CLEAN_KEYS as readonly string[]).includes(k))) throw invalid();
  const { epoch, closedAtMs, cursorGeneration, segments, segmentBytes, summariesCrc, timeFloorMs, synced, bootId } = r;
  if (
    !isIntegerIn(epoch, 0, MAX_EPOCH) ||
    !isIntegerIn(closedAtMs, 0, MAX_TIME_MS) ||
    !isIntegerIn(cursorGeneration, 0, 0xffff_ffff) ||
    !isIntegerIn(segments, 0, Number.MAX_SAFE_INTEGER) ||
    !isIntegerIn(segmentBytes, 0, Number.MAX_SAFE_INTEGER) ||
    !isIntegerIn(summariesCrc, 0, 0xffff_ffff) ||
    !isIntegerIn(timeFloorMs, 0, MAX_TIME_MS) ||
    typeof synced !== 'boolean' ||
    (synced ? bootId !== undefined : typeof bootId !== 'string' || bootId.length === 0 || bootId.length > 256)
  )
    throw invalid();
  return {
    ...{ epoch, closedAtMs, cursorGeneration, segments, segmentBytes, summariesCrc, timeFloorMs, synced },
    ...(bootId === undefined ? {} : { bootId: bootId as string }),
  };
}

function decodeFences(value: unknown, filePath: string): Fence[] {
  if (value === undefined) return [];
  const invalid = (): WalError => WalError.corrupt(`${filePath} has an invalid fence list`, { path: filePath });
  if (!Array.isArray(value)) throw invalid();
  return value.map((item: unknown): Fence => {
    if (!Array.isArray(item) || item.length !== 4) throw invalid();
    const [name, topicId, offset, seq] = item as unknown[];
    const segment = typeof name === 'string' ? parseSegmentFileName(name) : null;
    if (
      segment === null ||
      !isIntegerIn(topicId, 1, MAX_TOPIC_ID) ||
      !isIntegerIn(offset, 0, MAX_FENCE_OFFSET) ||
      !isIntegerIn(seq, 0, MAX_SEQ)
    )
      throw invalid();
    return { segment, topicId, offset, seq };
  });
}

function decodeGaps(value: unknown, version: number, filePath: string): SeqGap[] {
  const invalid = (): WalError => WalError.corrupt(`${filePath} has an invalid gap list`, { path: filePath });
  if (version === MANIFEST_VERSION_1 || !Array.isArray(value)) throw invalid();
  return value.map((item: unknown): SeqGap => {
    if (!Array.isArray(item) || item.length !== 3) throw invalid();
    const [topicId, fromSeq, toSeq] = item as unknown[];
    if (!isIntegerIn(topicId, 1, MAX_TOPIC_ID) || !isIntegerIn(fromSeq, 0, MAX_SEQ) || !isIntegerIn(toSeq, 1, MAX_SEQ))
      throw invalid();
    if (toSeq <= fromSeq) throw invalid();
    return { topicId, fromSeq, toSeq };
  });
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}
