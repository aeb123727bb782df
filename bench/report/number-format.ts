import type { Column } from '../bench-case.js';

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatMetric(value: number | undefined, format: Column['format']): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  switch (format) {
    case 'count':
      return grouped.format(value);
    case 'decimal':
      return value >= 100 ? grouped.format(value) : value.toFixed(1);
    case 'micros':
      return value >= 100 ? grouped.format(value) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
    case 'fixed2':
      return value.toFixed(2);
  }
}

export function formatRatio(value: number | undefined): string {
  if (value === undefined) return '';
  return value >= 10 ? `${value.toFixed(0)}×` : `${value.toFixed(2)}×`;
}

export function formatPercent(value: number | undefined): string {
  return value === undefined ? '' : `${Math.round(value * 100)}%`;
}
