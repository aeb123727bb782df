import type { Column } from '../bench-case.js';

export const throughputColumns: readonly Column[] = [
  { title: 'entries/s', metric: 'entriesPerSec', format: 'count' },
  { title: 'MB/s', metric: 'mbPerSec', format: 'decimal' },
  { title: 'op p50 µs', metric: 'p50Us', format: 'micros' },
  { title: 'op p99 µs', metric: 'p99Us', format: 'micros' },
];

/** Read rows add the event-loop delay while reading (walrus-ts rows: its reads share the loop with the app). */
export const readColumns: readonly Column[] = [
  ...throughputColumns,
  { title: 'loop p99 ms', metric: 'loopP99Ms', format: 'fixed2' },
  { title: 'loop max ms', metric: 'loopMaxMs', format: 'fixed2' },
];
