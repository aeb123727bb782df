import { describe, expect, it } from 'vitest';
import type { Section } from '../bench-case.js';
import { renderChart } from '../report/chart.js';
import { formatGiB, formatMetric } from '../report/number-format.js';
import { versusCeiling, versusWalrus } from '../report/ratios.js';
import { renderAligned, renderMarkdown, tableBlocks } from '../report/table.js';
import { checkTargets, renderTargets } from '../report/targets.js';
import type { CaseResult } from '../runner.js';
import { pipelineSection } from '../scenarios/pipeline.js';
import { writeSection } from '../scenarios/write.js';

function row(partial: Partial<CaseResult> & Pick<CaseResult, 'key' | 'system'>): CaseResult {
  return {
    section: 'write',
    label: partial.key,
    sizeBytes: 1024,
    durable: 'd',
    samples: [],
    median: {},
    notes: [],
    ...partial,
  };
}

const results: CaseResult[] = [
  row({
    key: 'walrus.append-1-topic',
    system: 'walrus-ts',
    ceiling: 'ceiling.write-1MiB',
    median: { entriesPerSec: 1_000_000, mbPerSec: 1024 },
  }),
  row({
    key: 'ceiling.write-1MiB',
    system: 'ceiling',
    compareTo: 'walrus.append-1-topic',
    median: { entriesPerSec: 1_250_000 },
  }),
  row({
    key: 'sqlite.normal-tx1000',
    system: 'better-sqlite3',
    compareTo: 'walrus.append-1-topic',
    median: { entriesPerSec: 250_000 },
  }),
  row({
    key: 'lmdb.turn-1000',
    system: 'lmdb',
    compareTo: 'walrus.append-1-topic',
    label: 'a | b',
    median: {},
    error: 'native module <missing> & gone',
  }),
  row({
    key: 'walrus.append-1-topic',
    system: 'walrus-ts',
    sizeBytes: 100,
    median: {},
    skipped: 'walrus-ts not built',
  }),
  row({
    key: 'ceiling.write-1MiB',
    system: 'ceiling',
    sizeBytes: 100,
    compareTo: 'walrus.append-1-topic',
    median: { entriesPerSec: 9e6 },
    notes: ['slow disk'],
  }),
];

describe('ratios', () => {
  it('compare each row with its walrus-ts row and walrus-ts with its ceiling, at the same size', () => {
    expect(versusWalrus(results[2]!, results, writeSection)).toBeCloseTo(0.25);
    expect(versusWalrus(results[1]!, results, writeSection)).toBeCloseTo(1.25);
    expect(versusCeiling(results[0]!, results, writeSection)).toBeCloseTo(0.8);
    expect(versusWalrus(results[3]!, results, writeSection)).toBeUndefined();
    expect(versusWalrus(results[5]!, results, writeSection)).toBeUndefined();
  });
});

describe('table', () => {
  const blocks = tableBlocks([writeSection], results);

  it('has one block per size, rows in order, ratios and status', () => {
    expect(blocks.map((b) => b.title)).toEqual([expect.stringContaining('1 KiB'), expect.stringContaining('100 B')]);
    const [kib] = blocks;
    expect(kib!.rows.map((r) => r[0])).toEqual(['walrus-ts', 'ceiling', 'better-sqlite3', 'lmdb']);
    const ratioAt = kib!.header.indexOf('÷ walrus-ts');
    const ceilingAt = kib!.header.indexOf('of ceiling');
    expect(kib!.rows[2]![ratioAt]).toBe('0.25×');
    expect(kib!.rows[0]![ceilingAt]).toBe('80%');
    expect(kib!.rows[0]![2]).toBe('1,000,000');
    expect(kib!.rows[3]!.at(-1)).toBe('error: native module <missing> & gone');
    expect(blocks[1]!.rows[0]!.at(-1)).toBe('skipped: walrus-ts not built');
    expect(blocks[1]!.notes).toEqual(['ceiling · ceiling.write-1MiB: slow disk']);
  });

  it('renders aligned text and Markdown with escaped pipes', () => {
    const text = renderAligned(blocks);
    expect(text).toContain('walrus-ts');
    expect(text).toContain('note: ceiling · ceiling.write-1MiB: slow disk');
    const lines = text.split('\n').filter((l) => l.startsWith('ceiling'));
    expect(lines[0]).toMatch(/1,250,000/);
    const md = renderMarkdown(blocks);
    expect(md).toContain('| lmdb | a \\| b |');
    expect(md.split('\n').filter((l) => l.startsWith('| ---'))).toHaveLength(2);
  });
});

