/**
 * Scans segment files with the storage core's scanner: in parallel on the piscina scan task the
 * engine uses at open (one stateless task per file), or inline when the work is too small to pay
 * for starting a pool. Unlike src/engine/main/recovery-scan.ts it reports each finished file (verify's
 * progress bar) and tolerates files that vanish mid-scan, since a live service reclaims segments.
 */
import { openScanPool, scanOnPool } from '../engine/main/recovery-scan.js';
import { nodeFileIo } from '../storage/file-io.js';
import { scanSegment, type SegmentScan } from '../storage/segment-scanner.js';

export interface SegmentFile {
  path: string;
  sizeBytes: number;
}

export interface ScanProgress {
  doneFiles: number;
  totalFiles: number;
  doneBytes: number;
  totalBytes: number;
}

/** Below this much data a pool's startup costs more than it saves. */
const INLINE_SCAN_BYTES = 8 * 1024 * 1024;

/** Scans of the files still present, in the order given; files deleted meanwhile are left out. */
export async function scanSegmentFiles(
  files: SegmentFile[],
  onProgress?: (progress: ScanProgress) => void,
): Promise<SegmentScan[]> {
  const totalBytes = files.reduce((sum, f) => sum + f.sizeBytes, 0);
  const progress: ScanProgress = { doneFiles: 0, totalFiles: files.length, doneBytes: 0, totalBytes };
  const finished = (file: SegmentFile): void => {
    progress.doneFiles++;
    progress.doneBytes += file.sizeBytes;
    onProgress?.({ ...progress });
  };
  if (files.length <= 1 || totalBytes < INLINE_SCAN_BYTES) {
    const scans: Array<SegmentScan | null> = [];
    for (const file of files) {
      scans.push(scanInline(file.path));
      finished(file);
    }
    return scans.filter((s): s is SegmentScan => s !== null);
  }
  const pool = openScanPool(files.length);
  try {
    const scans = await Promise.all(
      files.map(async (file) => {
        let scan: SegmentScan | null;
        try {
          scan = await scanOnPool(pool, file.path);
        } catch (err) {
          // A live service may have reclaimed the file meanwhile; any other error stands.
          if (nodeFileIo.kind(file.path) !== null) throw err;
          scan = null;
        }
        finished(file);
        return scan;
      }),
    );
    return scans.filter((s): s is SegmentScan => s !== null);
  } finally {
    await pool.close();
  }
}

/** The scan of one file, or null when it no longer exists. */
export function scanInline(filePath: string): SegmentScan | null {
  try {
    return scanSegment(nodeFileIo, filePath);
  } catch (err) {
    if (nodeFileIo.kind(filePath) === null) return null;
    throw err;
  }
}
