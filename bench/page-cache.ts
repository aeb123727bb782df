/**
 * Cold-cache rows need the kernel to forget cached file pages, which only root on Linux can ask
 * for. Where it cannot, those rows are left out (and the output says so).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

const dropCachesPath = '/proc/sys/vm/drop_caches';

export function canDropCaches(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    fs.accessSync(dropCachesPath, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes back every dirty page (not timed), so a row does not pay for the writeback of the
 * gigabytes the row before it left in the page cache.
 */
export function settlePageCache(): void {
  if (process.platform !== 'win32') execFileSync('sync');
}

/** Writes back dirty pages first: only clean pages can be dropped. */
export function dropCaches(): void {
  execFileSync('sync');
  fs.writeFileSync(dropCachesPath, '3');
}
