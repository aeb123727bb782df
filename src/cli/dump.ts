/**
 * `walrus dump <dir>`: every frame of every segment in (epoch, writer, segment no, offset) order,
 * with what recovery makes of it: an entry is `visible` when it belongs to its topic's recovered
 * prefix, `ignored` when it is intact but recovery skips it (after damage in the topic, in an
 * incomplete batch, or superseded by a later epoch), `damaged` when its checksum fails. Damage
 * between frames (garbage, torn tails) is listed where it is found. Read-only and lock-free.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  FLAG_BATCH,
  FLAG_BATCH_END,
  CODEC_MSGPACK,
  CODEC_RAW,
  KIND_ENTRY,
  KIND_SEGMENT_HEADER,
  KIND_TOPIC_DEF,
  decodeSegmentHeaderPayload,
  flagsWithCodec,
  type FrameHeader,
} from '../storage/frame.js';
import type { SegmentScan } from '../storage/segment-scanner.js';
import { AcceptedFrames } from './accepted-frames.js';
import { HELP_OPTION, KEY_OPTION, parseChoice, takePositionals, withUsageErrors } from './args.js';
import { CliFailure, EXIT_OK } from './cli-error.js';
import {
  PAYLOAD_FORMATS,
  codecName,
  escapeControl,
  hexDump,
  payloadJsonFields,
  payloadPreview,
  type PayloadFormat,
} from './entry-format.js';
import { SegmentReader, type WalkItem } from './frame-walker.js';
import { loadLogView, resolveLogDir } from './log-view.js';
import { Output } from './output.js';

export const dumpUsage = `Usage: walrus dump <dir> [--key K] [--topic T] [--format text|json|hex]

Lists every frame of every segment file in order: segment, offset, kind, topic, seq, flags,
payload bytes, and what recovery makes of it (visible, ignored, damaged). Damage found between
frames is listed where it is. Read-only and lock-free.

Options:
  -k, --key K            the namespace key the log was opened with (data in <dir>/<sanitized K>)
  -t, --topic T          only the frames (and attributed damage) of topic T
      --format FORMAT    text: one line per frame, entries with a one-line payload preview (default)
                         json: one JSON object per line, entries with their whole payload
                               (text, base64, or the decoded value of an object entry)
                         hex:  the text lines, each entry followed by a hex dump of its payload
  -h, --help             this text

Exit codes: 0 ok (damage is listed, not an error: use verify to check), 1 failure, 2 usage error.
`;

const PREVIEW_CHARS = 60;

export interface DumpRecord {
  segment: string;
  offset: number;
  kind: 'SEGMENT_HEADER' | 'TOPIC_DEF' | 'ENTRY' | 'DAMAGE';
  topic?: string;
  topicId?: number;
  seq?: number;
  /** An entry's append time (ms since the epoch); for a version-1 entry, MANIFEST.v1TimeMs (FORMAT §20.3). */
  timeMs?: number;
  flags?: string[];
  codec?: 'raw' | 'msgpack';
  bytes?: number;
  status?: 'visible' | 'ignored' | 'damaged';
  reason?: string;
  segmentHeader?: {
    version: number;
    epoch: number;
    writer: number;
    segmentNo: number;
    blockBytes: number;
    createdAt: string | null;
  };
}

