/**
 * A read-only, lock-free view of one namespace directory: the cursors, a scan of every segment and
 * the merge into each topic's longest valid prefix, computed exactly as `Walrus.open` would but
 * without taking the lock, writing MANIFEST, clamping cursors or deleting anything. It may run
 * while a service has the WAL open: what it shows is the log as of the moment each file was read.
 */
// Only /proc/locks and a stat of LOCK are read directly: diagnostics, not data.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { LOCK_FILE_NAME } from '../storage/dir-lock.js';
import { nodeFileIo } from '../storage/file-io.js';
import { MANIFEST_FILE_NAME, readManifest, type Manifest } from '../storage/manifest.js';
import { resolveNamespaceDir } from '../storage/namespace.js';
import { mergeScans, type Fence, type RecoveryResult } from '../storage/recover.js';
import { listSegments, listSegmentSizes } from '../storage/segment-name.js';
import type { SegmentScan } from '../storage/segment-scanner.js';
import { CURSORS_FILE_NAME } from '../storage/cursor-store.js';
import { CliFailure, UsageError } from './cli-error.js';
import { readCursors, type CursorView } from './cursor-reader.js';
import { scanSegmentFiles, type ScanProgress, type SegmentFile } from './segment-scans.js';

export interface LogView {
  /** The namespace directory, absolute. */
  dir: string;
  manifest: Manifest | null;
  cursors: CursorView;
  scans: SegmentScan[];
  recovery: RecoveryResult;
}

export interface LockHolder {
  pid: number;
  hostname: string;
  /**
   * The kernel lock on LOCK is held (Linux: read from /proc/locks, which never disturbs an opener);
   * where that cannot be read, whether the named process exists on this host (another host's counts
   * as alive).
   */
  alive: boolean;
}

/** The namespace directory of `dir` / `--key`, checked to hold a walrus-ts log. */
export function resolveLogDir(dir: string, key: string | undefined): string {
  let nsDir: string;
  try {
    nsDir = resolveNamespaceDir(dir, key);
  } catch (err) {
    if (err instanceof WalError && err.code === 'ERR_INVALID_ARGUMENT')
      throw new UsageError(err.message.replace(/^ERR_INVALID_ARGUMENT: /, ''));
    throw err;
  }
  const base = path.resolve(dir);
  if (!isDirectory(base)) throw new CliFailure(`no such directory: ${base}`);
  if (key !== undefined && !isDirectory(nsDir)) {
    throw new CliFailure(`no namespace for key ${JSON.stringify(key)} in ${base}${namespaceHint(base)}`);
  }
  if (!holdsLog(nsDir))
    throw new CliFailure(`${nsDir} holds no walrus-ts log${key === undefined ? namespaceHint(nsDir) : ''}`);
  return nsDir;
}

/** Segment files with their current sizes (a file reclaimed meanwhile is left out). */
export function segmentFiles(nsDir: string): SegmentFile[] {
  return listSegmentSizes(nodeFileIo, nsDir);
}

export async function loadLogView(nsDir: string, onProgress?: (progress: ScanProgress) => void): Promise<LogView> {
  const manifest = readManifest(nodeFileIo, nsDir);
  const scans = await scanSegmentFiles(segmentFiles(nsDir), onProgress);
  // Cursors after the scans: a live service deletes a segment only once the durable cursors are
  // past it, so cursors read after any deletion this scan missed cover the gap it left.
  const cursors = readCursors(nsDir);
  return { dir: nsDir, manifest, cursors, scans, recovery: mergeView(cursors, scans, manifest?.fences ?? []) };
}

/** mergeScans as recovery runs it: consumed entries may have been reclaimed, fenced frames are void. */
export function mergeView(cursors: CursorView, scans: SegmentScan[], fences: readonly Fence[]): RecoveryResult {
  const startSeq = new Map<number, number>();
  // As the engine's recovery (FORMAT §18.1): below every consumer's position and below firstSeq
  // entries may have been deleted; runs wholly below firstSeq were given up.
  for (const id of cursors.names.keys()) {
    const firstSeq = cursors.firstSeqs.get(id) ?? 0;
    let min = Math.max(firstSeq, cursors.cursors.get(id) ?? firstSeq);
    for (const positions of cursors.consumers.values())
      min = Math.min(min, Math.max(firstSeq, positions.get(id) ?? firstSeq));
    startSeq.set(id, min);
  }
  return mergeScans(scans, { names: cursors.names, startSeq, fences, firstSeq: cursors.firstSeqs });
}

/** The fences of MANIFEST (none when there is no MANIFEST yet). */
export function readFences(nsDir: string): Fence[] {
  return readManifest(nodeFileIo, nsDir)?.fences ?? [];
}

/** Who holds the directory lock, or null when the WAL is not open. */
export function readLockHolder(nsDir: string): LockHolder | null {
  let text: string;
  try {
    text = Buffer.from(nodeFileIo.readFile(path.join(nsDir, LOCK_FILE_NAME))).toString('utf8');
  } catch {
    return null;
  }
  const [pidText, hostname = ''] = text.split('\n');
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  const held = kernelLockHeld(path.join(nsDir, LOCK_FILE_NAME));
  return { pid, hostname, alive: held ?? (hostname !== os.hostname() || processExists(pid)) };
}

/**
 * Whether /proc/locks lists a lock on the file (matched by device and inode), or null where there is
 * no /proc/locks. Trying the lock instead could make a concurrent Walrus.open fail with ERR_LOCKED.
 */
function kernelLockHeld(filePath: string): boolean | null {
  let table: string;
  let st: fs.BigIntStats;
  try {
    table = fs.readFileSync('/proc/locks', 'utf8');
    st = fs.statSync(filePath, { bigint: true });
  } catch {
    return null;
  }
  // glibc's encoding of st_dev (gnu_dev_major / gnu_dev_minor); /proc/locks prints them in hex.
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  return table.split('\n').some((line) => {
    const m = /\s([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    return m !== null && BigInt(`0x${m[1]}`) === major && BigInt(`0x${m[2]}`) === minor && BigInt(m[3]!) === st.ino;
  });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holdsLog(dir: string): boolean {
  if (!isDirectory(dir)) return false;
  if (
    nodeFileIo.kind(path.join(dir, MANIFEST_FILE_NAME)) !== null ||
    nodeFileIo.kind(path.join(dir, CURSORS_FILE_NAME)) !== null
  )
    return true;
  return listSegments(nodeFileIo, dir).length > 0;
}

/** Names the sub-directories that hold logs, for someone who forgot `--key`. */
function namespaceHint(dir: string): string {
  let names: string[];
  try {
    names = nodeFileIo
      .readdir(dir)
      .filter((name) => holdsLog(path.join(dir, name)))
      .sort();
  } catch {
    return '';
  }
  if (names.length === 0) return '';
  const shown = names.slice(0, 10).join(', ') + (names.length > 10 ? ', …' : '');
  return ` (namespace directories there: ${shown}; pass --key, or the namespace directory itself)`;
}

function isDirectory(p: string): boolean {
  try {
    return nodeFileIo.kind(p) === 'dir';
  } catch {
    return false;
  }
}
