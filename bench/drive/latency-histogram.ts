import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { Metrics } from '../metrics.js';

const nsPerMs = 1e6;

/** Nanosecond histogram, 3 significant figures, up to an hour. */
export function newLatencyHistogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: 3_600 * 1e9, figures: 3 });
}

export function recordSince(histogram: RecordableHistogram, startMs: number, endMs: number = performance.now()): void {
  histogram.record(Math.max(1, Math.round((endMs - startMs) * nsPerMs)));
}

export function latencyMetrics(histogram: RecordableHistogram): Metrics {
  if (histogram.count === 0) return {};
  return {
    p50Us: histogram.percentile(50) / 1e3,
    p99Us: histogram.percentile(99) / 1e3,
    p999Us: histogram.percentile(99.9) / 1e3,
  };
}
