/**
 * The one file-system seam. Every operation on data, cursor, manifest and lock files goes through a
 * `FileIo`, so tests can record it (power-loss simulation) or fault it (ENOSPC, EIO, short writes).
 * No other module imports `node:fs` for data files.
 *
 * Who chooses the FileIo: the storage core (src/storage/) takes one as a parameter and never picks
 * one itself; `LogStore` takes one in its options (the power-loss simulator records through it). In
 * the engine each thread picks at one place: the worker shells (workers/*.ts) hand `nodeFileIo` to
 * their service (the test shells in test/tools/workers/ hand it a faulty one), and the main thread
 * uses `nodeFileIo` for all it touches (opening the namespace, the cursor log, reads of segment
 * files, recovery and verify scans, segment listings). Nothing substitutes the main thread's, so it
 * takes no parameter.
 *
 * All calls are synchronous. Writes run in writer and flusher workers, but not all other calls: the
 * main thread opens the namespace, scans a lone segment inline, reads entries with positional reads
 * of at most 1 MiB (src/engine/main/segment-reads.ts), and under strictly-at-once writes the cursor
 * log with one synchronous `pwrite` per event-loop turn of reads (the cursor must be stored before
 * the entries are handed out), costs paid on the caller's event loop.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { WalError } from '../errors.js';

export type OpenMode = 'read' | 'write' | 'append-create' | 'create-exclusive';

export interface FileIo {
  /**
   * Opens a file; 'write' opens read-write and creates it if missing; 'create-exclusive' fails with
   * EEXIST. A symbolic link is never followed and anything but a regular file (FIFO, device,
   * socket, directory) is refused, both as ERR_CORRUPT (docs/SEMANTICS.md rules H1–H7).
   */
  open(filePath: string, mode: OpenMode): number;
  close(fd: number): void;
  /** Positional write of the whole buffer range; returns the bytes written (may be short). */
  pwrite(fd: number, data: Uint8Array, offset: number, length: number, position: number): number;
  /** Positional read; returns the bytes read (0 at end of file). */
  pread(fd: number, into: Uint8Array, offset: number, length: number, position: number): number;
  fdatasync(fd: number): void;
  fsync(fd: number): void;
  ftruncate(fd: number, lengthBytes: number): void;
  fileSize(fd: number): number;
  /**
   * An opaque stamp of the file open as `fd` that changes whenever its content or metadata does
   * (on Linux its inode number and ctime in nanoseconds, which no user can set back): a summary
   * records it, and a segment whose stamp moved since is scanned, never trusted (FORMAT §15.4).
   */
  changeStamp(fd: number): string;
  /** fsync of a directory, so that creates, renames and unlinks in it survive a power loss. */
  fsyncDir(dirPath: string): void;
  rename(from: string, to: string): void;
  unlink(filePath: string): void;
  readdir(dirPath: string): string[];
  /**
   * Creates `dirPath` (and missing parents) with `modeBits` set explicitly, whatever the umask. A
   * directory that exists is checked as a namespace directory must be: it (or the symbolic link
   * naming it) belongs to this user or root, else ERR_INVALID_ARGUMENT; when it is this user's own
   * its mode is set to `modeBits`, so files created in it get the group bits it grants.
   */
  mkdirp(dirPath: string, modeBits: number): void;
  /** 'file' (regular, not through a symlink) | 'dir' (also through a symlink) | 'other' | null when missing. */
  kind(filePath: string): 'file' | 'dir' | 'other' | null;
  /** The whole file; like `open`, never through a symbolic link and only a regular file. */
  readFile(filePath: string): Uint8Array;
  /**
   * Takes an exclusive advisory lock on the whole file open as `fd`, without waiting: false when
   * another open of the file (this process or another) holds it. The kernel releases it when the
   * descriptor is closed, also by the death of its process.
   */
  tryLock(fd: number): boolean;
  /**
   * An id of this boot of the machine, or null where there is none: a summary written without
   * fsync (fsync 'none') is trusted only by an open in the same boot, whose page cache still holds
   * both it and the segment it describes (docs/FORMAT.md §15.4 rule 4).
   */
  bootId(): string | null;
}

const C = fs.constants;
/**
 * O_NOFOLLOW: a symbolic link planted at one of our names fails with ELOOP instead of redirecting
 * a write (or a truncate) to its target. O_NONBLOCK: opening a FIFO never waits for a peer (it is
 * then refused by the regular-file check); it changes nothing for regular files. O_NOCTTY: a
 * terminal planted there never becomes our controlling terminal.
 */
