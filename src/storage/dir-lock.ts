/**
 * The namespace directory lock (docs/FORMAT.md §1, SPEC §3.1): one open WAL per directory across
 * processes and within this one. The LOCK file names its holder ("<pid>\n<hostname>\n<token>\n");
 * a lock whose process is gone is stale and taken over, so a killed process never blocks the next
 * open. A lock from another host is never judged stale: its pid means nothing here.
 *
 * The token starts with this process's start time on the monotonic clock, which every thread of
 * the process computes alike: a LOCK carrying our own pid is then told apart as held by another
 * thread of this process (live) or left by an earlier process that had the same pid (stale; pid 1
 * in containers restarts with the same pid every time).
 */
import { randomBytes } from 'node:crypto';
// realpath only canonicalizes the directory name for the in-process registry; no data is read.
import { realpathSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { pwriteAll, type FileIo } from './file-io.js';

export const LOCK_FILE_NAME = 'LOCK';
/** How long an unparseable LOCK may stay unparseable before it counts as stale: its creator writes it right after creating it. */
const UNPARSEABLE_GRACE_MS = 200;
const UNPARSEABLE_POLL_MS = 10;
/** Rounds of "create, else inspect and take over" before giving up to a competing opener. */
const MAX_ACQUIRE_ROUNDS = 5;
/** Threads of one process compute its start time within microseconds of each other. */
const SAME_PROCESS_TOLERANCE_US = 1000;

export interface DirLock {
  readonly dir: string;
  readonly path: string;
  /** Removes LOCK if it is still ours; safe to call more than once. */
  release(): void;
}

interface LockHolder {
  pid: number;
  hostname: string;
  token: string;
}

/** Real paths of the directories this thread holds locked. */
const heldLocks = new Set<string>();

export function acquireDirLock(io: FileIo, dir: string): DirLock {
  const realDir = realDirOf(dir);
  const lockPath = path.join(realDir, LOCK_FILE_NAME);
  if (heldLocks.has(realDir)) throw lockedError(lockPath, process.pid, 'it is already open in this process');
  const token = `${processStartUs().toString(16)}-${randomBytes(12).toString('hex')}`;
  const content = new TextEncoder().encode(`${process.pid}\n${os.hostname()}\n${token}\n`);
  for (let round = 0; round < MAX_ACQUIRE_ROUNDS; round++) {
    if (tryCreate(io, lockPath, content)) return register(io, realDir, lockPath, token);
    const found = readSettledLock(io, lockPath);
    if (found === null) continue;
    const holder = parseHolder(found);
    if (holder !== null && isLive(holder))
      throw lockedError(lockPath, holder.pid, `held by pid ${holder.pid} on ${holder.hostname}`);
    takeOverStale(io, lockPath, found, token);
  }
  throw lockedError(lockPath, undefined, 'other processes keep racing for it');
}

function realDirOf(dir: string): string {
  try {
    return realpathSync(dir);
  } catch (err) {
    throw WalError.fromSystem(err, 'resolving the data directory', dir);
  }
}

function register(io: FileIo, realDir: string, lockPath: string, token: string): DirLock {
  // A competitor that judged our just-created, still-empty LOCK stale may have replaced it.
  const now = readLockFile(io, lockPath);
  if (now === null || parseHolder(now)?.token !== token)
    throw lockedError(lockPath, undefined, 'another process took it while it was being created');
  heldLocks.add(realDir);
  let released = false;
  return {
    dir: realDir,
    path: lockPath,
    release() {
      if (released) return;
      released = true;
      heldLocks.delete(realDir);
      const current = readLockFile(io, lockPath);
      if (current !== null && parseHolder(current)?.token === token) unlinkLock(io, lockPath);
    },
  };
}

function tryCreate(io: FileIo, lockPath: string, content: Uint8Array): boolean {
  let fd: number;
  try {
    fd = io.open(lockPath, 'create-exclusive');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw WalError.fromSystem(err, 'creating the directory lock', lockPath);
  }
  try {
    pwriteAll(io, fd, content, 0);
  } catch (err) {
    io.close(fd);
    unlinkLock(io, lockPath);
    throw WalError.fromSystem(err, 'writing the directory lock', lockPath);
  }
  io.close(fd);
  return true;
}

/** LOCK's text, or null if it vanished; waits briefly while it is empty or partial (being written). */
function readSettledLock(io: FileIo, lockPath: string): string | null {
  const deadline = Date.now() + UNPARSEABLE_GRACE_MS;
  for (;;) {
    const text = readLockFile(io, lockPath);
    if (text === null || parseHolder(text) !== null || Date.now() >= deadline) return text;
    sleepMs(UNPARSEABLE_POLL_MS);
  }
}

function readLockFile(io: FileIo, lockPath: string): string | null {
  try {
    return new TextDecoder().decode(io.readFile(lockPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw WalError.fromSystem(err, 'reading the directory lock', lockPath);
  }
}

function parseHolder(text: string): LockHolder | null {
  const match = /^(\d+)\n([^\n]+)\n(\S+)\n$/.exec(text);
  if (match === null) return null;
  return { pid: Number(match[1]), hostname: match[2]!, token: match[3]! };
}

function isLive(holder: LockHolder): boolean {
  if (holder.hostname !== os.hostname()) return true;
  if (holder.pid === process.pid) return isThisProcess(holder.token);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a token with our pid was written by this process; a token without a start stamp counts as ours. */
function isThisProcess(token: string): boolean {
  const stamp = /^([0-9a-f]+)-/.exec(token);
  if (stamp === null) return true;
  return Math.abs(parseInt(stamp[1]!, 16) - processStartUs()) <= SAME_PROCESS_TOLERANCE_US;
}

/** Microseconds from an arbitrary origin (the monotonic clock's) to the start of this process. */
function processStartUs(): number {
  return Number(process.hrtime.bigint() / 1000n) - Math.round(process.uptime() * 1e6);
}

/**
 * Moves the stale LOCK aside under a name only we use, then checks we moved the file we judged:
 * if a competitor replaced it in between, its fresh lock is put back and we report it as held.
 */
function takeOverStale(io: FileIo, lockPath: string, staleText: string, token: string): void {
  const asidePath = `${lockPath}.stale-${token}`;
  try {
    io.rename(lockPath, asidePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw WalError.fromSystem(err, 'taking over a stale directory lock', lockPath);
  }
  const moved = readLockFile(io, asidePath);
  if (moved === staleText) {
    unlinkLock(io, asidePath);
    return;
  }
  try {
    io.rename(asidePath, lockPath);
  } catch (err) {
    throw WalError.fromSystem(err, 'restoring a directory lock taken by mistake', lockPath);
  }
  const holder = moved === null ? null : parseHolder(moved);
  throw lockedError(lockPath, holder?.pid, 'another process took it over first');
}

function unlinkLock(io: FileIo, filePath: string): void {
  try {
    io.unlink(filePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw WalError.fromSystem(err, 'removing the directory lock', filePath);
  }
}

function lockedError(lockPath: string, pid: number | undefined, why: string): WalError {
  const holder = pid === undefined ? '' : ` (holder pid ${pid})`;
  return new WalError('ERR_LOCKED', `${path.dirname(lockPath)} is locked${holder}: ${why}`, { path: lockPath });
}

/** A synchronous pause for the rare wait on a LOCK being written by its creator. */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
