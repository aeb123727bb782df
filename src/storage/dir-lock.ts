/**
 * The namespace directory lock (docs/FORMAT.md §1, README.md, API; docs/SEMANTICS.md rules
 * H1–H7): one open WAL per directory across processes, containers and threads.
 *
 * The lock is a kernel advisory lock on LOCK (FileIo.tryLock: an OFD lock on Linux, taken through
 * fs-native-extensions), held on a descriptor that stays open while the WAL is open. The kernel
 * drops it when that descriptor is closed, and closes the descriptor when its process dies, so no
 * liveness guess is needed: a pid and a hostname say nothing across PID namespaces (a container
 * sharing the host's hostname, two Compose replicas with one `hostname:`), and a takeover protocol
 * built on renames lets a three-way race end with two holders. Why this package and not another:
 * - fs-native-extensions ships prebuilt binaries in its npm tarball: no install script, so it
 *   installs under npm's default install-script policy (allowScripts), with --ignore-scripts, and
 *   on a machine with no compiler or network. Its Linux lock is an OFD lock (per open file
 *   description): two opens in one process or in two of its threads exclude each other, and
 *   closing some other descriptor of LOCK (a reader) does not drop it. About 1.4 µs per lock/unlock.
 * - fs-ext (flock, about 1.3 µs) and os-lock build from source with node-gyp in an install script,
 *   which npm blocks by default in every project that installs walrus-ts, and which needs python,
 *   a compiler and Node headers there. os-lock also takes POSIX fcntl locks (per process: a second
 *   open in the same process gets the lock too, and closing any descriptor of the file drops it)
 *   and is asynchronous only (about 49 µs per lock/unlock).
 *
 * LOCK is never unlinked: a holder that unlinked it on release could leave a competitor locking the
 * old, unlinked inode while a third opener creates and locks a new one. Its text names the holder
 * for diagnostics only ("<pid>\n<hostname>\n<token>\n", read by `walrus stats`); it is emptied on a
 * clean release, and a killed holder's text stays until the next open overwrites it.
 *
 * A thread that dies without close(): Node closes the descriptors a worker thread opened when that
 * worker ends (Worker option trackUnmanagedFds, on by default), which drops its lock. A worker
 * created with `trackUnmanagedFds: false` keeps it until the process exits (docs/DURABILITY.md).
 */
import { randomBytes } from 'node:crypto';
// realpath only canonicalizes the directory name for the in-thread registry; no data is read.
import { realpathSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { pwriteAll, type FileIo } from './file-io.js';

export const LOCK_FILE_NAME = 'LOCK';

export interface DirLock {
  readonly dir: string;
  readonly path: string;
  /** Empties LOCK and closes its descriptor, which releases the kernel lock; safe to call more than once. */
  release(): void;
}

/** Real paths of the directories this thread holds locked: a second open here gets a clearer message. */
const heldLocks = new Set<string>();

export function acquireDirLock(io: FileIo, dir: string): DirLock {
  const realDir = realDirOf(dir);
  const lockPath = path.join(realDir, LOCK_FILE_NAME);
  if (heldLocks.has(realDir)) throw lockedError(lockPath, process.pid, 'it is already open in this thread');
  let fd: number;
  try {
    fd = io.open(lockPath, 'write');
  } catch (err) {
    throw WalError.fromSystem(err, 'opening the directory lock', lockPath);
  }
  try {
    if (!io.tryLock(fd)) throw lockedError(lockPath, undefined, heldBy(io, lockPath));
    const token = randomBytes(12).toString('hex');
    const content = new TextEncoder().encode(`${process.pid}\n${os.hostname()}\n${token}\n`);
    io.ftruncate(fd, 0);
    pwriteAll(io, fd, content, 0);
  } catch (err) {
    io.close(fd);
    throw WalError.fromSystem(err, 'writing the directory lock', lockPath);
  }
  heldLocks.add(realDir);
  let released = false;
  return {
    dir: realDir,
    path: lockPath,
    release() {
      if (released) return;
      released = true;
      heldLocks.delete(realDir);
      try {
        // Emptied while still held, so a reader never sees a released lock still naming us.
        io.ftruncate(fd, 0);
      } catch {
        // Only diagnostics are lost: the kernel lock goes with the descriptor below.
      } finally {
        io.close(fd);
      }
    },
  };
}

function realDirOf(dir: string): string {
  try {
    return realpathSync(dir);
  } catch (err) {
    throw WalError.fromSystem(err, 'resolving the data directory', dir);
  }
}

/** Who the LOCK text names, for the message; the holder may still be writing it. */
function heldBy(io: FileIo, lockPath: string): string {
  let text = '';
  try {
    text = new TextDecoder().decode(io.readFile(lockPath));
  } catch {
    // Unreadable text does not make the lock less held.
  }
  const match = /^(\d+)\n([^\n]*)\n/.exec(text);
  if (match === null) return 'held by another open (its holder has not named itself yet)';
  const host = JSON.stringify(match[2]!);
  return `held by another open: pid ${match[1]} on ${host}${match[1] === String(process.pid) && match[2] === os.hostname() ? ' (maybe this process, in another thread)' : ''}`;
}

function lockedError(lockPath: string, pid: number | undefined, why: string): WalError {
  const holder = pid === undefined ? '' : ` (holder pid ${pid})`;
  return new WalError('ERR_LOCKED', `${path.dirname(lockPath)} is locked${holder}: ${why}`, { path: lockPath });
}
