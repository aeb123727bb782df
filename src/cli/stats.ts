/**
 * `walrus stats <dir>`: what a namespace holds, per topic and in total, read without the lock and
 * without writing anything, so it can be run against the data directory of a running service.
 */
import { fileSizeAt, nodeFileIo } from '../storage/file-io.js';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { KIND_ENTRY } from '../storage/frame.js';
import { AcceptedFrames } from './accepted-frames.js';
import { HELP_OPTION, JSON_OPTION, KEY_OPTION, takePositionals, withUsageErrors } from './args.js';
import { EXIT_OK } from './cli-error.js';
import { escapeControl } from './entry-format.js';
import { formatBytes, renderTable } from './format.js';
import { SegmentReader } from './frame-walker.js';
import { loadLogView, readLockHolder, resolveLogDir, type LockHolder, type LogView } from './log-view.js';

export const statsUsage = `Usage: walrus stats <dir> [--key K] [--json]

Topics, entries and bytes of a walrus-ts log. Read-only and lock-free: safe to run while a
service has the log open (it shows the files as they are when read).

Per topic: appended (entries ever appended = the next seq), consumed (the default consumer's
durable cursor), unread, stored (entries still in segment files), bytes (their payload bytes) and
segments (files holding them). In total: segment files and bytes, all files, damaged frames.
Per named consumer and topic: its position (the next seq it is handed) and lag (appended - position).

Options:
  -k, --key K   the namespace key the log was opened with (data in <dir>/<sanitized K>)
      --json    one JSON object instead of the table
  -h, --help    this text

Exit codes: 0 ok, 1 failure (no such directory, unreadable control file), 2 usage error.
`;

export interface TopicStatsRow {
  name: string;
  id: number;
  appended: number;
  consumed: number;
  unread: number;
  stored: number;
  bytes: number;
  segments: number;
  /** Recovery would end this topic early: something at or after its cursor is damaged or missing. */
  damaged: boolean;
}

export interface StatsReport {
  dir: string;
  /** The namespace key MANIFEST records (null: the directory was only ever named directly). */
  key: string | null;
  epoch: number;
  openBy: LockHolder | null;
  topics: TopicStatsRow[];
  totals: { topics: number; appended: number; consumed: number; unread: number; stored: number; bytes: number };
  segments: { count: number; bytes: number };
  files: { count: number; bytes: number };
  damagedFrames: number;
  /** Named consumers (FORMAT §18): position and lag per topic, sorted by name. */
  consumers: Array<{ name: string; topics: Array<{ topic: string; position: number; lag: number }> }>;
}

