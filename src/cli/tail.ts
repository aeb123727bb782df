/**
 * `walrus tail <dir> <topic>`: the last entries of a topic (or all of them), and with `--follow`
 * the new ones as they are written. Read-only and lock-free: it never moves a consumer cursor.
 * Following re-scans the segment files whose size changed (the writers' current segments) every
 * interval and prints the entries the topic's recovered prefix gained since.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { RecoveredTopic } from '../storage/recover.js';
import type { SegmentScan } from '../storage/segment-scanner.js';
import { HELP_OPTION, KEY_OPTION, parseChoice, parseInteger, takePositionals, withUsageErrors } from './args.js';
import { CliFailure, EXIT_OK, UsageError } from './cli-error.js';
import { readCursors } from './cursor-reader.js';
import {
  PAYLOAD_FORMATS,
  codecName,
  escapeControl,
  hexDump,
  payloadJsonFields,
  payloadText,
  type PayloadFormat,
} from './entry-format.js';
import { loadLogView, mergeView, readFences, resolveLogDir, segmentFiles } from './log-view.js';
import { Output } from './output.js';
import { scanInline } from './segment-scans.js';
import { readTopicEntries, type TopicEntry } from './topic-entries.js';

export const tailUsage = `Usage: walrus tail <dir> <topic> [--key K] [--follow] [--from-start] [--format text|json|hex] [-n N]

Prints the last N entries of a topic, oldest first, then (with --follow) every new entry as it
is written, until interrupted (Ctrl-C). Read-only: consumer cursors do not move.

Options:
  -k, --key K            the namespace key the log was opened with (data in <dir>/<sanitized K>)
  -n, --lines N          how many of the last entries to print (default 10; 0 with --follow: only new ones)
      --from-start       every stored entry instead of the last N
  -f, --follow           keep printing entries as they are appended
      --interval MS      with --follow, how often to look for new entries (default 500)
      --format FORMAT    text: the payload as UTF-8 (object entries as JSON), one entry per line (default)
                         json: one JSON object per line: { topic, seq, timeMs, codec, bytes, text | base64 | value }
                         hex:  "seq N (B bytes)" and a hex dump of the payload
                         (text escapes control and format characters: a newline shows as \\n)
  -h, --help             this text

Exit codes: 0 ok (also when stopped by Ctrl-C), 1 failure (no such directory or topic), 2 usage error.
`;

const DEFAULT_LINES = 10;
const DEFAULT_INTERVAL_MS = 500;

export async function runTail(args: string[]): Promise<number> {
  const { values, positionals } = withUsageErrors(() =>
    parseArgs({
      args,
      options: {
        ...HELP_OPTION,
        ...KEY_OPTION,
        lines: { type: 'string', short: 'n' },
        'from-start': { type: 'boolean' },
        follow: { type: 'boolean', short: 'f' },
        interval: { type: 'string' },
        format: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (values.help) {
    process.stdout.write(tailUsage);
    return EXIT_OK;
  }
  const [dir, topicName] = takePositionals(positionals, ['dir', 'topic']);
  const format = parseChoice(values.format, PAYLOAD_FORMATS, 'text', '--format');
  if (values['from-start'] && values.lines !== undefined)
    throw new UsageError('--from-start and --lines exclude each other');
  const lines = parseInteger(values.lines, DEFAULT_LINES, '--lines');
  const intervalMs = parseInteger(values.interval, DEFAULT_INTERVAL_MS, '--interval', 10, 3_600_000);
  if (values.interval !== undefined && !values.follow) throw new UsageError('--interval only applies with --follow');
  const nsDir = resolveLogDir(dir!, values.key);

  const out = new Output(process.stdout);
  // Listening from the start: a SIGINT that arrives while the last entries are printed (before
  // the follow loop) must stop it cleanly too, not kill the process.
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  if (values.follow) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    const view = await loadLogView(nsDir);
    const scans = new Map(view.scans.map((scan) => [scan.path, scan]));
    const v1TimeMs = view.manifest?.v1TimeMs ?? 0;
    let topic = view.recovery.topics.find((t) => t.name === topicName);
    if (topic === undefined && !values.follow) {
      const known = view.recovery.topics.map((t) => escapeControl(JSON.stringify(t.name)));
      throw new CliFailure(
        `no topic ${escapeControl(JSON.stringify(topicName))} in ${nsDir}${known.length > 0 ? ` (topics: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''})` : ''}`,
      );
    }
    let next = 0;
    if (topic !== undefined) {
      const from = values['from-start'] ? 0 : Math.max(0, topic.nextSeq - lines);
      await printEntries(out, scans, topic, from, format, v1TimeMs);
      next = topic.nextSeq;
    }
    await out.flush();
    if (!values.follow) return EXIT_OK;

    while (!stop.signal.aborted) {
      try {
        await sleep(intervalMs, undefined, { signal: stop.signal });
      } catch {
        break; // aborted by a signal: stop cleanly
      }
      refreshScans(nsDir, scans);
      topic = mergeView(readCursors(nsDir), [...scans.values()], readFences(nsDir)).topics.find(
        (t) => t.name === topicName,
      );
      if (topic === undefined) continue;
      // A service that recovered from damage continues the topic at a lower seq: follow it there.
      if (topic.nextSeq < next) next = topic.nextSeq;
      if (topic.nextSeq > next) {
        await printEntries(out, scans, topic, next, format, v1TimeMs);
        next = topic.nextSeq;
      }
      await out.flush();
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  await out.flush();
  return EXIT_OK;
}

/** Re-scans new segment files and those whose size changed; forgets reclaimed ones. */
function refreshScans(nsDir: string, scans: Map<string, SegmentScan>): void {
  const present = new Set<string>();
  for (const file of segmentFiles(nsDir)) {
    present.add(file.path);
    const known = scans.get(file.path);
    if (known !== undefined && known.sizeBytes === file.sizeBytes) continue;
    const scan = scanInline(file.path);
    if (scan === null) scans.delete(file.path);
    else scans.set(file.path, scan);
  }
  for (const filePath of [...scans.keys()]) if (!present.has(filePath)) scans.delete(filePath);
}

async function printEntries(
  out: Output,
  scans: ReadonlyMap<string, SegmentScan>,
  topic: RecoveredTopic,
  from: number,
  format: PayloadFormat,
  v1TimeMs: number,
): Promise<void> {
  for (const entry of readTopicEntries(scans, topic, from, topic.nextSeq, v1TimeMs)) {
    const full = out.write(renderEntry(topic.name, entry, format));
    if (full) await full;
  }
}

export function renderEntry(topic: string, entry: TopicEntry, format: PayloadFormat): string {
  const { seq, timeMs, flags, data } = entry;
  if (format === 'json') {
    const fields = { topic, seq, timeMs, codec: codecName(flags), bytes: data.byteLength };
    return `${JSON.stringify({ ...fields, ...payloadJsonFields(data, flags) })}\n`;
  }
  if (format === 'hex') {
    const codec = codecName(flags) === 'msgpack' ? ', msgpack' : '';
    return `seq ${seq} (${data.byteLength} bytes${codec}) topic "${escapeControl(topic)}"\n${hexDump(data, '  ')}`;
  }
  // Escaped: a payload is anyone's bytes, and a terminal obeys escape sequences and bidi overrides.
  return `${escapeControl(payloadText(data, flags))}\n`;
}
