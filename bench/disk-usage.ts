import * as fs from 'node:fs';
import * as path from 'node:path';

export interface DiskUsage {
  files: number;
  /** Space allocated on disk (like `du`), which counts each small file's block overhead. */
  allocatedBytes: number;
  /** Sum of file lengths. */
  lengthBytes: number;
}

export function diskUsage(dir: string, include: (name: string) => boolean = () => true): DiskUsage {
  const usage: DiskUsage = { files: 0, allocatedBytes: 0, lengthBytes: 0 };
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = diskUsage(full, include);
      usage.files += inner.files;
      usage.allocatedBytes += inner.allocatedBytes;
      usage.lengthBytes += inner.lengthBytes;
    } else if (entry.isFile() && include(entry.name)) {
      const stat = fs.statSync(full);
      usage.files++;
      usage.allocatedBytes += stat.blocks * 512;
      usage.lengthBytes += stat.size;
    }
  }
  return usage;
}
