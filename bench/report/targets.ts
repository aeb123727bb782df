/**
 * The performance targets of the benchmark issue, checked against this run's medians. A target
 * relative to a ceiling or a peer uses the figure measured in the same run.
 */
import type { MetricName } from '../metrics.js';
import { sizeLabel, type CaseResult } from '../runner.js';
import {
  pipelineAppendOnlyKey,
  pipelineFanOutConsumers,
  pipelineFanOutKey,
  pipelineHeadlineKey,
  pipelineManyTopics,
  pipelineQueueKeys,
} from '../scenarios/pipeline.js';
import { walrusGetKey, walrusSeekKey } from '../scenarios/read.js';
import { recoveryOpenKey } from '../scenarios/recovery.js';
import { writeCallKey, writeRetentionKey, writeHeadlineKey } from '../scenarios/write.js';
import { findResult } from './ratios.js';
import { formatMetric, formatPercent } from './number-format.js';

export interface TargetCheck {
  text: string;
  /** undefined: a row it needs was not measured in this run. */
  met: boolean | undefined;
  measured: string;
  /** How far off, when missed ("short by 37%"). */
  gap?: string;
}

interface Figure {
  value: number;
  shown: string;
}

interface Target {
  text: string;
  /** true: met at or above `goal`; false: an upper bound, met below it (at it too when `inclusive`). */
  atLeast: boolean;
  inclusive?: boolean;
  goal: number;
  measure(results: readonly CaseResult[]): Figure | undefined;
}

const kib = 1024;

function valueOf(
  results: readonly CaseResult[],
  key: string,
  sizeBytes: number,
  metric: MetricName,
): number | undefined {
  const r = findResult(results, key, sizeBytes);
  return r && !r.error && !r.skipped ? r.median[metric] : undefined;
}

const shownAs = {
  entriesPerSec: (v: number) => `${formatMetric(v, 'count')}/s`,
  backlogShare: (v: number) => formatPercent(v),
  gbPerSec: (v: number) => `${v.toFixed(2)} GB/s`,
  peakRssMiB: (v: number) => `${v.toFixed(0)} MiB`,
  p99Us: (v: number) => `${formatMetric(v, 'micros')} µs`,
  p999Us: (v: number) => `${formatMetric(v, 'micros')} µs`,
};

function absolute(key: string, sizeBytes: number, metric: keyof typeof shownAs): Target['measure'] {
  return (results) => {
    const value = valueOf(results, key, sizeBytes, metric);
    if (value === undefined) return undefined;
    return { value, shown: shownAs[metric](value) };
  };
}

function relative(key: string, otherKey: string, sizeBytes: number): Target['measure'] {
  return (results) => {
    const a = valueOf(results, key, sizeBytes, 'entriesPerSec');
    const b = valueOf(results, otherKey, sizeBytes, 'entriesPerSec');
    if (a === undefined || b === undefined || b === 0) return undefined;
    return { value: a / b, shown: formatPercent(a / b) };
  };
}

function times(value: number): string {
  return `${value.toFixed(2)}×`;
}

/** `key`'s entries/s as a multiple of `otherKey`'s. */
function multipleOf(key: string, otherKey: string, sizeBytes: number): Target['measure'] {
  return (results) => {
    const a = valueOf(results, key, sizeBytes, 'entriesPerSec');
    const b = valueOf(results, otherKey, sizeBytes, 'entriesPerSec');
    if (a === undefined || b === undefined || b === 0) return undefined;
    return { value: a / b, shown: times(a / b) };
  };
}

/** `key`'s seconds as a multiple of `otherKey`'s (the recovery section's open rows, at 1 KiB). */
function secondsOver(key: string, otherKey: string): Target['measure'] {
  return (results) => {
    const a = valueOf(results, key, kib, 'seconds');
    const b = valueOf(results, otherKey, kib, 'seconds');
    if (a === undefined || b === undefined || b === 0) return undefined;
    return { value: a / b, shown: `${times(a / b)} (${(a * 1000).toFixed(0)} ms vs ${(b * 1000).toFixed(0)} ms)` };
  };
}

