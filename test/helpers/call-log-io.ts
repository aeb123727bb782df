/**
 * A FileIo over the real file system that logs its durability calls, in order: `fsync`,
 * `fdatasync`, `fsyncDir`, and `rename <from> <to>` (base names). For tests that pin what a call
 * made durable before it returned.
 */
import * as path from 'node:path';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';

export function callLoggingIo(calls: string[]): FileIo {
  return {
    ...nodeFileIo,
    fsync: (fd) => {
      calls.push('fsync');
      nodeFileIo.fsync(fd);
    },
    fdatasync: (fd) => {
      calls.push('fdatasync');
      nodeFileIo.fdatasync(fd);
    },
    fsyncDir: (dir) => {
      calls.push('fsyncDir');
      nodeFileIo.fsyncDir(dir);
    },
    rename: (from, to) => {
      calls.push(`rename ${path.basename(from)} ${path.basename(to)}`);
      nodeFileIo.rename(from, to);
    },
  };
}
