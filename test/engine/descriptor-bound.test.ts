/**
 * Open descriptors do not grow with the log (issue 12 item 6). The flusher kept one descriptor per
 * segment it ever fsynced, until reclamation or exit (157 segments → 222 open), so a log retained
 * long enough reached EMFILE, then a failed fsync, then a dead WAL. A segment that is sealed and
 * synced is closed; what stays open is bounded by the writer's read cache (FdCache, 64 files).
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FD_CACHE_FILES } from '../../dist/src/storage/fd-cache.js';
import { openWal, tempDir } from '../helpers/wal.js';
import { segmentPaths } from '../helpers/corrupt.js';

/** This process's open descriptors on files inside `dir`. */
function descriptorsInto(dir: string): number {
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`)) count++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return count;
}

describe.skipIf(!fs.existsSync('/proc/self/fd'))(
  'open descriptors stay bounded however many segments a log keeps',
  () => {
    it('250 retained segments hold no more descriptors than 100 did, and fewer than the read cache bound', async () => {
      const dir = tempDir('walrus-fds-');
      // One writer, the smallest segments, fsync on every append: every segment is sealed and synced.
      const wal = await openWal({
        dir,
        writers: 1,
        ringBytes: 256 * 1024,
        segmentBytes: 64 * 1024,
        blockBytes: 4096,
        fsync: 'each',
      });
      const payload = 'x'.repeat(40 * 1024);
      const grow = async (segments: number): Promise<void> => {
        while (segmentPaths(dir).length < segments) await wal.append('t', payload);
      };
      await grow(100);
      const at100 = descriptorsInto(dir);
      await grow(250);
      const at250 = descriptorsInto(dir);
      expect(at250, `${at100} descriptors at 100 segments, ${at250} at 250`).toBeLessThanOrEqual(at100 + 1);
      expect(at250).toBeLessThanOrEqual(DEFAULT_FD_CACHE_FILES + 8);
    });
  },
);
