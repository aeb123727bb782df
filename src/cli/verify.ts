/**
 * `walrus verify <dir>`: a checksum audit of every segment file, scanned in parallel on the same
 * piscina scan task recovery uses, with a progress bar on a terminal. Every damaged frame is
 * reported with its file and offset; so is anything that would cut a topic's recovered prefix
 * short (a gap in its sequence numbers) and an unreadable CURSORS file. Exit 1 when anything is.
 * Read-only and lock-free like `stats`.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { WalError } from '../errors.js';
import { CURSORS_FILE_NAME } from '../storage/cursor-store.js';
import type { DamageReport, SegmentScan } from '../storage/segment-scanner.js';
import { nodeFileIo } from '../storage/file-io.js';
import { summaryDisagreement } from '../storage/summary-files.js';
import { HELP_OPTION, JSON_OPTION, KEY_OPTION, takePositionals, withUsageErrors } from './args.js';
import { EXIT_FAILURE, EXIT_OK } from './cli-error.js';
import { readCursors, type CursorView } from './cursor-reader.js';
import { escapeControl } from './entry-format.js';
import { formatBytes } from './format.js';
import type { Fence } from '../storage/recover.js';
import { MANIFEST_FILE_NAME } from '../storage/manifest.js';
import { mergeView, readFences, resolveLogDir, segmentFiles } from './log-view.js';
import { ProgressBar } from './progress-bar.js';
import { scanInline, scanSegmentFiles } from './segment-scans.js';

export const verifyUsage = `Usage: walrus verify <dir> [--key K] [--json]

Checks every frame of every segment file (CRC-32 of header and payload, framing, batches) in
parallel, with a progress bar on stderr when it is a terminal. Prints the file and byte offset
of each damaged frame, and every place where a topic's sequence breaks (what recovery would cut
the topic's valid prefix at). Read-only and lock-free: safe while a service has the log open.

Options:
  -k, --key K   the namespace key the log was opened with (data in <dir>/<sanitized K>)
      --json    one JSON object: { ok, dir, files, bytes, damage: [{ kind, file, offset, reason, topic, seq }] }
  -h, --help    this text

Exit codes: 0 no damage, 1 damage found (or the audit could not run), 2 usage error.
`;

export interface VerifyFinding {
  /**
   * frame: a damaged frame; sequence: a topic's entries break there; control: CURSORS unreadable;
   * summary: a segment's summary file is damaged or differs from the segment (docs/FORMAT.md §17).
   */
  kind: 'frame' | 'sequence' | 'control' | 'summary';
  file: string;
  offset: number;
  reason: string;
  topic?: string;
  seq?: number;
}

export interface VerifyResult {
  ok: boolean;
  dir: string;
  files: number;
  bytes: number;
  damage: VerifyFinding[];
}

