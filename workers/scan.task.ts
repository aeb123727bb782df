/** piscina task: scan one segment file (stateless; see src/storage/segment-scanner.ts). */
import { nodeFileIo } from '../src/storage/file-io.js';
import { scanSegment, type SegmentScan } from '../src/storage/segment-scanner.js';

export default function scan(path: string): SegmentScan {
  return scanSegment(nodeFileIo, path);
}
