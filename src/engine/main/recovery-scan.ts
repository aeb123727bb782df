/**
 * Scans segment files for recovery and verify(): one stateless piscina task per file, in parallel.
 * A single file is scanned inline, since starting a pool costs more than scanning it.
 */
import * as os from 'node:os';
import { Piscina } from 'piscina';
import { toWalError } from '../../errors.js';
import { nodeFileIo } from '../../storage/file-io.js';
import { scanSegment, type SegmentScan } from '../../storage/segment-scanner.js';
import { workerUrl } from './worker-url.js';

export async function scanSegmentsInParallel(paths: string[]): Promise<SegmentScan[]> {
  if (paths.length === 0) return [];
  if (paths.length === 1) return [scanSegment(nodeFileIo, paths[0]!)];
  const pool = new Piscina({
    filename: workerUrl('scan.task').href,
    minThreads: 1,
    maxThreads: Math.max(1, Math.min(paths.length, os.availableParallelism())),
  });
  try {
    // A task's error crosses the thread as a plain Error (its code is lost): typed here, like inline.
    return await Promise.all(
      paths.map((p) =>
        (pool.run(p) as Promise<SegmentScan>).catch((err: unknown) => Promise.reject(toWalError(err, 'ERR_IO'))),
      ),
    );
  } finally {
    await pool.close();
  }
}
