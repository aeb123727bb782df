import type { Column } from '../bench-case.js';

export const throughputColumns: readonly Column[] = [
  { title: 'entries/s', metric: 'entriesPerSec', format: 'count' },
  { title: 'MB/s', metric: 'mbPerSec', format: 'decimal' },
  { title: 'op p50 µs', metric: 'p50Us', format: 'micros' },
  { title: 'op p99 µs', metric: 'p99Us', format: 'micros' },
];
