/**
 * Latency figures for stats(): a perf_hooks histogram (nanoseconds in, microseconds out).
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

export interface LatencySummary {
  count: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export class LatencyStats {
  readonly #histogram: RecordableHistogram = createHistogram();

  recordMs(durationMs: number): void {
    this.#histogram.record(Math.max(1, Math.round(durationMs * 1e6)));
  }

  summary(): LatencySummary {
    const h = this.#histogram;
    const us = (ns: number): number => Math.round(ns / 100) / 10;
    return {
      count: h.count,
      p50Us: h.count ? us(h.percentile(50)) : 0,
      p99Us: h.count ? us(h.percentile(99)) : 0,
      maxUs: h.count ? us(h.max) : 0,
    };
  }
}
