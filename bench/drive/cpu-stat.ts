import * as fs from 'node:fs';

/** The machine's CPU time by state since boot, in USER_HZ ticks (Linux /proc/stat, first line). */
export interface CpuTicks {
  total: number;
  iowait: number;
  steal: number;
}

/**
 * A snapshot of the whole machine's CPU time; undefined where /proc/stat is missing. Two snapshots
 * give the share of the period the CPUs spent in iowait (idle with I/O outstanding: writeback,
 * an fsync) and in steal (the hypervisor ran another guest): the machine's side of a latency tail,
 * beside the process's own CPU wait (cpu-wait.ts).
 */
export function cpuTicks(): CpuTicks | undefined {
  let line: string;
  try {
    line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  } catch {
    return undefined;
  }
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (guest is inside user).
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 8 || !fields.every(Number.isFinite)) return undefined;
  return { total: fields.reduce((a, b) => a + b, 0), iowait: fields[4]!, steal: fields[7]! };
}

/** Percent of the CPU time between two snapshots spent in iowait and in steal. */
export function cpuSharesPct(from: CpuTicks, to: CpuTicks): { iowaitPct: number; stealPct: number } {
  const total = to.total - from.total;
  if (total <= 0) return { iowaitPct: 0, stealPct: 0 };
  return { iowaitPct: (100 * (to.iowait - from.iowait)) / total, stealPct: (100 * (to.steal - from.steal)) / total };
}
