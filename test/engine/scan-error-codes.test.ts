/**
 * docs/FORMAT.md promises ERR_UNSUPPORTED_FORMAT for a segment written by a newer format version,
 * however many segment files there are. With two or more, recovery scans them on the piscina scan
 * pool (src/engine/main/recovery-scan.ts), so the error crosses a thread on its way to `open` and
 * `verify`: its code must cross with it (it came back as ERR_IO before).
 */
import { describe, expect, it } from 'vitest';
import { SMALL, closeOpened, openWal, tempDir } from '../helpers/wal.js';
import { locateEntries, patchFrameHeader, segmentPaths } from '../helpers/corrupt.js';

/** A log of `segments` segment files (one writer, 64 KiB segments, 40 KiB entries). */
async function logWithSegments(segments: number): Promise<string> {
  const dir = tempDir('walrus-scan-codes-');
  const wal = await openWal({ ...SMALL, dir, writers: 1 });
  const payload = 'x'.repeat(40 * 1024);
  while (segmentPaths(dir).length < segments) await wal.append('t', payload);
  await wal.close();
  await closeOpened();
  expect(segmentPaths(dir)).toHaveLength(segments);
  return dir;
}

/** Makes the last entry's frame claim format version 3, with a valid header checksum. */
function markLastEntryNewer(dir: string): string {
  const entries = locateEntries(dir);
  const last = entries[entries.length - 1]!;
  patchFrameHeader(last.path, last.offset, (header) => {
    header[4] = 3;
  });
  return last.path;
}

describe('an error keeps its code across the scan threads: a newer format is ERR_UNSUPPORTED_FORMAT', () => {
  for (const segments of [1, 2, 4]) {
    it(`open refuses a newer frame with ERR_UNSUPPORTED_FORMAT naming the file (${segments} segment files)`, async () => {
      const dir = await logWithSegments(segments);
      const file = markLastEntryNewer(dir);
      const error = await openWal({ ...SMALL, dir, writers: 1 }).then(
        () => null,
        (err: unknown) => err as { code?: string; message: string; details?: { path?: string } },
      );
      expect(error?.code, error?.message).toBe('ERR_UNSUPPORTED_FORMAT');
      expect(error?.message).not.toContain('ERR_IO');
      expect(error?.details?.path).toBe(file);
    });
  }
});
