/** piscina task: scan one segment file (stateless; see src/engine/shared/scan-protocol.ts for the answer). */
import { nodeFileIo } from '../src/storage/file-io.js';
import { answerScan, type ScanAnswer } from '../src/engine/shared/scan-protocol.js';

export default function scan(path: string): ScanAnswer {
  return answerScan(nodeFileIo, path);
}