describe('number formats', () => {
  it('groups counts and keeps small latencies precise', () => {
    expect(formatMetric(1234567.8, 'count')).toBe('1,234,568');
    expect(formatMetric(3.14159, 'micros')).toBe('3.14');
    expect(formatMetric(42.42, 'micros')).toBe('42.4');
    expect(formatMetric(undefined, 'count')).toBe('—');
  });

  it('names data sizes in GiB, or MiB below one GiB', () => {
    expect(formatGiB(4 * 1024 ** 3)).toBe('4 GiB');
    expect(formatGiB(1.5 * 1024 ** 3)).toBe('1.5 GiB');
    expect(formatGiB(256 * 1024 ** 2)).toBe('256 MiB');
  });
});

describe('targets', () => {
  it('checks targets against this run, says by how much one is missed, and n/a when not measured', () => {
    const checks = checkTargets(results);
    const ceiling = checks.find((c) => c.text.includes('65%'))!;
    expect(ceiling.met).toBe(true);
    expect(ceiling.measured).toBe('80%');
    const peers = checks.find((c) => c.text.includes('3× the fastest peer'))!;
    expect(peers.met).toBe(true);
    expect(peers.measured).toBe('4.00×');
    const hundred = checks.find((c) => c.text.includes('100 B'))!;
    expect(hundred.met).toBeUndefined();
    const slow = checkTargets([{ ...results[0]!, median: { entriesPerSec: 500_000 } }, results[1]!]);
    const missed = slow.find((c) => c.text.includes('65%'))!;
    expect(missed.met).toBe(false);
    expect(missed.gap).toBe('short by 38%');
    expect(renderTargets(slow)).toContain('MISSED');
  });

  it('treats upper bounds (RSS, latency) as "less than"', () => {
    const rss = row({ key: 'walrus.rss', system: 'walrus-ts', section: 'rss', median: { peakRssMiB: 300 } });
    const check = checkTargets([rss]).find((c) => c.text.includes('RSS'))!;
    expect(check.met).toBe(false);
    expect(check.gap).toBe('over by 17%');
  });
});