const SAFE_FLAGS = C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;
const OPEN_FLAGS: Record<OpenMode, number> = {
  read: C.O_RDONLY | SAFE_FLAGS,
  // Not O_TRUNC: segment files are only created once per name, so 'write' means "create or open
  // read-write without truncating".
  write: C.O_RDWR | C.O_CREAT | SAFE_FLAGS,
  'append-create': C.O_RDWR | C.O_APPEND | C.O_CREAT | SAFE_FLAGS,
  // O_CREAT | O_EXCL never follows a symbolic link either: a planted one is EEXIST.
  'create-exclusive': C.O_RDWR | C.O_CREAT | C.O_EXCL | SAFE_FLAGS,
};
/** Owner read/write; the group read bit is added where the directory grants the group access. */
const OWNER_FILE_MODE = 0o600;
const GROUP_READ = 0o040;
const GROUP_READ_EXECUTE = 0o050;
const ROOT_UID = 0;
const OWNER_DIR_MODE = 0o700;
const GROUP_DIR_MODE = 0o750;

/** The namespace directory's mode: the owner's only, or also readable by its group (option groupAccess). */
export function namespaceDirMode(groupAccess: boolean): number {
  return groupAccess ? GROUP_DIR_MODE : OWNER_DIR_MODE;
}

interface LockBinding {
  tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
}
let lockBinding: LockBinding | null = null;

/**
 * fs-native-extensions: Linux OFD locks (fcntl F_OFD_SETLK), flock on macOS, LockFileEx on Windows,
 * from prebuilt binaries inside its npm tarball (no install script, no download, no compiler). OFD
 * locks belong to the open file description, not the process: two opens in one process (or in two
 * of its threads) exclude each other, closing another descriptor of the file keeps the lock (unlike
 * POSIX fcntl locks, which os-lock uses), and the kernel drops it when its process dies, whatever PID
 * namespace the process is in. Loaded on first use, so threads that never lock never load it.
 */
function lockAddon(): LockBinding {
  if (lockBinding === null) lockBinding = createRequire(import.meta.url)('fs-native-extensions') as LockBinding;
  return lockBinding;
}

/** Opens with SAFE_FLAGS and keeps the descriptor only if it is a regular file. */
function openRegular(filePath: string, flags: number): number {
  let fd: number;
  try {
    fd = fs.openSync(filePath, flags, flags & C.O_CREAT ? fileModeFor(filePath) : 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw notRegular(filePath, 'a symbolic link', err);
    throw err;
  }
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw notRegular(filePath, describeKind(st));
  }
  return fd;
}

function statOrNull(filePath: string): fs.Stats | null {
  try {
    return fs.statSync(filePath);
  } catch {
    return null;
  }
}

/** 0600, or 0640 where the directory grants its group read and search (groupAccess). */
function fileModeFor(filePath: string): number {
  try {
    const dirMode = fs.statSync(path.dirname(filePath)).mode;
    return (dirMode & GROUP_READ_EXECUTE) === GROUP_READ_EXECUTE ? OWNER_FILE_MODE | GROUP_READ : OWNER_FILE_MODE;
  } catch {
    return OWNER_FILE_MODE;
  }
}

function describeKind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

function notRegular(filePath: string, what: string, cause?: unknown): WalError {
  return WalError.corrupt(`${filePath} is ${what} where walrus keeps a regular file of its own; it is never followed`, {
    path: filePath,
    ...(cause === undefined ? {} : { errno: (cause as NodeJS.ErrnoException).code }),
  });
}

/** Whether the directory (or a symbolic link naming it) may be trusted: it is ours or root's. */
function checkTrustedDir(dirPath: string, modeBits: number): void {
  const euid = process.geteuid?.();
  if (euid === undefined) return; // Windows: no uids; ACLs are the operator's.
  const untrusted = (what: string, uid: number) =>
    WalError.invalidArgument(
      `the data directory ${dirPath} is ${what} owned by uid ${uid}, not by this user (uid ${euid}) or root; ` +
        'walrus does not write where another user controls the names',
      { path: dirPath },
    );
  const link = fs.lstatSync(dirPath);
  if (link.isSymbolicLink() && link.uid !== euid && link.uid !== ROOT_UID) throw untrusted('a symbolic link', link.uid);
  const target = link.isSymbolicLink() ? fs.statSync(dirPath) : link;
  if (!target.isDirectory())
    throw WalError.invalidArgument(`the data directory ${dirPath} exists and is not a directory`, { path: dirPath });
  if (target.uid !== euid && target.uid !== ROOT_UID) throw untrusted('a directory', target.uid);
  // Only its owner may chmod it; umask never narrows a chmod.
  if (target.uid === euid && (target.mode & 0o777) !== modeBits) fs.chmodSync(dirPath, modeBits);
}

