import type { Column } from '../bench-case.js';
import { bytesPerGiB, bytesPerMiB } from '../metrics.js';

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
    case 'percent':
      return formatPercent(value);
  }
}

export function formatRatio(value: number | undefined): string {
  if (value === undefined) return '';
  return value >= 10 ? `${value.toFixed(0)}×` : `${value.toFixed(2)}×`;
}

/** 4 GiB, 1.5 GiB, 256 MiB. */
export function formatGiB(bytes: number): string {
  const gib = bytes / bytesPerGiB;
  return gib >= 1 ? `${Number(gib.toFixed(2))} GiB` : `${Math.round(bytes / bytesPerMiB)} MiB`;
}

export function formatPercent(value: number | undefined): string {
  return value === undefined ? '' : `${Math.round(value * 100)}%`;
}