export async function runVerify(args: string[]): Promise<number> {
  const { values, positionals } = withUsageErrors(() =>
    parseArgs({
      args,
      options: { ...HELP_OPTION, ...KEY_OPTION, ...JSON_OPTION },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (values.help) {
    process.stdout.write(verifyUsage);
    return EXIT_OK;
  }
  const [dir] = takePositionals(positionals, ['dir']);
  const result = await verifyLog(resolveLogDir(dir!, values.key));
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : renderVerify(result));
  return result.ok ? EXIT_OK : EXIT_FAILURE;
}

export async function verifyLog(nsDir: string): Promise<VerifyResult> {
  const findings: VerifyFinding[] = [];
  const files = segmentFiles(nsDir);
  const bar = ProgressBar.forStream(process.stderr, 'verify');
  let scans: SegmentScan[];
  try {
    scans = await scanSegmentFiles(files, (p) => bar?.update(p.doneFiles, p.totalFiles, p.doneBytes, p.totalBytes));
  } finally {
    bar?.clear();
  }
  scans = scans.map(rescanTornTail);
  // After the scans, as in log-view.ts: cursors that cover any segment deleted meanwhile.
  // A corrupt control file is a finding, and the audit goes on without it.
  const readControl = <T>(fileName: string, read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof WalError) || err.code !== 'ERR_CORRUPT') throw err;
      findings.push({ kind: 'control', file: path.join(nsDir, fileName), offset: 0, reason: err.message });
      return fallback;
    }
  };
  const cursors: CursorView = readControl(CURSORS_FILE_NAME, () => readCursors(nsDir), {
    generation: 0,
    names: new Map(),
    cursors: new Map(),
    consumers: new Map(),
    firstSeqs: new Map(),
  });
  const fences: Fence[] = readControl(MANIFEST_FILE_NAME, () => readFences(nsDir), []);
  const recovery = mergeView(cursors, scans, fences);
  const frameDamage = scans.flatMap((scan) => scan.damage);
  const names = topicNames(cursors, scans);
  const describe = (kind: VerifyFinding['kind'], d: DamageReport): VerifyFinding => {
    const finding: VerifyFinding = { kind, file: d.path, offset: d.offset, reason: d.reason };
    const name = d.topicId === undefined ? undefined : names.get(d.topicId);
    if (name !== undefined) finding.topic = name;
    if (d.seq !== undefined) finding.seq = d.seq;
    return finding;
  };
  findings.push(...frameDamage.map((d) => describe('frame', d)));
  // mergeScans lists the scans' damage first, then what it found merging them.
  findings.push(...recovery.damage.slice(frameDamage.length).map((d) => describe('sequence', d)));
  for (const scan of scans) {
    const disagreement = summaryDisagreement(nodeFileIo, scan);
    if (disagreement !== null) findings.push({ kind: 'summary', file: scan.path, offset: 0, reason: disagreement });
  }
  return {
    ok: findings.length === 0,
    dir: nsDir,
    files: scans.length,
    bytes: scans.reduce((n, scan) => n + scan.sizeBytes, 0),
    damage: findings,
  };
}

/**
 * A segment a live writer is appending to can end in a frame that is only partly written when it
 * is read: such a file is scanned once more, and only a torn tail that is still there counts.
 */
function rescanTornTail(scan: SegmentScan): SegmentScan {
  if (!scan.damage.some((d) => d.reason.startsWith('torn tail'))) return scan;
  return scanInline(scan.path) ?? scan;
}

function topicNames(cursors: CursorView, scans: SegmentScan[]): Map<number, string> {
  const names = new Map(cursors.names);
  for (const scan of scans) for (const [id, name] of scan.topicNames) if (!names.has(id)) names.set(id, name);
  return names;
}

export function renderVerify(result: VerifyResult): string {
  let out = '';
  for (const d of result.damage) {
    const what =
      d.kind === 'frame' ? 'damaged frame' : d.kind === 'sequence' ? 'sequence break' : 'unreadable control file';
    const where: string[] = [];
    if (d.topic !== undefined) where.push(`topic "${escapeControl(d.topic)}"`);
    if (d.seq !== undefined) where.push(`seq ${d.seq}`);
    out += `${what}: ${d.file} offset ${d.offset}: ${d.reason}${where.length > 0 ? ` (${where.join(', ')})` : ''}\n`;
  }
  const counted = (kind: VerifyFinding['kind'], one: string, many: string): string => {
    const n = result.damage.filter((d) => d.kind === kind).length;
    return n === 0 ? '' : `${n} ${n === 1 ? one : many}`;
  };
  const summary = result.ok
    ? 'OK, no damage'
    : [
        counted('frame', 'damaged frame', 'damaged frames'),
        counted('sequence', 'sequence break', 'sequence breaks'),
        counted('control', 'unreadable control file', 'unreadable control files'),
      ]
        .filter((s) => s.length > 0)
        .join(', ');
  return `${out}verified ${result.files} segment file${result.files === 1 ? '' : 's'} (${formatBytes(result.bytes)}) in ${result.dir}: ${summary}\n`;
}