export async function runDump(args: string[]): Promise<number> {
  const { values, positionals } = withUsageErrors(() =>
    parseArgs({
      args,
      options: { ...HELP_OPTION, ...KEY_OPTION, topic: { type: 'string', short: 't' }, format: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (values.help) {
    process.stdout.write(dumpUsage);
    return EXIT_OK;
  }
  const [dir] = takePositionals(positionals, ['dir']);
  const format = parseChoice(values.format, PAYLOAD_FORMATS, 'text', '--format');
  const nsDir = resolveLogDir(dir!, values.key);
  const view = await loadLogView(nsDir);
  const names = new Map(view.cursors.names);
  for (const topic of view.recovery.topics) names.set(topic.id, topic.name);
  for (const scan of view.scans) for (const [id, name] of scan.topicNames) if (!names.has(id)) names.set(id, name);
  let onlyTopic: number | undefined;
  if (values.topic !== undefined) {
    onlyTopic = [...names].find(([, name]) => name === values.topic)?.[0];
    if (onlyTopic === undefined) throw new CliFailure(`no topic ${JSON.stringify(values.topic)} in ${nsDir}`);
  }
  const accepted = new AcceptedFrames(view.recovery.topics);
  const out = new Output(process.stdout);
  for (const scan of view.scans) {
    for (const { record, payload } of segmentRecords(scan, accepted, names, view.manifest?.v1TimeMs ?? 0)) {
      if (onlyTopic !== undefined && record.topicId !== onlyTopic) continue;
      const full = out.write(renderRecord(record, payload, format));
      if (full) await full;
    }
  }
  await out.flush();
  return EXIT_OK;
}

interface RecordWithPayload {
  record: DumpRecord;
  payload?: Uint8Array;
}

/** Payloads are always read: a payload checksum is only checked by reading it, and dump reports damage. */
function* segmentRecords(
  scan: SegmentScan,
  accepted: AcceptedFrames,
  names: ReadonlyMap<number, string>,
  v1TimeMs: number,
): Generator<RecordWithPayload> {
  const segment = path.basename(scan.path);
  if (scan.unreadable) {
    for (const d of scan.damage) yield { record: { segment, offset: d.offset, kind: 'DAMAGE', reason: d.reason } };
    return;
  }
  const reader = SegmentReader.open(scan.path);
  if (reader === null) return; // reclaimed since the scan
  try {
    const isAccepted = accepted.inFile(scan.path);
    for (const item of reader.frames(0, scan.sizeBytes, scan, true))
      yield toRecord(segment, item, isAccepted, names, scan.formatVersion === 1 ? v1TimeMs : null);
  } finally {
    reader.close();
  }
}

function toRecord(
  segment: string,
  item: WalkItem,
  isAccepted: (topicId: number, seq: number, offset: number) => boolean,
  names: ReadonlyMap<number, string>,
  v1TimeMs: number | null,
): RecordWithPayload {
  if (item.type === 'damage') {
    const record: DumpRecord = { segment, offset: item.offset, kind: 'DAMAGE', reason: item.reason };
    if (item.header !== undefined) Object.assign(record, topicFields(item.header, names));
    return { record };
  }
  const { header, offset, payload, payloadOk } = item;
  if (header.kind === KIND_SEGMENT_HEADER) {
    const record: DumpRecord = { segment, offset, kind: 'SEGMENT_HEADER', bytes: header.payloadBytes };
    if (payload !== undefined && payloadOk && header.payloadBytes === payload.byteLength) {
      const info = decodeSegmentHeaderPayload(payload);
      const created = new Date(info.createdAtMs);
      record.segmentHeader = {
        version: info.formatVersion,
        epoch: info.epoch,
        writer: info.writerIndex,
        segmentNo: info.segmentNo,
        blockBytes: info.blockBytes,
        createdAt: Number.isNaN(created.getTime()) ? null : created.toISOString(),
      };
    }
    if (payloadOk === false) Object.assign(record, { status: 'damaged', reason: 'payload checksum mismatch' });
    return { record };
  }
  if (header.kind === KIND_TOPIC_DEF) {
    const record: DumpRecord = {
      segment,
      offset,
      kind: 'TOPIC_DEF',
      topicId: header.topicId,
      bytes: header.payloadBytes,
    };
    if (payload !== undefined && payloadOk) record.topic = new TextDecoder().decode(payload);
    else if (names.has(header.topicId)) record.topic = names.get(header.topicId)!;
    if (payloadOk === false) Object.assign(record, { status: 'damaged', reason: 'payload checksum mismatch' });
    return { record };
  }
  const record: DumpRecord = {
    segment,
    offset,
    kind: 'ENTRY',
    ...topicFields(header, names),
    timeMs: v1TimeMs ?? header.timeMs,
    flags: flagNames(header.flags),
    codec: codecName(header.flags),
    bytes: header.payloadBytes,
    status: payloadOk === false ? 'damaged' : isAccepted(header.topicId, header.seq, offset) ? 'visible' : 'ignored',
  };
  if (payloadOk === false) record.reason = 'payload checksum mismatch';
  return payload === undefined ? { record } : { record, payload };
}

function topicFields(
  header: FrameHeader,
  names: ReadonlyMap<number, string>,
): Pick<DumpRecord, 'topic' | 'topicId' | 'seq'> {
  const fields: Pick<DumpRecord, 'topic' | 'topicId' | 'seq'> = { topicId: header.topicId };
  const name = names.get(header.topicId);
  if (name !== undefined) fields.topic = name;
  if (header.kind === KIND_ENTRY) fields.seq = header.seq;
  return fields;
}

function flagNames(flags: number): string[] {
  const out: string[] = [];
  if (flags & FLAG_BATCH) out.push('BATCH');
  if (flags & FLAG_BATCH_END) out.push('BATCH_END');
  if (codecName(flags) === 'msgpack') out.push('msgpack');
  return out;
}

export function renderRecord(record: DumpRecord, payload: Uint8Array | undefined, format: PayloadFormat): string {
  if (format === 'json') {
    const json: Record<string, unknown> = { ...record };
    if (record.kind === 'ENTRY' && payload !== undefined && record.status !== 'damaged')
      Object.assign(json, payloadJsonFields(payload, flagsOf(record)));
    return `${JSON.stringify(json)}\n`;
  }
  let line = `${record.segment} ${String(record.offset).padStart(10)}  ${record.kind.padEnd(14)}`;
  const topic =
    record.topic !== undefined
      ? `topic "${escapeControl(record.topic)}"`
      : record.topicId !== undefined
        ? `topic id ${record.topicId}`
        : '';
  if (record.kind === 'SEGMENT_HEADER') {
    const h = record.segmentHeader;
    line += h
      ? ` version=${h.version} epoch=${h.epoch} writer=${h.writer} segment=${h.segmentNo} block=${h.blockBytes} created=${h.createdAt ?? '?'}`
      : '';
  } else if (record.kind === 'TOPIC_DEF') {
    line += ` ${topic} id=${record.topicId}`;
  } else if (record.kind === 'ENTRY') {
    const flags = record.flags!.length > 0 ? record.flags!.join('|') : '-';
    line += ` ${topic} seq=${record.seq} time=${isoTime(record.timeMs!)} bytes=${record.bytes} flags=${flags} ${record.status}`;
  } else {
    line += `${topic ? ` ${topic}` : ''}${record.seq !== undefined ? ` seq=${record.seq}` : ''}`;
  }
  if (record.reason !== undefined) line += `: ${record.reason}`;
  if (record.kind === 'ENTRY' && payload !== undefined && record.status !== 'damaged') {
    if (format === 'hex') return `${line}\n${hexDump(payload, '    ')}`;
    line += `  | ${payloadPreview(payload, flagsOf(record), PREVIEW_CHARS)}`;
  }
  return `${line}\n`;
}

function isoTime(timeMs: number): string {
  const date = new Date(timeMs);
  return Number.isNaN(date.getTime()) ? String(timeMs) : date.toISOString();
}

/** Flag bits carrying the record's codec: all that rendering a payload needs. */
function flagsOf(record: DumpRecord): number {
  return flagsWithCodec(0, record.codec === 'msgpack' ? CODEC_MSGPACK : CODEC_RAW);
}
