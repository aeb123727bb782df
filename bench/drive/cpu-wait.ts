import * as fs from 'node:fs';

const tasksDir = '/proc/self/task';

/**
 * Nanoseconds this process's threads have spent runnable but not running (waiting for a CPU), from
 * Linux's per-thread schedstat; undefined elsewhere. The difference of two snapshots shows how much
 * of a latency run other processes took from it: on a shared 2-core machine that is what most of a
 * millisecond-scale p99 turned out to be.
 */
export function cpuWaitNs(): number | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(tasksDir);
  } catch {
    return undefined;
  }
  let total = 0;
  for (const name of names) {
    try {
      // "<on-cpu ns> <run-queue wait ns> <timeslices>"
      total += Number(fs.readFileSync(`${tasksDir}/${name}/schedstat`, 'utf8').split(' ')[1]);
    } catch {
      // The thread exited between the listing and the read.
    }
  }
  return Number.isFinite(total) ? total : undefined;
}
