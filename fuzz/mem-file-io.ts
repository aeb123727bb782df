/**
 * A FileIo over a few in-memory files, for the fuzz targets: the parsers read exactly the bytes the
 * fuzzer made, with no disk round trip per input, and a file never changes under them (so any
 * "file shrank" or ERR_IO a parser reports is its own defect, not the file system's).
 * Writes are kept too (CursorStore.open truncates and reopens its log).
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { FileIo, OpenMode } from '../dist/src/storage/file-io.js';

function enoent(syscall: string, filePath: string): NodeJS.ErrnoException {
  const err = new Error(`ENOENT: no such file or directory, ${syscall} '${filePath}'`) as NodeJS.ErrnoException;
  err.code = 'ENOENT';
  err.syscall = syscall;
  err.path = filePath;
  return err;
}

export class MemFileIo implements FileIo {
  readonly files = new Map<string, Uint8Array>();
  readonly #fds = new Map<number, string>();
  #nextFd = 100;

  constructor(files: Record<string, Uint8Array> = {}) {
    for (const [name, bytes] of Object.entries(files)) this.files.set(path.resolve(name), bytes);
  }

  #file(fd: number): Uint8Array {
    const name = this.#fds.get(fd);
    if (name === undefined) throw new Error(`EBADF: fd ${fd}`);
    return this.files.get(name)!;
  }

  open(filePath: string, mode: OpenMode): number {
    const name = path.resolve(filePath);
    if (!this.files.has(name)) {
      if (mode === 'read') throw enoent('open', name);
      this.files.set(name, new Uint8Array(0));
    }
    const fd = this.#nextFd++;
    this.#fds.set(fd, name);
    return fd;
  }
  close(fd: number): void {
    this.#fds.delete(fd);
  }
  // One process, no other holder: the parsers under test never take the directory lock anyway.
  tryLock(): boolean {
    return true;
  }
  bootId(): string | null {
    return 'fuzz-boot';
  }
  pwrite(fd: number, data: Uint8Array, offset: number, length: number, position: number): number {
    const name = this.#fds.get(fd)!;
    const old = this.#file(fd);
    const end = Math.max(old.byteLength, position + length);
    const grown = end > old.byteLength ? new Uint8Array(end) : old;
    if (grown !== old) grown.set(old);
    grown.set(data.subarray(offset, offset + length), position);
    this.files.set(name, grown);
    return length;
  }
  pread(fd: number, into: Uint8Array, offset: number, length: number, position: number): number {
    const file = this.#file(fd);
    const n = Math.max(0, Math.min(length, file.byteLength - position));
    into.set(file.subarray(position, position + n), offset);
    return n;
  }
  fdatasync(): void {}
  fsync(): void {}
  ftruncate(fd: number, lengthBytes: number): void {
    const old = this.#file(fd);
    const out = new Uint8Array(lengthBytes);
    out.set(old.subarray(0, Math.min(lengthBytes, old.byteLength)));
    this.files.set(this.#fds.get(fd)!, out);
  }
  fileSize(fd: number): number {
    return this.#file(fd).byteLength;
  }
  changeStamp(fd: number): string {
    return createHash('sha1').update(this.#file(fd)).digest('hex');
  }
  fsyncDir(): void {}
  rename(from: string, to: string): void {
    const bytes = this.files.get(path.resolve(from));
    if (bytes === undefined) throw enoent('rename', from);
    this.files.delete(path.resolve(from));
    this.files.set(path.resolve(to), bytes);
  }
  unlink(filePath: string): void {
    if (!this.files.delete(path.resolve(filePath))) throw enoent('unlink', filePath);
  }
  readdir(dirPath: string): string[] {
    const dir = path.resolve(dirPath);
    return [...this.files.keys()].filter((name) => path.dirname(name) === dir).map((name) => path.basename(name));
  }
  mkdirp(): void {}
  kind(filePath: string): 'file' | 'dir' | 'other' | null {
    const name = path.resolve(filePath);
    if (this.files.has(name)) return 'file';
    for (const other of this.files.keys()) if (other.startsWith(name + path.sep)) return 'dir';
    return null;
  }
  readFile(filePath: string): Uint8Array {
    const bytes = this.files.get(path.resolve(filePath));
    if (bytes === undefined) throw enoent('open', filePath);
    return bytes.slice();
  }
}
