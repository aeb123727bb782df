import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bytesPerGiB } from '../metrics.js';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  kernel: string;
  node: string;
  /** File system type and mount point holding the data directory, from /proc/self/mounts. */
  filesystem: string;
}

function filesystemOf(dir: string): string {
  try {
    const real = fs.realpathSync(dir);
    let best = { mount: '', type: 'unknown' };
    for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const [, mount, type] = line.split(' ');
      if (!mount || !type) continue;
      const inside = real === mount || real.startsWith(mount.endsWith('/') ? mount : `${mount}${path.sep}`);
      if (inside && mount.length > best.mount.length) best = { mount, type };
    }
    return `${best.type} (${best.mount || '?'})`;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(dataDir: string): MachineInfo {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / bytesPerGiB) * 10) / 10,
    platform: `${process.platform}-${process.arch}`,
    kernel: os.release(),
    node: process.version,
    filesystem: filesystemOf(dataDir),
  };
}

export function machineLine(machine: MachineInfo): string {
  const { cpus, cpuModel, memoryGiB, platform, kernel, node, filesystem } = machine;
  return `${cpus} CPUs (${cpuModel}), ${memoryGiB} GiB, ${platform} ${kernel}, Node ${node}, data on ${filesystem}`;
}
