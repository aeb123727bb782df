/**
 * When data is made durable (docs/SEMANTICS.md rules 5–7): 'each' before an append resolves
 * (group commit), { intervalMs } within about intervalMs of being written, 'none' never (the
 * OS decides).
 */
import { WalError } from '../errors.js';

export type FsyncMode = 'each' | 'none' | { intervalMs: number };

export const DEFAULT_FSYNC_INTERVAL_MS = 200;
const MAX_FSYNC_INTERVAL_MS = 24 * 60 * 60 * 1000;

export function parseFsyncMode(value: unknown): FsyncMode {
  if (value === undefined) return { intervalMs: DEFAULT_FSYNC_INTERVAL_MS };
  if (value === 'each' || value === 'none') return value;
  const intervalMs = (value as { intervalMs?: unknown } | null)?.intervalMs;
  if (
    typeof intervalMs === 'number' &&
    Number.isInteger(intervalMs) &&
    intervalMs >= 1 &&
    intervalMs <= MAX_FSYNC_INTERVAL_MS
  ) {
    return { intervalMs };
  }
  throw WalError.invalidArgument(
    `fsync must be 'each', 'none' or { intervalMs: 1 … ${MAX_FSYNC_INTERVAL_MS} }, got ${JSON.stringify(value) ?? String(value)}`,
  );
}
