/**
 * The ceiling: what plain `fs` calls on one file achieve on this machine, with nothing on top.
 * Bench code, not library code: it measures the raw syscalls, so it calls node:fs directly.
 */
import * as fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { bytesPerMiB } from '../metrics.js';
import { coalesce, type Payloads } from '../payloads.js';

export const coalescedWriteBytes = bytesPerMiB;

export function createLogFile(filePath: string): number {
  return fs.openSync(filePath, 'w');
}

/** Writes exactly `totalBytes` of payload entries (in coalesced writes of up to 1 MiB) and closes the file. */
export function prefillFile(filePath: string, payloads: Payloads, totalBytes: number): number {
  const chunk = coalesce(payloads, Math.min(coalescedWriteBytes, totalBytes));
  const fd = createLogFile(filePath);
  let written = 0;
  try {
    while (written < totalBytes) written += fs.writeSync(fd, chunk, 0, Math.min(chunk.length, totalBytes - written));
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

export interface ScanResult {
  bytes: number;
  seconds: number;
}

/** Reads files sequentially in 1 MiB chunks and CRC-32s them: the least a validating recovery scan does. */
export function scanFiles(filePaths: readonly string[]): ScanResult {
  const chunk = Buffer.allocUnsafe(coalescedWriteBytes);
  const startMs = performance.now();
  let bytes = 0;
  let crc = 0;
  for (const filePath of filePaths) {
    const fd = fs.openSync(filePath, 'r');
    try {
      for (;;) {
        const n = fs.readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) break;
        crc = crc32(chunk.subarray(0, n), crc);
        bytes += n;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { bytes, seconds: (performance.now() - startMs) / 1000 };
}
