/**
 * The side-by-side table: one block per section and entry size, rows as planned, every figure the
 * median of the repetitions. Rendered aligned for the terminal and as Markdown for the README.
 */
import type { Section } from '../bench-case.js';
import { sizeLabel, type CaseResult } from '../runner.js';
import { formatMetric, formatPercent, formatRatio } from './number-format.js';
import { versusCeiling, versusWalrus } from './ratios.js';

export interface TableBlock {
  title: string;
  header: string[];
  rows: string[][];
  notes: string[];
}

function statusText(result: CaseResult): string {
  if (result.skipped) return `skipped: ${result.skipped}`;
  if (result.error) return `error: ${result.error}`;
  return result.durable;
}

/** A note every measured row shares is printed once; others name their row. */
function blockNotes(rows: readonly CaseResult[]): string[] {
  const measured = rows.filter((r) => !r.skipped);
  const texts = [...new Set(rows.flatMap((r) => r.notes))];
  return texts.flatMap((text) => {
    const having = rows.filter((r) => r.notes.includes(text));
    if (having.length === measured.length && having.length > 1) return [text];
    return having.map((r) => `${r.system} · ${r.label}: ${text}`);
  });
}

export function tableBlocks(sections: readonly Section[], results: readonly CaseResult[]): TableBlock[] {
  const blocks: TableBlock[] = [];
  for (const section of sections) {
    const sizes = [...new Set(results.filter((r) => r.section === section.id).map((r) => r.sizeBytes))];
    for (const sizeBytes of sizes) {
      const rows = results.filter((r) => r.section === section.id && r.sizeBytes === sizeBytes);
      const ceilingTitle = section.higherIsBetter ? 'of ceiling' : 'vs ceiling';
      blocks.push({
        title: `${section.id}, ${sizeLabel(sizeBytes)} entries: ${section.title}`,
        header: [
          'system',
          'case',
          ...section.columns.map((c) => c.title),
          '÷ walrus-ts',
          ceilingTitle,
          'durable when resolved',
        ],
        rows: rows.map((r) => [
          r.system,
          r.label,
          ...section.columns.map((c) => formatMetric(r.median[c.metric], c.format)),
          formatRatio(versusWalrus(r, results, section)),
          formatPercent(versusCeiling(r, results, section)),
          statusText(r),
        ]),
        notes: blockNotes(rows),
      });
    }
  }
  return blocks;
}

const numericCell = /^[\d,.\-—]+(?:×|%)?$|^—$/;

function alignRow(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, i) => (numericCell.test(cell) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
    .join('  ')
    .trimEnd();
}

export function renderAligned(blocks: readonly TableBlock[]): string {
  return blocks
    .map((block) => {
      const all = [block.header, ...block.rows];
      const widths = block.header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
      const notes = block.notes.map((n) => `  note: ${n}`);
      return [
        block.title,
        alignRow(block.header, widths),
        ...block.rows.map((row) => alignRow(row, widths)),
        ...notes,
      ].join('\n');
    })
    .join('\n\n');
}

function markdownCell(cell: string): string {
  return cell.replace(/\|/g, '\\|');
}

export function renderMarkdown(blocks: readonly TableBlock[]): string {
  return blocks
    .map((block) => {
      const align = block.header.map((_, i) => (i >= 2 && i < block.header.length - 1 ? '---:' : '---'));
      const lines = [block.header, align, ...block.rows].map((row) => `| ${row.map(markdownCell).join(' | ')} |`);
      const notes = block.notes.length > 0 ? ['', ...block.notes.map((n) => `- ${n}`)] : [];
      return [`**${block.title}**`, '', ...lines, ...notes].join('\n');
    })
    .join('\n\n');
}
