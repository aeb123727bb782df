import type { RecordableHistogram } from 'node:perf_hooks';
import { latencyMetrics } from './latency-histogram.js';
import type { Metrics } from '../metrics.js';

/** What a timed loop did: `ops` calls carrying `entries` entries in `seconds`. */
export interface ThroughputRun {
  ops: number;
  entries: number;
  seconds: number;
  histogram: RecordableHistogram;
}

/** Entries/s, payload MB/s (10^6 bytes) and the latency of the sampled operations. */
export function throughputMetrics(run: ThroughputRun, sizeBytes: number): Metrics {
  if (run.seconds <= 0) throw new RangeError('a throughput run must take time');
  return {
    entriesPerSec: run.entries / run.seconds,
    mbPerSec: (run.entries * sizeBytes) / run.seconds / 1e6,
    ...latencyMetrics(run.histogram),
  };
}
