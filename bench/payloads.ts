/**
 * Random payloads are generated before any clock starts, and every system gets the same ones: a
 * pool of distinct buffers cycled through, so no system can win by compressing or deduplicating.
 */
import { randomFillSync } from 'node:crypto';

export interface Payloads {
  readonly sizeBytes: number;
  /** Distinct random payloads; callers cycle with `at(i)`. */
  readonly pool: readonly Buffer[];
  at(index: number): Buffer;
}

export const payloadPoolCount = 1024;

export function makePayloads(sizeBytes: number, count: number = payloadPoolCount): Payloads {
  if (!Number.isInteger(sizeBytes) || sizeBytes < 1)
    throw new RangeError(`payload size must be a positive integer, got ${sizeBytes}`);
  if (!Number.isInteger(count) || count < 1 || (count & (count - 1)) !== 0)
    throw new RangeError(`pool count must be a power of two, got ${count}`);
  const backing = randomFillSync(Buffer.allocUnsafe(sizeBytes * count));
  const pool = Array.from({ length: count }, (_, i) => backing.subarray(i * sizeBytes, (i + 1) * sizeBytes));
  const mask = count - 1;
  return { sizeBytes, pool, at: (index) => pool[index & mask]! };
}

/** How many whole entries fit in `targetBytes` (at least one). */
export function entriesPerBuffer(sizeBytes: number, targetBytes: number): number {
  return Math.max(1, Math.floor(targetBytes / sizeBytes));
}

/** Entries laid end to end, as a log that coalesces them would hand to one write. */
export function coalesce(payloads: Payloads, targetBytes: number, firstIndex = 0): Buffer {
  const count = entriesPerBuffer(payloads.sizeBytes, targetBytes);
  const out = Buffer.allocUnsafe(count * payloads.sizeBytes);
  for (let i = 0; i < count; i++) payloads.at(firstIndex + i).copy(out, i * payloads.sizeBytes);
  return out;
}

/** A few distinct batches, reused by callers in turn, so no timed loop builds arrays. */
export function makeBatches(payloads: Payloads, batchSize: number, count = 8): Buffer[][] {
  return Array.from({ length: count }, (_, b) =>
    Array.from({ length: batchSize }, (_, i) => payloads.at(b * batchSize + i)),
  );
}
