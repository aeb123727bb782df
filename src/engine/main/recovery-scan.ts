/**
 * Scans segment files for recovery and verify(): one stateless piscina task per file, in parallel.
 * A single file is scanned inline, since starting a pool costs more than scanning it. The main
 * thread reads through `nodeFileIo` (src/storage/file-io.ts says why it has no other).
 *
 * The pool is also the CLI's (src/cli/segment-scans.ts): `openScanPool` and `scanOnPool` are the one
 * way to start it and to get a scan back with its error code intact.
 */
import * as os from 'node:os';
import { Piscina } from 'piscina';
import { nodeFileIo } from '../../storage/file-io.js';
import { scanSegment, type SegmentScan } from '../../storage/segment-scanner.js';
import { scanOfAnswer, type ScanAnswer } from '../shared/scan-protocol.js';
import { workerStartOptions } from './worker-options.js';
import { workerUrl } from './worker-url.js';

export async function scanSegmentsInParallel(paths: string[]): Promise<SegmentScan[]> {
  if (paths.length === 0) return [];
  if (paths.length === 1) return [scanSegment(nodeFileIo, paths[0]!)];
  const pool = openScanPool(paths.length);
  try {
    return await Promise.all(paths.map((p) => scanOnPool(pool, p)));
  } finally {
    await pool.close();
  }
}

/** A pool of scan threads for `files` files, no more threads than files or cores. */
export function openScanPool(files: number): Piscina {
  return new Piscina({
    ...workerStartOptions(),
    filename: workerUrl('scan.task').href,
    minThreads: 1,
    maxThreads: Math.max(1, Math.min(files, os.availableParallelism())),
  });
}

/** The scan of one file on the pool; a failed scan rejects with the WalError the task hit, code included. */
export async function scanOnPool(pool: Piscina, filePath: string): Promise<SegmentScan> {
  return scanOfAnswer((await pool.run(filePath)) as ScanAnswer);
}
