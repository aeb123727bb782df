/**
 * The one file-system seam. Every operation on data, cursor, manifest and lock files goes through a
 * `FileIo`, so tests can record it (power-loss simulation) or fault it (ENOSPC, EIO, short writes).
 * No other module imports `node:fs` for data files.
 *
 * Who chooses the FileIo: the storage core (src/storage/) takes one as a parameter and never picks
 * one itself; `LogStore` takes one in its options (the power-loss simulator records through it). In
 * the engine each thread picks at one place: the worker shells (workers/*.ts) hand `nodeFileIo` to
 * their service (the test shells in test/tools/workers/ hand it a faulty one), and the main thread
 * uses `nodeFileIo` for all it touches (opening the namespace, the cursor log, recovery and verify
 * scans, segment listings). Nothing substitutes the main thread's, so it takes no parameter.
 *
 * All calls are synchronous. Most run in writer and flusher workers, but not all of them: the main
 * thread opens the namespace, scans a lone segment inline, and under strictly-at-once reads writes
 * the cursor log with a synchronous `pwrite` on every read (the cursor must be stored before the
 * entry is handed out), a cost paid on the caller's event loop.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type OpenMode = 'read' | 'write' | 'append-create' | 'create-exclusive';

export interface FileIo {
  /** Opens a file; 'write' opens read-write and creates it if missing; 'create-exclusive' fails with EEXIST. */
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
  /** fsync of a directory, so that creates, renames and unlinks in it survive a power loss. */
  fsyncDir(dirPath: string): void;
  rename(from: string, to: string): void;
  unlink(filePath: string): void;
  readdir(dirPath: string): string[];
  mkdirp(dirPath: string): void;
  /** 'file' | 'dir' | null when missing. */
  kind(filePath: string): 'file' | 'dir' | 'other' | null;
  readFile(filePath: string): Uint8Array;
}

const OPEN_FLAGS: Record<OpenMode, string> = {
  read: 'r',
  write: 'w+',
  'append-create': 'a+',
  'create-exclusive': 'wx',
};

export const nodeFileIo: FileIo = {
  open(filePath, mode) {
    // 'w+' truncates; segment files are only created once per name, so 'write' means
    // "create or open read-write without truncating" — done with explicit flags.
    if (mode === 'write') return fs.openSync(filePath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    return fs.openSync(filePath, OPEN_FLAGS[mode], 0o644);
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
  mkdirp(dirPath) {
    fs.mkdirSync(dirPath, { recursive: true });
  },
  kind(filePath) {
    try {
      const st = fs.statSync(filePath);
      return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  },
  readFile(filePath) {
    return fs.readFileSync(filePath);
  },
};

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
 * Replaces `target` atomically: write `target.tmp`, fsync it, rename over `target`, fsync the
 * directory. With `durable: false` (fsync mode 'none') the two fsyncs are skipped.
 */
export function writeFileAtomic(io: FileIo, target: string, data: Uint8Array, durable: boolean): void {
  const tmp = `${target}.tmp`;
  const fd = io.open(tmp, 'write');
  try {
    io.ftruncate(fd, 0);
    pwriteAll(io, fd, data, 0);
    if (durable) io.fsync(fd);
  } finally {
    io.close(fd);
  }
  io.rename(tmp, target);
  if (durable) io.fsyncDir(path.dirname(target));
}