/** A pipeline row's consumed entries/s ÷ the appended entries/s of its append-only row. */
function ofAppendOnly(key: string, appendOnlyKey: string): Target['measure'] {
  return (results) => {
    const consumed = valueOf(results, key, kib, 'entriesPerSec');
    const appended = valueOf(results, appendOnlyKey, kib, 'appendedPerSec');
    if (consumed === undefined || appended === undefined || appended === 0) return undefined;
    return { value: consumed / appended, shown: formatPercent(consumed / appended) };
  };
}

/** `key`'s entries/s as a multiple of the best of `peerKeys` measured in this run. */
function overBestOf(key: string, peerKeys: readonly string[], sizeBytes: number): Target['measure'] {
  return (results) => {
    const walrus = valueOf(results, key, sizeBytes, 'entriesPerSec');
    const best = Math.max(0, ...peerKeys.map((k) => valueOf(results, k, sizeBytes, 'entriesPerSec') ?? 0));
    if (walrus === undefined || !(best > 0)) return undefined;
    return { value: walrus / best, shown: times(walrus / best) };
  };
}

/** Worst event-loop delay p99 over the walrus-ts rows that read (read section, pipeline consumers). */
function worstReadLoopDelay(): Target['measure'] {
  return (results) => {
    const rows = results.filter(
      (r) =>
        r.system === 'walrus-ts' &&
        (r.section === 'read' || (r.section === 'pipeline' && !r.key.startsWith(pipelineAppendOnlyKey))) &&
        valueOf(results, r.key, r.sizeBytes, 'loopP99Ms') !== undefined,
    );
    let worst: { value: number; row: CaseResult } | undefined;
    for (const row of rows) {
      const value = row.median.loopP99Ms!;
      if (worst === undefined || value > worst.value) worst = { value, row };
    }
    if (worst === undefined) return undefined;
    const where = `${worst.row.section} ${sizeLabel(worst.row.sizeBytes)}, ${worst.row.label}`;
    return { value: worst.value, shown: `${worst.value.toFixed(2)} ms, worst of ${rows.length} rows (${where})` };
  };
}

function overFastestPeer(sizeBytes: number): Target['measure'] {
  return (results) => {
    const peers = results.filter(
      (r) => r.section === 'write' && r.sizeBytes === sizeBytes && r.system !== 'walrus-ts' && r.system !== 'ceiling',
    );
    return overBestOf(
      'walrus.append-1-topic',
      peers.map((r) => r.key),
      sizeBytes,
    )(results);
  };
}

