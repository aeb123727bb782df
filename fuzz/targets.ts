/**
 * The fuzz targets: one function per parser of disk bytes, each asserting the contract those
 * parsers share (docs/SEMANTICS.md rule H5, docs/FORMAT.md §5): given any bytes, return a result that respects the
 * format's ranges, or throw a WalError whose code names damage (ERR_CORRUPT) or a newer format
 * (ERR_UNSUPPORTED_FORMAT). Anything else — another exception, another code, a result out of range —
 * is a ContractViolation. Hangs and huge allocations are caught by the runner (fuzz/run.ts), which
 * runs each input under a watchdog.
 *
 * Targets import the BUILT code (dist/), as the tests do. The first input byte is a control byte:
 * its bits ask a target to repair the checksums the format puts in front of everything (frame CRCs,
 * the control-file CRC, cursor-record CRCs), so mutations reach the code behind the checks instead
 * of dying at them; the rest of the input is the file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WalError, type WalErrorCode } from '../dist/src/errors.js';
import {
  FRAME_HEADER_BYTES_V1,
  FRAME_HEADER_BYTES_V2,
  FRAME_MAGIC,
  FRAME_VERSION_2,
  MAX_TIME_MS,
  crc32Of,
  decodeFrameHeader,
  decodeFrameHeaderV2,
  decodeSegmentHeaderPayload,
  encodeFrameHeader,
  encodeFrameHeaderV2,
  frameBytes,
  frameHeaderBytes,
  readU32,
  sealFrameHeaderV2,
} from '../dist/src/storage/frame.js';
import { pointCount, pointOffset, pointSeq } from '../dist/src/storage/sparse-index.js';
import { scanSegment, type SegmentScan } from '../dist/src/storage/segment-scanner.js';
import { readManifest } from '../dist/src/storage/manifest.js';
import {
  CURSOR_RECORD_BYTES,
  CURSOR_RECORD_MAGIC,
  CursorStore,
  cursorLogPath,
  decodeCursorRecord,
  decodeCursorSnapshot,
} from '../dist/src/storage/cursor-store.js';
import { CONTROL_HEADER_BYTES } from '../dist/src/storage/disk-codec.js';
import { MAX_SEQ, MAX_TOPIC_ID } from '../dist/src/storage/limits.js';
import { parseSegmentFileName, segmentFileName } from '../dist/src/storage/segment-name.js';
import { SegmentReader, type WalkedSegment } from '../dist/src/cli/frame-walker.js';
import { MIN_BLOCK_BYTES, isValidBlockBytes } from '../dist/src/storage/block-layout.js';
import {
  SUMMARY_PREAMBLE_BYTES,
  decodeSegmentSummary,
  maxSummaryBytes,
  summaryHeadLength,
} from '../dist/src/storage/segment-summary.js';
import { MemFileIo } from './mem-file-io.js';

/** A broken promise of a parser: the input that caused it is a finding. */
export class ContractViolation extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContractViolation';
  }
}

export interface FuzzTarget {
  readonly name: string;
  /** Longest input the runner makes (control byte included). */
  readonly maxInputBytes: number;
  /** Runs one input; throws a ContractViolation when the parser broke its contract. */
  run(input: Uint8Array): void;
}

const DAMAGE_CODES: ReadonlySet<WalErrorCode> = new Set(['ERR_CORRUPT', 'ERR_UNSUPPORTED_FORMAT']);
const NS_DIR = path.resolve('/fuzz-ns');
const SEGMENT_NAME = '00000001-0000-00000000.seg';
const CONTROL_MAGIC_BYTES = [0x57, 0x43, 0x54, 0x4c]; // "WCTL"
const TWO_POW_32 = 0x1_0000_0000;