export async function runStats(args: string[]): Promise<number> {
  const { values, positionals } = withUsageErrors(() =>
    parseArgs({
      args,
      options: { ...HELP_OPTION, ...KEY_OPTION, ...JSON_OPTION },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (values.help) {
    process.stdout.write(statsUsage);
    return EXIT_OK;
  }
  const [dir] = takePositionals(positionals, ['dir']);
  const nsDir = resolveLogDir(dir!, values.key);
  const report = collectStats(await loadLogView(nsDir), nsDir);
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderStats(report));
  return EXIT_OK;
}

export function collectStats(view: LogView, nsDir: string): StatsReport {
  const payloadBytes = payloadBytesByTopic(view);
  const topics = view.recovery.topics
    .map((topic): TopicStatsRow => {
      const consumed = Math.min(view.cursors.cursors.get(topic.id) ?? 0, topic.nextSeq);
      return {
        name: topic.name,
        id: topic.id,
        appended: topic.nextSeq,
        consumed,
        unread: topic.nextSeq - consumed,
        stored: topic.runs.reduce((n, run) => n + run.count, 0),
        bytes: payloadBytes.get(topic.id) ?? 0,
        segments: new Set(topic.runs.map((run) => run.path)).size,
        damaged: topic.damaged,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const sum = (pick: (row: TopicStatsRow) => number): number => topics.reduce((n, row) => n + pick(row), 0);
  return {
    dir: nsDir,
    key: view.manifest?.key ?? null,
    epoch: Math.max(view.manifest?.epoch ?? 0, view.recovery.maxEpoch),
    openBy: readLockHolder(nsDir),
    topics,
    totals: {
      topics: topics.length,
      appended: sum((r) => r.appended),
      consumed: sum((r) => r.consumed),
      unread: sum((r) => r.unread),
      stored: sum((r) => r.stored),
      bytes: sum((r) => r.bytes),
    },
    segments: { count: view.scans.length, bytes: view.scans.reduce((n, scan) => n + scan.sizeBytes, 0) },
    files: filesIn(nsDir),
    damagedFrames: view.recovery.damage.length,
    consumers: [...view.cursors.consumers]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, positions]) => ({
        name,
        topics: topics.map((t) => {
          const firstSeq = view.cursors.firstSeqs.get(t.id) ?? 0;
          const position = Math.min(Math.max(firstSeq, positions.get(t.id) ?? firstSeq), t.appended);
          return { topic: t.name, position, lag: t.appended - position };
        }),
      })),
  };
}

/** Payload bytes of each topic's recovered entries: one header-only pass over each segment holding any. */
function payloadBytesByTopic(view: LogView): Map<number, number> {
  const accepted = new AcceptedFrames(view.recovery.topics);
  const holding = new Set(view.recovery.topics.flatMap((topic) => topic.runs.map((run) => run.path)));
  const bytes = new Map<number, number>();
  for (const scan of view.scans) {
    if (scan.unreadable || !holding.has(scan.path)) continue;
    const reader = SegmentReader.open(scan.path);
    if (reader === null) continue;
    try {
      const isAccepted = accepted.inFile(scan.path);
      for (const item of reader.frames(0, scan.sizeBytes, scan, false)) {
        if (item.type !== 'frame' || item.header.kind !== KIND_ENTRY) continue;
        const { topicId, seq, payloadBytes } = item.header;
        if (isAccepted(topicId, seq, item.offset)) bytes.set(topicId, (bytes.get(topicId) ?? 0) + payloadBytes);
      }
    } finally {
      reader.close();
    }
  }
  return bytes;
}

/** Every regular file of the namespace directory (segments, control files, cursor logs, LOCK). */
function filesIn(nsDir: string): { count: number; bytes: number } {
  let count = 0;
  let bytes = 0;
  for (const name of nodeFileIo.readdir(nsDir)) {
    try {
      const file = path.join(nsDir, name);
      if (nodeFileIo.kind(file) !== 'file') continue;
      bytes += fileSizeAt(nodeFileIo, file);
      count++;
    } catch {
      // Deleted between the listing and the stat (a live service reclaiming or rotating a log).
    }
  }
  return { count, bytes };
}

export function renderStats(report: StatsReport): string {
  const { totals } = report;
  const open =
    report.openBy === null
      ? 'not open'
      : `open by pid ${report.openBy.pid} on ${escapeControl(report.openBy.hostname)}${report.openBy.alive ? '' : ' (not held: its holder is gone)'}`;
  let out = `walrus-ts log  ${report.dir}\n`;
  if (report.key !== null) out += `namespace key  ${escapeControl(JSON.stringify(report.key))}\n`;
  out += `epoch          ${report.epoch} (${open})\n`;
  out += `segments       ${plural(report.segments.count, 'file')}, ${formatBytes(report.segments.bytes)}\n`;
  out += `all files      ${plural(report.files.count, 'file')}, ${formatBytes(report.files.bytes)}\n`;
  out += `damaged frames ${report.damagedFrames}${report.damagedFrames > 0 ? ' (run `walrus verify` for where)' : ''}\n`;
  out += `topics         ${totals.topics}: ${totals.appended} appended, ${totals.consumed} consumed, ${totals.unread} unread, `;
  out += `${totals.stored} stored (${formatBytes(totals.bytes)})\n`;
  if (report.topics.length === 0) return out;
  const rows = report.topics.map((t) => [
    escapeControl(t.name) + (t.damaged ? ' (damaged)' : ''),
    String(t.appended),
    String(t.consumed),
    String(t.unread),
    String(t.stored),
    formatBytes(t.bytes),
    String(t.segments),
  ]);
  out += `\n${renderTable(['topic', 'appended', 'consumed', 'unread', 'stored', 'bytes', 'segments'], rows)}`;
  if (report.consumers.length === 0) return out;
  const consumerRows = report.consumers.flatMap((c) =>
    c.topics.map((t) => [escapeControl(c.name), escapeControl(t.topic), String(t.position), String(t.lag)]),
  );
  return `${out}\nnamed consumers\n${renderTable(['consumer', 'topic', 'position', 'lag'], consumerRows)}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
