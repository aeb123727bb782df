/**
 * What the piscina scan task (workers/scan.task.ts) answers: the scan of one segment file, or its
 * error as plain data. piscina hands a task's thrown error back as a structured clone, which keeps
 * the message and drops the code (ERR_UNSUPPORTED_FORMAT came back as ERR_IO); the wire form of
 * src/errors.ts keeps both, as it does for the writer and flusher workers' errors.
 */
import { WalError, toWalError, type WalErrorWire } from '../../errors.js';
import type { FileIo } from '../../storage/file-io.js';
import { scanSegment, type SegmentScan } from '../../storage/segment-scanner.js';

export type ScanAnswer = { scan: SegmentScan } | { error: WalErrorWire };

/** Worker side: never throws, so the error's code survives the trip back. */
export function answerScan(io: FileIo, filePath: string): ScanAnswer {
  try {
    return { scan: scanSegment(io, filePath) };
  } catch (err) {
    return { error: toWalError(err).toWire() };
  }
}

/** Main-thread side: the scan, or the task's error rethrown with its code. */
export function scanOfAnswer(answer: ScanAnswer): SegmentScan {
  if ('error' in answer) throw WalError.fromWire(answer.error);
  return answer.scan;
}