/** Runs a parser: a WalError with a damage code is an accepted outcome (undefined), anything else thrown is a violation. */
function parse<T>(what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ContractViolation) throw err;
    if (err instanceof WalError && DAMAGE_CODES.has(err.code)) return undefined;
    const kind = err instanceof WalError ? `WalError ${err.code}` : err instanceof Error ? err.name : typeof err;
    throw new ContractViolation(`${what} threw ${kind}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new ContractViolation(message);
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** The layout a segment input's first frame names: version 2 (and its salt) or else version 1. */
function fileLayout(file: Uint8Array): { version: number; salt: number; headerBytes: number } {
  const v2 = file.byteLength >= FRAME_HEADER_BYTES_V2 + 24 && file[4] === FRAME_VERSION_2;
  const version = v2 ? FRAME_VERSION_2 : 1;
  return { version, salt: v2 ? readU32(file, FRAME_HEADER_BYTES_V2 + 20) : 0, headerBytes: frameHeaderBytes(version) };
}

/**
 * Rewrites, at every 8-aligned "WALR" in `file`, the payload CRC (when the payload lies inside the
 * file) and then the header CRC, as a writer would have — in the layout the file's first frame
 * names (version 2: salted and bound to each frame's offset, the segment header with salt 0): a
 * frame with any length is then a frame whose header checks.
 */
export function repairFrameChecksums(file: Uint8Array): void {
  const { version, salt, headerBytes } = fileLayout(file);
  const view = new DataView(file.buffer, file.byteOffset);
  for (let at = 0; at + headerBytes <= file.byteLength; at += 8) {
    if (readU32(file, at) !== FRAME_MAGIC) continue;
    const payloadBytes = readU32(file, at + 8);
    const payloadStart = at + headerBytes;
    const crcAt = version === FRAME_VERSION_2 ? at + 32 : at + 24;
    if (payloadStart + payloadBytes <= file.byteLength) {
      view.setUint32(crcAt, crc32Of(file, payloadStart, payloadStart + payloadBytes), true);
    }
    if (version === FRAME_VERSION_2) sealFrameHeaderV2(file, at, at === 0 ? 0 : salt, at);
    else view.setUint32(at + 28, crc32Of(file, at, at + 28), true);
  }
}

/** A control file (MANIFEST, CURSORS) around `body` with a matching CRC, as packControlFile writes it. */
function controlFileAround(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(CONTROL_HEADER_BYTES + body.byteLength);
  out.set(CONTROL_MAGIC_BYTES, 0);
  out.set(body, CONTROL_HEADER_BYTES);
  new DataView(out.buffer).setUint32(4, crc32Of(out, CONTROL_HEADER_BYTES, out.byteLength), true);
  return out;
}

/** Control byte of a segment input: bit 0 repair CRCs, bit 1 name the file after its header, bits 2–3 scan window. */
function segmentFromInput(input: Uint8Array): { name: string; file: Uint8Array; chunkBytes: number } {
  const control = input[0] ?? 0;
  const file = input.slice(1);
  if (control & 1) repairFrameChecksums(file);
  let name = SEGMENT_NAME;
  const { headerBytes } = fileLayout(file);
  if (control & 2 && file.byteLength >= headerBytes + 32) {
    const info = decodeSegmentHeaderPayload(file.subarray(headerBytes, headerBytes + 32));
    // A header whose writer or numbers do not fit a file name keeps the default name: the scanner
    // then reports the mismatch as damage.
    let candidate: string | null = null;
    try {
      candidate = segmentFileName(info);
    } catch {
      candidate = null;
    }
    if (candidate !== null && parseSegmentFileName(candidate) !== null) name = candidate;
  }
  const chunkBytes = [8 * 1024, 16 * 1024, 64 * 1024, 8 * 1024 * 1024][(control >> 2) & 3]!;
  return { name, file, chunkBytes };
}

function checkScan(scan: SegmentScan, sizeBytes: number): void {
  check(scan.sizeBytes === sizeBytes, `scan reports ${scan.sizeBytes} bytes for a file of ${sizeBytes}`);
  check(
    isIntegerIn(scan.validEndOffset, 0, sizeBytes),
    `validEndOffset ${scan.validEndOffset} outside the file of ${sizeBytes} bytes`,
  );
  const headerBytes = frameHeaderBytes(scan.formatVersion === FRAME_VERSION_2 ? FRAME_VERSION_2 : 1);
  check(isIntegerIn(scan.maxTimeMs, 0, MAX_TIME_MS), `largest time ${scan.maxTimeMs} out of range`);
  for (const run of scan.runs) {
    check(
      isIntegerIn(run.startOffset, 0, sizeBytes) &&
        isIntegerIn(run.endOffset, run.startOffset + headerBytes, sizeBytes),
      `run [${run.startOffset}, ${run.endOffset}) is not inside the file of ${sizeBytes} bytes`,
    );
    const points = run.points;
    check(pointCount(points) >= 1 && pointOffset(points, 0) === run.startOffset, 'a run does not start at a point');
    for (let i = 0; i < pointCount(points); i++) {
      check(
        isIntegerIn(pointOffset(points, i), run.startOffset, run.endOffset - 1) &&
          isIntegerIn(pointSeq(points, i), run.firstSeq, run.firstSeq + run.count - 1) &&
          (i === 0 || pointOffset(points, i) > pointOffset(points, i - 1)),
        `point ${i} of the run at ${run.startOffset} is not an entry of the run, in order`,
      );
    }
    check(isIntegerIn(run.topicId, 0, MAX_TOPIC_ID), `run with topic id ${run.topicId}`);
    check(
      run.count >= 1 && isIntegerIn(run.firstSeq, 0, MAX_SEQ) && isIntegerIn(run.firstSeq + run.count - 1, 0, MAX_SEQ),
      `run of ${run.count} entries from seq ${run.firstSeq} leaves the exact sequence range`,
    );
  }
  for (const d of scan.damage)
    check(isIntegerIn(d.offset, 0, sizeBytes), `damage reported at ${d.offset}, outside the file of ${sizeBytes}`);
}

const FUZZ_SALT = 0x9e37_79b9;

/**
 * The version-2 decoder (control bit 1; bits 2–7 pick the frame's offset): a header it accepts
 * must describe a frame the format can hold, and encode back to the same bytes.
 */
function runFrameV2(control: number, buf: Uint8Array): void {
  const offset = (control >> 2) * 8 * 4099;
  if (control & 1) sealFrameHeaderV2(buf, 0, FUZZ_SALT, offset);
  const header = parse('decodeFrameHeaderV2', () => decodeFrameHeaderV2(buf, 0, FUZZ_SALT, offset));
  if (header === undefined || typeof header === 'string') return;
  check(isIntegerIn(header.timeMs, 0, MAX_TIME_MS), `decoded time ${header.timeMs} out of range`);
  const again = new Uint8Array(FRAME_HEADER_BYTES_V2);
  const h = header;
  encodeFrameHeaderV2(
    again,
    0,
    h.kind,
    h.flags,
    h.payloadBytes,
    h.topicId,
    h.seq,
    h.timeMs,
    h.payloadCrc,
    FUZZ_SALT,
    offset,
  );
  check(
    again.every((b, i) => b === buf[i]),
    'a decoded version-2 header does not encode back to the same bytes',
  );
}

/** The frame decoders alone: a header they accept must describe a frame the format can hold. */
const frameTarget: FuzzTarget = {
  name: 'frame',
  maxInputBytes: 1 + 64,
  run(input) {
    const buf = new Uint8Array(Math.max(FRAME_HEADER_BYTES_V2, input.byteLength - 1));
    buf.set(input.subarray(1));
    if ((input[0] ?? 0) & 2) return runFrameV2(input[0]!, buf);
    if ((input[0] ?? 0) & 1) new DataView(buf.buffer).setUint32(28, crc32Of(buf, 0, 28), true);
    const header = parse('decodeFrameHeader', () => decodeFrameHeader(buf, 0));
    if (header === undefined || typeof header === 'string') return;
    const bytes = frameBytes(header.payloadBytes, FRAME_HEADER_BYTES_V1);
    check(
      Number.isSafeInteger(bytes) &&
        bytes % 8 === 0 &&
        bytes - FRAME_HEADER_BYTES_V1 - header.payloadBytes >= 0 &&
        bytes - FRAME_HEADER_BYTES_V1 - header.payloadBytes < 8,
      `frameBytes(${header.payloadBytes}, FRAME_HEADER_BYTES_V1) = ${bytes}: not the header plus the payload padded to 8`,
    );
    if (header.seq <= MAX_SEQ) {
      // What decodes must encode back to the same header bytes (seq above 2^53 cannot be exact in a JS number).
      const again = new Uint8Array(FRAME_HEADER_BYTES_V1);
      encodeFrameHeader(
        again,
        0,
        header.kind,
        header.flags,
        header.payloadBytes,
        header.topicId,
        header.seq,
        header.payloadCrc,
      );
      check(
        again.every((b, i) => b === buf[i]),
        'a decoded header does not encode back to the same bytes',
      );
    }
    if (buf.byteLength >= 2 * FRAME_HEADER_BYTES_V1) decodeSegmentHeaderPayload(buf.subarray(32, 64));
  },
};

/** scanSegment over an in-memory file: damage is data in the result, never an exception. */
const segmentTarget: FuzzTarget = {
  name: 'segment',
  maxInputBytes: 1 + 20 * 1024,
  run(input) {
    const { name, file, chunkBytes } = segmentFromInput(input);
    const filePath = path.join(NS_DIR, name);
    const io = new MemFileIo({ [filePath]: file });
    const scan = parse('scanSegment', () => scanSegment(io, filePath, chunkBytes));
    if (scan !== undefined) checkScan(scan, file.byteLength);
  },
};

let walkDir: string | null = null;
/** One scratch directory per thread for the walker's files (it reads through node:fs); see disposeFuzzTargets. */
function walkerScratchDir(): string {
  if (walkDir === null) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-fuzz-walker-'));
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true })); // a backstop
    walkDir = dir;
  }
  return walkDir;
}

/** Removes what the targets left on disk (the walker's scratch directory). */
export function disposeFuzzTargets(): void {
  if (walkDir !== null) fs.rmSync(walkDir, { recursive: true, force: true });
  walkDir = null;
}

/**
 * The CLI's frame walker, as `walrus dump`, `stats` and `tail` drive it: over the scanned extent of
 * a readable segment (with and without payloads), and over each run the scanner found. The walker
 * is held to its own contract whatever the scanner did (the segment target holds the scanner to
 * its): when the scan fails or finds the file unreadable, the whole file is walked with the block
 * size its header names (4 KiB when that is not one). The file does not change, so the walker must
 * never throw, must always move forward, and must hand out frames inside the file.
 */
const walkerTarget: FuzzTarget = {
  name: 'frame-walker',
  maxInputBytes: 1 + 20 * 1024,
  run(input) {
    const { name, file, chunkBytes } = segmentFromInput(input);
    const filePath = path.join(walkerScratchDir(), name);
    fs.writeFileSync(filePath, file);
    try {
      let scan: SegmentScan | null = null;
      try {
        scan = scanSegment(new MemFileIo({ [filePath]: file }), filePath, chunkBytes);
      } catch {
        scan = null;
      }
      if (scan === null || scan.unreadable) {
        const { version, salt, headerBytes } = fileLayout(file);
        const claimed = file.byteLength >= headerBytes + 8 ? readU32(file, headerBytes + 4) : 0;
        const blockBytes = isValidBlockBytes(claimed) ? claimed : MIN_BLOCK_BYTES;
        const segment = { blockBytes, formatVersion: version, salt };
        walk(filePath, 0, file.byteLength, segment, file.byteLength, true);
        walk(filePath, 0, file.byteLength, segment, file.byteLength, false);
        return;
      }
      walk(filePath, 0, scan.sizeBytes, scan, file.byteLength, true);
      walk(filePath, 0, scan.sizeBytes, scan, file.byteLength, false);
      for (const run of scan.runs) walk(filePath, run.startOffset, run.endOffset, scan, file.byteLength, true);
    } finally {
      fs.rmSync(filePath, { force: true });
    }
  },
};

function walk(
  filePath: string,
  from: number,
  to: number,
  segment: WalkedSegment,
  sizeBytes: number,
  withPayload: boolean,
): void {
  const reader = SegmentReader.open(filePath);
  if (reader === null) throw new ContractViolation('SegmentReader.open found no file');
  try {
    // Item by item, so a walker that loops is caught at its first step back, not by the watchdog.
    const items = reader.frames(from, to, segment, withPayload);
    let last = -1;
    for (let count = 1; ; count++) {
      const next = parse('SegmentReader.frames', () => items.next());
      if (next === undefined || next.done === true) return;
      const item = next.value;
      check(item.offset > last, `the walker went from offset ${last} back to ${item.offset}`);
      check(
        isIntegerIn(item.offset, from, sizeBytes),
        `walked item at ${item.offset}, outside [${from}, ${sizeBytes})`,
      );
      check(count <= sizeBytes / 8 + 1, 'the walker yielded more items than the file has 8-byte slots');
      last = item.offset;
      if (item.type !== 'frame') continue;
      check(
        item.frameBytes >= frameHeaderBytes(segment.formatVersion) && item.offset + item.frameBytes <= sizeBytes,
        `frame at ${item.offset} of ${item.frameBytes} bytes is not inside the file of ${sizeBytes}`,
      );
      if (withPayload)
        check(
          item.payload?.byteLength === item.header.payloadBytes,
          `frame at ${item.offset}: payload of the wrong length`,
        );
    }
  } finally {
    reader.close();
  }
}

/** Control byte bit 0: the rest is a msgpack body, framed with a matching CRC; else the rest is the whole file. */
function controlFileFromInput(input: Uint8Array): Uint8Array {
  const body = input.slice(1);
  return (input[0] ?? 0) & 1 ? controlFileAround(body) : body;
}

const manifestTarget: FuzzTarget = {
  name: 'manifest',
  maxInputBytes: 1 + 2048,
  run(input) {
    const io = new MemFileIo({ [path.join(NS_DIR, 'MANIFEST')]: controlFileFromInput(input) });
    const manifest = parse('readManifest', () => readManifest(io, NS_DIR));
    if (manifest === undefined) return;
    check(manifest !== null, 'readManifest found no MANIFEST');
    check(isIntegerIn(manifest!.epoch, 0, TWO_POW_32 - 1), `MANIFEST epoch ${manifest!.epoch} accepted`);
    check(
      Number.isFinite(manifest!.createdAtMs) && Number.isFinite(manifest!.openedAtMs),
      'non-finite timestamps accepted',
    );
    check(manifest!.key === undefined || typeof manifest!.key === 'string', 'a non-string key accepted');
    for (const f of manifest!.fences) {
      check(parseSegmentFileName(segmentFileName(f.segment)) !== null, 'a fence names no segment file');
      check(
        [f.topicId, f.offset, f.seq].every((v) => Number.isSafeInteger(v) && v >= 0),
        'a fence with an out-of-range number accepted',
      );
    }
  },
};

function checkSnapshotRows(topics: Array<[string, number, number]>): void {
  for (const [name, id, nextSeq] of topics) {
    check(typeof name === 'string' && name.length > 0, 'a topic row without a name accepted');
    check(isIntegerIn(id, 1, MAX_TOPIC_ID), `topic id ${id} accepted`);
    check(isIntegerIn(nextSeq, 0, MAX_SEQ), `cursor ${nextSeq} accepted`);
  }
}

const cursorsTarget: FuzzTarget = {
  name: 'cursors',
  maxInputBytes: 1 + 2048,
  run(input) {
    const snapshot = parse('decodeCursorSnapshot', () =>
      decodeCursorSnapshot(controlFileFromInput(input), path.join(NS_DIR, 'CURSORS')),
    );
    if (snapshot === undefined) return;
    check(isIntegerIn(snapshot.generation, 0, TWO_POW_32 - 1), `generation ${snapshot.generation} accepted`);
    checkSnapshotRows(snapshot.topics);
  },
};

/**
 * CursorStore.open over a directory holding CURSORS (optional) and the logs of its generation and
 * the next. Input: control byte (bit 0 repair record CRCs, bit 1 a CURSORS is present, bit 2 stamp
 * each record with the generation of its log), u16 length of the CURSORS body, the body, one byte
 * splitting the rest between log g and log g + 1, the logs.
 */
const cursorLogTarget: FuzzTarget = {
  name: 'cursor-log',
  maxInputBytes: 1 + 2 + 1024 + 1 + 1024,
  run(input) {
    const control = input[0] ?? 0;
    const bodyBytes = Math.min(input.byteLength - 3, (input[1] ?? 0) | ((input[2] ?? 0) << 8));
    const body = input.slice(3, 3 + Math.max(0, bodyBytes));
    const rest = input.slice(3 + Math.max(0, bodyBytes));
    const split = Math.floor((rest.byteLength - 1) * ((rest[0] ?? 0) / 255));
    const logs = [rest.slice(1, 1 + Math.max(0, split)), rest.slice(1 + Math.max(0, split))];
    const files: Record<string, Uint8Array> = {};
    let generation = 0;
    if (control & 2) {
      const cursors = controlFileAround(body);
      files[path.join(NS_DIR, 'CURSORS')] = cursors;
      const snapshot = parse('decodeCursorSnapshot', () => decodeCursorSnapshot(cursors, path.join(NS_DIR, 'CURSORS')));
      if (snapshot === undefined) return;
      generation = snapshot.generation;
    }
    logs.forEach((log, i) => {
      const gen = (generation + i) % TWO_POW_32;
      for (let at = 0; at + CURSOR_RECORD_BYTES <= log.byteLength; at += CURSOR_RECORD_BYTES) {
        const view = new DataView(log.buffer, log.byteOffset);
        if (control & 4) {
          view.setUint32(at, CURSOR_RECORD_MAGIC, true);
          view.setUint32(at + 4, gen, true);
        }
        if (control & 1) view.setUint32(at + 28, crc32Of(log, at, at + 28), true);
        const record = parse('decodeCursorRecord', () => decodeCursorRecord(log, at));
        if (record) {
          check(isIntegerIn(record.topicId, 1, MAX_TOPIC_ID), `cursor record for topic id ${record.topicId} accepted`);
          check(isIntegerIn(record.nextSeq, 0, MAX_SEQ), `cursor record with nextSeq ${record.nextSeq} accepted`);
        }
      }
      if (log.byteLength > 0 || i === 0) files[cursorLogPath(NS_DIR, gen)] = log;
    });
    const io = new MemFileIo(files);
    const store = parse('CursorStore.open', () => CursorStore.open(io, NS_DIR, { durable: false }));
    if (store === undefined) return;
    try {
      check(isIntegerIn(store.maxTopicId, 0, MAX_TOPIC_ID), `maxTopicId ${store.maxTopicId}`);
      for (const id of store.topicTable().values())
        check(isIntegerIn(store.cursor(id), 0, MAX_SEQ), 'cursor out of range');
    } finally {
      store.close();
    }
  },
};

/** Rewrites a summary's three checksums (preamble, head, index) where the lengths it announces fit the input. */
function repairSummaryChecksums(file: Uint8Array): void {
  if (file.byteLength < SUMMARY_PREAMBLE_BYTES) return;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headBytes = readU32(file, 8);
  const indexBytes = readU32(file, 16);
  const headEnd = SUMMARY_PREAMBLE_BYTES + headBytes;
  const indexAt = SUMMARY_PREAMBLE_BYTES + Math.ceil(headBytes / 8) * 8;
  if (headEnd <= file.byteLength) view.setUint32(12, crc32Of(file, SUMMARY_PREAMBLE_BYTES, headEnd), true);
  if (indexAt + indexBytes <= file.byteLength) view.setUint32(20, crc32Of(file, indexAt, indexAt + indexBytes), true);
  view.setUint32(24, crc32Of(file, 0, 24), true);
}

/**
 * decodeSegmentSummary over any bytes (docs/FORMAT.md §15.2): a refusal (ok: false), a newer
 * version (ERR_UNSUPPORTED_FORMAT), or a scan every number of which is within what open relies on.
 * Control bit 0 repairs the three checksums, so mutations reach the decoder behind them; bit 1
 * decodes the head only, as the engine's open does.
 */
const summaryTarget: FuzzTarget = {
  name: 'summary',
  maxInputBytes: 1 + 16 * 1024,
  run(input) {
    const control = input[0] ?? 0;
    const file = input.slice(1);
    if (control & 1) repairSummaryChecksums(file);
    const segmentPath = path.join(NS_DIR, SEGMENT_NAME);
    const headLength = file.byteLength >= SUMMARY_PREAMBLE_BYTES ? summaryHeadLength(file) : -1;
    const decoded = parse('decodeSegmentSummary', () =>
      control & 2 && headLength >= 0 && headLength <= file.byteLength
        ? decodeSegmentSummary(file.subarray(0, headLength), segmentPath, { fileBytes: file.byteLength })
        : decodeSegmentSummary(file, segmentPath),
    );
    if (decoded === undefined || !decoded.ok) return;
    const scan = decoded.scan;
    check(isIntegerIn(scan.sizeBytes, 1, MAX_SEQ), `summary of a ${scan.sizeBytes}-byte segment accepted`);
    check(file.byteLength <= maxSummaryBytes(scan.sizeBytes), `a ${file.byteLength}-byte summary accepted`);
    check(isIntegerIn(scan.validEndOffset, 0, scan.sizeBytes), `validEndOffset ${scan.validEndOffset} accepted`);
    for (const run of scan.runs) {
      const where = `run of topic ${run.topicId} at ${run.startOffset}`;
      check(isIntegerIn(run.topicId, 1, MAX_TOPIC_ID), `${where}: topic id accepted`);
      check(run.startOffset < run.endOffset && run.endOffset <= scan.sizeBytes, `${where}: offsets accepted`);
      check(isIntegerIn(run.count, 1, MAX_SEQ - run.firstSeq), `${where}: count ${run.count} accepted`);
      const points = pointCount(run.points);
      check(points >= 1 && pointOffset(run.points, 0) === run.startOffset, `${where}: no point at its start`);
      for (let i = 0; i < points; i++) {
        const offset = pointOffset(run.points, i);
        const seq = pointSeq(run.points, i);
        check(offset >= run.startOffset && offset < run.endOffset, `${where}: point ${i} outside the run`);
        check(seq >= run.firstSeq && seq < run.firstSeq + run.count, `${where}: point ${i} seq outside the run`);
      }
    }
    for (const [id, name] of scan.topicNames)
      check(isIntegerIn(id, 1, MAX_TOPIC_ID) && name.length > 0, `topic name row ${id} accepted`);
  },
};

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  frameTarget,
  segmentTarget,
  walkerTarget,
  manifestTarget,
  cursorsTarget,
  cursorLogTarget,
  summaryTarget,
];

export function fuzzTarget(name: string): FuzzTarget {
  const target = FUZZ_TARGETS.find((t) => t.name === name);
  if (target === undefined)
    throw new Error(`no fuzz target ${name}; known: ${FUZZ_TARGETS.map((t) => t.name).join(', ')}`);
  return target;
}
