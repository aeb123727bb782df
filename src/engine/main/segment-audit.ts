/**
 * `wal.verify()`'s audit: every checksum of every segment file in `dir`, one scan task per file,
 * and every summary compared with the scan of its segment.
 * Only the bytes each file held when the audit listed it are judged, so a write in flight is
 * never reported as damage.
 */
import { nodeFileIo } from '../../storage/file-io.js';
import { listSegmentSizes } from '../../storage/segment-name.js';
import { summaryDisagreement } from '../../storage/summary-files.js';
import type { VerifyReport } from './public-types.js';
import { scanSegmentsInParallel } from './recovery-scan.js';

export async function auditSegmentFiles(dir: string): Promise<VerifyReport> {
  const files = listSegmentSizes(nodeFileIo, dir);
  const sizes = new Map(files.map((f) => [f.path, f.sizeBytes]));
  const scans = await scanSegmentsInParallel(files.map((f) => f.path));
  const damage = scans.flatMap((scan) => scan.damage.filter((d) => d.offset < (sizes.get(scan.path) ?? Infinity)));
  // Each summary is audited against its segment's bytes too (docs/FORMAT.md §17): open trusts it.
  for (const scan of scans) {
    const disagreement = summaryDisagreement(nodeFileIo, scan);
    if (disagreement !== null) damage.push({ path: scan.path, offset: 0, reason: disagreement });
  }
  const bytes = scans.reduce((n, scan) => n + Math.min(scan.sizeBytes, sizes.get(scan.path) ?? scan.sizeBytes), 0);
  return { ok: damage.length === 0, files: files.length, bytes, damage };
}
