/**
 * A self-contained SVG of the headline figure of each section (no scripts, fonts or links, so it
 * opens anywhere offline): one horizontal bar per row, walrus-ts highlighted. Throughput spans
 * orders of magnitude across rows, so wide ranges use a log scale (and say so).
 */
import type { Section } from '../bench-case.js';
import { sizeLabel, type CaseResult } from '../runner.js';
import type { SystemId } from '../options.js';
import { formatMetric } from './number-format.js';
import { primaryValue } from './ratios.js';

const widthPx = 1000;
const labelPx = 460;
const barPx = 400;
const rowPx = 18;
const titlePx = 30;
const logScaleSpan = 20;
const style = [
  'text{font-family:sans-serif;fill:#212529}',
  '.title{font-size:14px;font-weight:bold}',
  '.label,.value{font-size:11px}',
  '.head{font-size:16px;font-weight:bold}',
].join('');

const colors: Record<SystemId, string> = {
  'walrus-ts': '#d9480f',
  ceiling: '#868e96',
  'better-sqlite3': '#1c7ed6',
  lmdb: '#37b24d',
  'classic-level': '#7048e8',
  'sonic-boom': '#f59f00',
  fs: '#495057',
};

function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

interface Bar {
  label: string;
  value: number;
  system: SystemId;
}

/** The row's primary figure, or else its `chartReference` figure with that column's title. */
function barOf(result: CaseResult, section: Section): Bar | undefined {
  const value = primaryValue(result, section);
  if (value !== undefined) return value > 0 ? { label: result.label, value, system: result.system } : undefined;
  const reference = section.chartReference;
  const fallback = reference === undefined || result.error || result.skipped ? undefined : result.median[reference];
  if (fallback === undefined || !(fallback > 0)) return undefined;
  const title = section.columns.find((c) => c.metric === reference)?.title ?? reference;
  return { label: `[${title}] ${result.label}`, value: fallback, system: result.system };
}

function barLength(value: number, min: number, max: number, log: boolean): number {
  if (!log) return Math.max(1, (value / max) * barPx);
  const floor = Math.log10(min / 2);
  return Math.max(1, ((Math.log10(value) - floor) / (Math.log10(max) - floor)) * barPx);
}

function panel(section: Section, sizeBytes: number, bars: readonly Bar[], top: number): string {
  const values = bars.map((b) => b.value);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const log = min > 0 && max / min > logScaleSpan;
  const metric = section.columns.find((c) => c.metric === section.primary);
  const format = metric?.format ?? 'decimal';
  const unit = `${metric?.title ?? section.primary}${section.higherIsBetter ? ', higher is better' : ', lower is better'}${log ? ', log scale' : ''}`;
  const title = `${section.id}, ${sizeLabel(sizeBytes)}: ${section.title} (${unit})`;
  const parts = [`<text x="10" y="${top + 20}" class="title">${escapeXml(title)}</text>`];
  bars.forEach((bar, i) => {
    const y = top + titlePx + i * rowPx;
    const length = barLength(bar.value, min, max, log);
    const label = `${bar.system} · ${bar.label}`;
    const shown = label.length > 70 ? `${label.slice(0, 69)}…` : label;
    parts.push(
      `<text x="${labelPx - 8}" y="${y + 13}" class="label" text-anchor="end">${escapeXml(shown)}</text>`,
      `<rect x="${labelPx}" y="${y + 3}" width="${length.toFixed(1)}" height="${rowPx - 6}" fill="${colors[bar.system]}"/>`,
      `<text x="${(labelPx + length + 6).toFixed(1)}" y="${y + 13}" class="value">${escapeXml(formatMetric(bar.value, format))}</text>`,
    );
  });
  return parts.join('\n');
}

export function renderChart(sections: readonly Section[], results: readonly CaseResult[], subtitle: string): string {
  const panels: string[] = [];
  let top = 40;
  for (const section of sections) {
    const sizes = [...new Set(results.filter((r) => r.section === section.id).map((r) => r.sizeBytes))];
    for (const sizeBytes of sizes) {
      const bars: Bar[] = [];
      for (const r of results) {
        if (r.section !== section.id || r.sizeBytes !== sizeBytes) continue;
        const bar = barOf(r, section);
        if (bar !== undefined) bars.push(bar);
      }
      if (bars.length === 0) continue;
      panels.push(panel(section, sizeBytes, bars, top));
      top += titlePx + bars.length * rowPx + 14;
    }
  }
  const height = top + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${height}" viewBox="0 0 ${widthPx} ${height}">`,
    `<style>${style}</style>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="24" class="head">walrus-ts benchmark: ${escapeXml(subtitle)}</text>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}