describe('targets of the read path and the pipeline (issue 13)', () => {
  const pipelineRow = (key: string, median: CaseResult['median'], system: CaseResult['system'] = 'walrus-ts') =>
    row({ key, system, section: 'pipeline', median });
  const readRow = (
    key: string,
    median: CaseResult['median'],
    sizeBytes = 1024,
    system: CaseResult['system'] = 'walrus-ts',
  ) => row({ key, system, section: 'read', sizeBytes, median });
  const measured: CaseResult[] = [
    readRow('walrus.batch-read', { entriesPerSec: 3_200_000, loopP99Ms: 0.4 }),
    readRow('lmdb.read', { entriesPerSec: 1_000_000 }, 1024, 'lmdb'),
    readRow('walrus.batch-read', { entriesPerSec: 5_000_000, loopP99Ms: 0.2 }, 100),
    readRow('walrus.batch-read-cold', { entriesPerSec: 900_000 }),
    readRow('ceiling.read-1MiB-cold', { entriesPerSec: 1_000_000 }, 1024, 'ceiling'),
    readRow('walrus.read-next-strict', { entriesPerSec: 450_000, loopP99Ms: 0.9 }),
    pipelineRow('walrus.pipeline-append-only', { appendedPerSec: 400_000, loopP99Ms: 7 }),
    pipelineRow('walrus.pipeline-batch-read', { entriesPerSec: 380_000, backlogShare: 0.05, loopP99Ms: 1.5 }),
    pipelineRow('walrus.pipeline-subscribe', { entriesPerSec: 300_000, loopP99Ms: 0.5 }),
    pipelineRow('walrus.pipeline-append-only-16-topics', { appendedPerSec: 500_000 }),
    pipelineRow('walrus.pipeline-batch-read-16-topics', { entriesPerSec: 450_000 }),
    pipelineRow('sqlite.queue', { entriesPerSec: 100_000 }, 'better-sqlite3'),
    pipelineRow('lmdb.queue', { entriesPerSec: 190_000 }, 'lmdb'),
  ];
  const checks = checkTargets(measured);
  const check = (text: string) => {
    const found = checks.filter((c) => c.text.includes(text));
    expect(found, text).toHaveLength(1);
    return found[0]!;
  };

  it("checks the read targets against issue 13's numbers", () => {
    expect(check('batchRead, hot, 1 KiB: ≥ 3,000,000')).toMatchObject({ met: true });
    expect(check('≥ 3× lmdb getRange')).toMatchObject({ met: true, measured: '3.20×' });
    expect(check('100 B: ≥ 6,000,000')).toMatchObject({ met: false, gap: 'short by 17%' });
    expect(check('cold readSync ceiling')).toMatchObject({ met: true, measured: '90%' });
    expect(check('strictly-at-once, 1 KiB: ≥ 500,000/s')).toMatchObject({ met: false });
    expect(checks.some((c) => c.text.includes('≥ 200,000/s'))).toBe(false);
    expect(check('atLeastOnce persistEvery 1000')).toMatchObject({ met: undefined, measured: 'not measured' });
  });

  it('reads consumed/s against the append-only rate of the same run, and the backlog as an inclusive bound', () => {
    expect(check('batchRead consumer, 1 KiB: consumed ≥ 90%')).toMatchObject({ met: true, measured: '95%' });
    expect(check('backlog ≤ 5%')).toMatchObject({ met: true, measured: '5%' });
    expect(check('subscribe consumer')).toMatchObject({ met: false, measured: '75%' });
    expect(check('16 topics, 16 batchRead consumers')).toMatchObject({ met: true, measured: '90%' });
  });

  it('compares with the best peer used as a queue', () => {
    expect(check('2× the best peer used as a queue')).toMatchObject({ met: true, measured: '2.00×' });
    const slower = checkTargets(
      measured
        .filter((r) => r.key !== 'lmdb.queue')
        .concat(pipelineRow('lmdb.queue', { entriesPerSec: 200_000 }, 'lmdb')),
    );
    expect(slower.find((c) => c.text.includes('best peer used as a queue'))!.met).toBe(false);
  });

  it('takes the worst event-loop p99 of the walrus-ts read rows, not of the append-only producer', () => {
    const loop = check('event-loop delay p99 ≤ 1 ms');
    expect(loop.met).toBe(false);
    expect(loop.measured).toContain('1.50 ms');
    expect(loop.measured).toContain('batch-read');
    expect(loop.measured).toContain('5 rows');
    const calm = checkTargets(measured.filter((r) => r.key !== 'walrus.pipeline-batch-read'));
    expect(calm.find((c) => c.text.includes('event-loop'))).toMatchObject({
      met: true,
      measured: expect.stringContaining('0.90 ms'),
    });
  });

  it('renders the pipeline block with percentages, and charts the append-only rows by their appended/s', () => {
    const [block] = tableBlocks([pipelineSection], measured);
    expect(block!.header.slice(2, 9)).toEqual([
      'consumed/s',
      'appended/s',
      'of append-only',
      'backlog',
      'backlog %',
      'loop p99 ms',
      'loop max ms',
    ]);
    const batchRead = block!.rows.find((r) => r[1] === 'walrus.pipeline-batch-read')!;
    expect(batchRead[6]).toBe('5%');
    const svg = renderChart([pipelineSection], measured, 'x');
    expect(svg).toContain('[appended/s] walrus.pipeline-append-only');
    expect(svg.match(/<rect x=/g)).toHaveLength(7);
  });
});

describe('chart', () => {
  it('draws one bar per measured row, escapes text, and needs nothing external', () => {
    const svg = renderChart([writeSection as Section], results, 'test & run');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(4);
    expect(svg).toContain('test &amp; run');
    expect(svg).not.toMatch(/href|<script|@import|url\(/);
    expect(svg).not.toContain('log scale');
  });

  it('switches to a log scale when rows span more than 20×', () => {
    const wide = [
      ...results,
      row({ key: 'sqlite.normal-each', system: 'better-sqlite3', median: { entriesPerSec: 5_000 } }),
    ];
    expect(renderChart([writeSection], wide, 'x')).toContain('log scale');
  });
});