export const targets: readonly Target[] = [
  {
    text: 'append (interval), 1 topic, 1 KiB: ≥ 65% of the coalesced writeSync ceiling',
    atLeast: true,
    goal: 0.65,
    measure: relative('walrus.append-1-topic', 'ceiling.write-1MiB', kib),
  },
  {
    text: 'append (interval), 1 topic, 1 KiB: ≥ 3× the fastest peer not durable per entry',
    atLeast: true,
    goal: 3,
    measure: overFastestPeer(kib),
  },
  {
    text: 'append (interval), 1 topic, 100 B: ≥ 3,000,000/s',
    atLeast: true,
    goal: 3_000_000,
    measure: absolute('walrus.append-1-topic', 100, 'entriesPerSec'),
  },
  {
    text: "fsync 'each', 64 in flight, 1 KiB: ≥ 80% of the fdatasync-per-64-KiB ceiling",
    atLeast: true,
    goal: 0.8,
    measure: relative('walrus.each-c64', 'ceiling.fdatasync-64KiB', kib),
  },
  {
    text: "fsync 'each', 1024 in flight, 1 KiB: ≥ 250,000/s",
    atLeast: true,
    goal: 250_000,
    measure: absolute('walrus.each-c1024', kib, 'entriesPerSec'),
  },
  {
    text: "fsync 'each', 1 in flight, 1 KiB: ≥ 80% of one fdatasync per entry",
    atLeast: true,
    goal: 0.8,
    measure: relative('walrus.each-c1', 'ceiling.fdatasync-entry', kib),
  },
  {
    text: 'batchRead, hot, 1 KiB: ≥ 3,000,000 entries/s',
    atLeast: true,
    goal: 3_000_000,
    measure: absolute('walrus.batch-read', kib, 'entriesPerSec'),
  },
  {
    text: 'batchRead, hot, 1 KiB: ≥ 3× lmdb getRange',
    atLeast: true,
    goal: 3,
    measure: multipleOf('walrus.batch-read', 'lmdb.read', kib),
  },
  {
    text: 'batchRead, hot, 100 B: ≥ 6,000,000 entries/s',
    atLeast: true,
    goal: 6_000_000,
    measure: absolute('walrus.batch-read', 100, 'entriesPerSec'),
  },
  {
    text: 'batchRead, cold, 1 KiB: ≥ 80% of the cold readSync ceiling',
    atLeast: true,
    goal: 0.8,
    measure: relative('walrus.batch-read-cold', 'ceiling.read-1MiB-cold', kib),
  },
  {
    text: 'readNext, atLeastOnce persistEvery 1000, 1 KiB: ≥ 1,000,000/s',
    atLeast: true,
    goal: 1_000_000,
    measure: absolute('walrus.read-next-at-least-once', kib, 'entriesPerSec'),
  },
  {
    text: 'readNext, strictly-at-once, 1 KiB: ≥ 500,000/s',
    atLeast: true,
    goal: 500_000,
    measure: absolute('walrus.read-next-strict', kib, 'entriesPerSec'),
  },
  {
    text: 'pipeline, 1 producer + 1 batchRead consumer, 1 KiB: consumed ≥ 90% of the append-only rate',
    atLeast: true,
    goal: 0.9,
    measure: ofAppendOnly(pipelineHeadlineKey, pipelineAppendOnlyKey),
  },
  {
    text: 'pipeline, 1 producer + 1 batchRead consumer, 1 KiB: backlog ≤ 5% of what was appended',
    atLeast: false,
    inclusive: true,
    goal: 0.05,
    measure: absolute(pipelineHeadlineKey, kib, 'backlogShare'),
  },
  {
    text: 'pipeline, 1 producer + 1 batchRead consumer, 1 KiB: ≥ 2× the best peer used as a queue',
    atLeast: true,
    goal: 2,
    measure: overBestOf(pipelineHeadlineKey, pipelineQueueKeys, kib),
  },
  {
    text: 'pipeline, 1 producer + 1 subscribe consumer, 1 KiB: consumed ≥ 80% of the append-only rate',
    atLeast: true,
    goal: 0.8,
    measure: ofAppendOnly('walrus.pipeline-subscribe', pipelineAppendOnlyKey),
  },
  {
    text: `pipeline, ${pipelineManyTopics} topics, ${pipelineManyTopics} batchRead consumers, 1 KiB: consumed ≥ 80% of the append-only rate`,
    atLeast: true,
    goal: 0.8,
    measure: ofAppendOnly(
      `${pipelineHeadlineKey}-${pipelineManyTopics}-topics`,
      `${pipelineAppendOnlyKey}-${pipelineManyTopics}-topics`,
    ),
  },
  {
    text: 'event-loop delay p99 ≤ 1 ms during every walrus-ts read row (read and pipeline sections)',
    atLeast: false,
    inclusive: true,
    goal: 1,
    measure: worstReadLoopDelay(),
  },
  {
    text: 'peak RSS while ingesting: < 256 MiB',
    atLeast: false,
    goal: 256,
    measure: absolute('walrus.rss', kib, 'peakRssMiB'),
  },
  // Issue 15: open in O(tail) (the recovery section's log, 2 GiB by default, not 16 GiB).
  {
    text: 'issue 15: open until usable after a clean close ≤ 1.5× an empty log’s (hot cache)',
    atLeast: false,
    inclusive: true,
    goal: 1.5,
    measure: secondsOver(recoveryOpenKey('clean'), recoveryOpenKey('empty')),
  },
  {
    text: 'issue 15: open until usable after a SIGKILL mid-append ≤ 2× an empty log’s (hot cache)',
    atLeast: false,
    inclusive: true,
    goal: 2,
    measure: secondsOver(recoveryOpenKey('crash'), recoveryOpenKey('empty')),
  },
  // Issue 16: named consumers and random access (on the read section's log, not 16 GiB).
  {
    text: 'issue 16: get(topic, seq), random, hot, 1 KiB: ≥ 100,000/s',
    atLeast: true,
    goal: 100_000,
    measure: absolute(walrusGetKey, kib, 'entriesPerSec'),
  },
  {
    text: 'issue 16: seek by time, random, hot, 1 KiB: ≥ 10,000/s',
    atLeast: true,
    goal: 10_000,
    measure: absolute(walrusSeekKey, kib, 'entriesPerSec'),
  },
  {
    text: `issue 16: fan-out, ${pipelineFanOutConsumers} named consumers of one topic, 1 KiB: each ≥ 80% of a lone consumer`,
    atLeast: true,
    goal: 0.8,
    measure: relative(pipelineFanOutKey, pipelineHeadlineKey, kib),
  },
  {
    text: 'issue 16: reclaiming with retention limits costs producers ≤ 3%: append with maxBytes ≥ 97% of append without, 1 KiB',
    atLeast: true,
    goal: 0.97,
    measure: relative(writeRetentionKey, writeHeadlineKey, kib),
  },
  // Issue 14: durable rounds, write(), small entries, the tail.
  {
    text: "issue 14: fsync 'each', 1 in flight, 1 KiB: ≥ better-sqlite3 synchronous=FULL, INSERT per commit",
    atLeast: true,
    goal: 1,
    measure: multipleOf('walrus.each-c1', 'sqlite.full-each', kib),
  },
  {
    text: "issue 14: fsync 'each', 1024 in flight, 1 KiB: ≥ 80% of the fdatasync-per-1-MiB ceiling",
    atLeast: true,
    goal: 0.8,
    measure: relative('walrus.each-c1024', 'ceiling.fdatasync-1MiB', kib),
  },
  {
    text: 'issue 14: append (interval), 1 topic, 100 B: ≥ 2,000,000/s',
    atLeast: true,
    goal: 2_000_000,
    measure: absolute('walrus.append-1-topic', 100, 'entriesPerSec'),
  },
  {
    text: 'issue 14: write(), 1 topic, 100 B: ≥ 40% of the coalesced writeSync ceiling',
    atLeast: true,
    goal: 0.4,
    measure: relative(writeCallKey, 'ceiling.write-1MiB', 100),
  },
  {
    text: 'issue 14: append (interval), 1 topic, 1 KiB: ≥ 80% of the coalesced writeSync ceiling',
    atLeast: true,
    goal: 0.8,
    measure: relative('walrus.append-1-topic', 'ceiling.write-1MiB', kib),
  },
  {
    text: 'issue 14: write(), 1 topic, 1 KiB: ≥ 90% of the coalesced writeSync ceiling',
    atLeast: true,
    goal: 0.9,
    measure: relative(writeCallKey, 'ceiling.write-1MiB', kib),
  },
  {
    text: 'issue 14: p99.9 append latency at half the maximum throughput, 1 KiB: < 5 ms',
    atLeast: false,
    goal: 5000,
    measure: absolute('walrus.latency', kib, 'p999Us'),
  },
  {
    text: 'p99 append latency at half the maximum throughput, 1 KiB: < 1 ms',
    atLeast: false,
    goal: 1000,
    measure: absolute('walrus.latency', kib, 'p99Us'),
  },
];

export function checkTargets(results: readonly CaseResult[]): TargetCheck[] {
  return targets.map((target) => {
    const figure = target.measure(results);
    if (!figure) return { text: target.text, met: undefined, measured: 'not measured' };
    const met = target.atLeast
      ? figure.value >= target.goal
      : target.inclusive
        ? figure.value <= target.goal
        : figure.value < target.goal;
    if (met) return { text: target.text, met, measured: figure.shown };
    const gap = target.atLeast
      ? `short by ${formatPercent(1 - figure.value / target.goal)}`
      : `over by ${formatPercent(figure.value / target.goal - 1)}`;
    return { text: target.text, met, measured: figure.shown, gap };
  });
}

export function renderTargets(checks: readonly TargetCheck[]): string {
  return checks
    .map(
      (c) =>
        `${c.met === undefined ? '  n/a ' : c.met ? '  met ' : 'MISSED'}  ${c.text}: ${c.measured}${c.gap ? ` (${c.gap})` : ''}`,
    )
    .join('\n');
}
