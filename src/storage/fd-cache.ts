/**
 * Open descriptors of segments that are read but no longer written, least recently used first out,
 * so a reader catching up over many segments never holds more than `capacityFiles` of them.
 */
import { WalError } from '../errors.js';
import type { FileIo } from './file-io.js';

export const DEFAULT_FD_CACHE_FILES = 64;

export class FdCache {
  private readonly io: FileIo;
  private readonly capacityFiles: number;
  private readonly fds = new Map<string, number>();

  constructor(io: FileIo, capacityFiles = DEFAULT_FD_CACHE_FILES) {
    this.io = io;
    this.capacityFiles = capacityFiles;
  }

  get(path: string): number {
    const cached = this.fds.get(path);
    if (cached !== undefined) {
      this.fds.delete(path);
      this.fds.set(path, cached);
      return cached;
    }
    let fd: number;
    try {
      fd = this.io.open(path, 'read');
    } catch (err) {
      throw WalError.fromSystem(err, 'open segment', path);
    }
    this.adopt(path, fd);
    return fd;
  }

  /** Takes ownership of an already open descriptor (a segment its writer has just sealed). */
  adopt(path: string, fd: number): void {
    this.drop(path);
    this.fds.set(path, fd);
    while (this.fds.size > this.capacityFiles) this.drop(this.fds.keys().next().value!);
  }

  drop(path: string): void {
    const fd = this.fds.get(path);
    if (fd === undefined) return;
    this.fds.delete(path);
    this.closeQuietly(fd);
  }

  closeAll(): void {
    for (const fd of this.fds.values()) this.closeQuietly(fd);
    this.fds.clear();
  }

  // Data reaches the file through write descriptors and their fsyncs; a failed close of a cached
  // descriptor cannot lose any, and must not stop the others from being closed.
  private closeQuietly(fd: number): void {
    try {
      this.io.close(fd);
    } catch {
      // nothing to recover: the descriptor is gone either way
    }
  }
}