export const nodeFileIo: FileIo = {
  open(filePath, mode) {
    return openRegular(filePath, OPEN_FLAGS[mode]);
  },
  close(fd) {
    fs.closeSync(fd);
  },
  pwrite(fd, data, offset, length, position) {
    return fs.writeSync(fd, data, offset, length, position);
  },
  pread(fd, into, offset, length, position) {
    return fs.readSync(fd, into, offset, length, position);
  },
  fdatasync(fd) {
    fs.fdatasyncSync(fd);
  },
  fsync(fd) {
    fs.fsyncSync(fd);
  },
  ftruncate(fd, lengthBytes) {
    fs.ftruncateSync(fd, lengthBytes);
  },
  fileSize(fd) {
    return fs.fstatSync(fd).size;
  },
  changeStamp(fd) {
    const st = fs.fstatSync(fd, { bigint: true });
    return `${st.ino}:${st.ctimeNs}`;
  },
  fsyncDir(dirPath) {
    const fd = fs.openSync(dirPath, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  rename(from, to) {
    fs.renameSync(from, to);
  },
  unlink(filePath) {
    fs.unlinkSync(filePath);
  },
  readdir(dirPath) {
    return fs.readdirSync(dirPath);
  },
  mkdirp(dirPath, modeBits) {
    fs.mkdirSync(dirPath, { recursive: true, mode: modeBits });
    checkTrustedDir(dirPath, modeBits);
  },
  kind(filePath) {
    try {
      // A symbolic link is 'other' (never followed to a file) unless it names a directory, whose
      // trust is mkdirp's to judge.
      const link = fs.lstatSync(filePath);
      const st = link.isSymbolicLink() ? statOrNull(filePath) : link;
      if (st === null) return 'other';
      if (st.isDirectory()) return 'dir';
      return st.isFile() && !link.isSymbolicLink() ? 'file' : 'other';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  },
  readFile(filePath) {
    const fd = openRegular(filePath, OPEN_FLAGS.read);
    try {
      return fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  tryLock(fd) {
    return lockAddon().tryLock(fd);
  },
  bootId() {
    return linuxBootId();
  },
};

const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';
let bootIdRead: string | null | undefined;

function linuxBootId(): string | null {
  if (bootIdRead === undefined) {
    try {
      bootIdRead = fs.readFileSync(BOOT_ID_PATH, 'utf8').trim() || null;
    } catch {
      bootIdRead = null;
    }
  }
  return bootIdRead;
}

/** Size of the file at `filePath` in bytes. */
export function fileSizeAt(io: FileIo, filePath: string): number {
  const fd = io.open(filePath, 'read');
  try {
    return io.fileSize(fd);
  } finally {
    io.close(fd);
  }
}

/** Writes all of `data` at `position`, looping over short writes; throws on a zero-byte write. */
export function pwriteAll(io: FileIo, fd: number, data: Uint8Array, position: number, length = data.byteLength): void {
  let done = 0;
  while (done < length) {
    const n = io.pwrite(fd, data, done, length - done, position + done);
    if (n <= 0) {
      const err = new Error(`short write: ${done} of ${length} bytes`) as NodeJS.ErrnoException;
      err.code = 'EIO';
      err.syscall = 'write';
      throw err;
    }
    done += n;
  }
}

/** Reads up to `length` bytes at `position`, looping over short reads; returns bytes read (less at EOF). */
export function preadFull(
  io: FileIo,
  fd: number,
  into: Uint8Array,
  position: number,
  length = into.byteLength,
  offset = 0,
): number {
  let done = 0;
  while (done < length) {
    const n = io.pread(fd, into, offset + done, length - done, position + done);
    if (n <= 0) break;
    done += n;
  }
  return done;
}

/**
 * Replaces a control file (MANIFEST, CURSORS) atomically and durably, in every fsync mode: write a
 * fresh `target.tmp` (see createFresh), fsync it, rename over `target`, fsync the directory. Without
 * the fsyncs a power cut can keep the rename and lose the bytes, and a torn control file leaves a log
 * that does not open (docs/SEMANTICS.md rule 7).
 */
export function writeFileAtomic(io: FileIo, target: string, data: Uint8Array): void {
  const tmp = `${target}.tmp`;
  const fd = createFresh(io, tmp);
  try {
    pwriteAll(io, fd, data, 0);
    io.fsync(fd);
  } finally {
    io.close(fd);
  }
  io.rename(tmp, target);
  io.fsyncDir(path.dirname(target));
}

/**
 * Creates `filePath` as a new, empty file of our own: whatever is there (a temporary file a crash
 * left, or a symbolic link someone planted) is unlinked first — unlink removes a link, never its
 * target — and the file is then created with O_EXCL, so nothing existing is ever truncated.
 */
export function createFresh(io: FileIo, filePath: string): number {
  try {
    io.unlink(filePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return io.open(filePath, 'create-exclusive');
}
