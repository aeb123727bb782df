import { bytesPerMiB } from '../metrics.js';

/** Peak resident set of this process so far (the kernel's high-water mark), in MiB. */
export function peakRssMiB(): number {
  return (process.resourceUsage().maxRSS * 1024) / bytesPerMiB;
}

export function currentRssMiB(): number {
  return process.memoryUsage().rss / bytesPerMiB;
}
