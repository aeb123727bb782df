import * as fs from 'node:fs';
import { bytesPerMiB } from '../metrics.js';

/**
 * Peak resident set of this process, in MiB. On Linux `getrusage` (`process.resourceUsage().maxRSS`)
 * is not enough: a child forked from a big parent inherits the parent's high-water mark through
 * fork + exec, so every child would report at least the bench runner's own peak. The memory map's
 * own high-water mark (`VmHWM` in /proc/self/status) starts fresh at exec; `maxRSS` is used where
 * that file does not exist.
 */
export function peakRssMiB(): number {
  const hwmKiB = vmHighWaterKiB();
  return ((hwmKiB ?? process.resourceUsage().maxRSS) * 1024) / bytesPerMiB;
}

function vmHighWaterKiB(): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function currentRssMiB(): number {
  return process.memoryUsage().rss / bytesPerMiB;
}
