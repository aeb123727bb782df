import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalError } from '../../src/errors.js';
import { nodeFileIo } from '../../src/storage/file-io.js';
import { CODEC_RAW, FLAG_BATCH, FLAG_BATCH_END, align8, crc32Of, readU32, writeU32 } from '../../src/storage/frame.js';
import { Partition } from '../../src/storage/partition.js';
import { scanSegment, type SegmentScan } from '../../src/storage/segment-scanner.js';
import {
  SUMMARY_PREAMBLE_BYTES,
  decodeSegmentSummary,
  encodeSegmentSummary,
  summaryLengthFromPreamble,
  summaryPathOf,
  type SummaryMeta,
} from '../../src/storage/segment-summary.js';
import { readSegmentLayout } from '../helpers/corrupt.js';

const SEGMENT_NAME = '00000001-0000-00000000.seg';
const GOLDEN_V1_SEGMENT = path.join(import.meta.dirname, '..', 'fixtures', 'golden', 'v1', SEGMENT_NAME);
const META: SummaryMeta = {
  writtenBy: 'writer',
  sealedAtMs: 1_764_000_123_456,
  synced: true,
  segmentStamp: '12:1764000123456000000',
};
const TOPICS = [1, 2, 3, 4, 5];

let root: string;
let dirNo = 0;

function payload(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff);
}

/** A segment written by the library: entries of several topics interleaved, with a batch, and a small index interval. */
function writeSegment(entries: number, options: { topics?: number[] } = {}): string {
  const dir = path.join(root, `seg-${dirNo++}`);
  fs.mkdirSync(dir);
  let clockMs = 1_764_000_000_000;
  const p = new Partition(
    {
      dir,
      io: nodeFileIo,
      epoch: 1,
      writerIndex: 0,
      segmentBytes: 1 << 30,
      blockBytes: 4096,
      indexIntervalBytes: 4096,
      clock: () => (clockMs += 3),
    },
    [],
  );
  const topics = options.topics ?? TOPICS;
  for (const id of topics) p.defineTopic(id, `topic-${id}`);
  for (let i = 0; i < entries; i++) {
    const data = payload(200 + ((i * 37) % 900), i);
    p.stageEntry(topics[i % topics.length]!, data, 0, data.byteLength, CODEC_RAW, 0);
    p.commit();
  }
  if (entries > 0) {
    for (const flags of [FLAG_BATCH, FLAG_BATCH, FLAG_BATCH | FLAG_BATCH_END]) {
      const data = payload(300, 7);
      p.stageEntry(topics[0]!, data, 0, data.byteLength, CODEC_RAW, flags);
    }
    p.commit();
  }
  p.close();
  return path.join(dir, SEGMENT_NAME);
}

function scanOf(file: string): SegmentScan {
  return scanSegment(nodeFileIo, file);
}

function roundTrip(scan: SegmentScan, meta: SummaryMeta = META): ReturnType<typeof decodeSegmentSummary> {
  return decodeSegmentSummary(encodeSegmentSummary(scan, meta), scan.path);
}

const headPackr = new Packr({ useRecords: false, mapsAsObjects: true });

interface Parts {
  head: Record<string, unknown>;
  index: Uint8Array;
}

function split(bytes: Uint8Array): Parts {
  const headBytes = readU32(bytes, 8);
  const indexAt = SUMMARY_PREAMBLE_BYTES + align8(headBytes);
  return {
    head: headPackr.unpack(bytes.subarray(SUMMARY_PREAMBLE_BYTES, SUMMARY_PREAMBLE_BYTES + headBytes)) as Record<
      string,
      unknown
    >,
    index: bytes.slice(indexAt, indexAt + readU32(bytes, 16)),
  };
}

/** Frames a head and an index as a summary with every checksum valid: bytes that only the bounds can refuse. */
function frame(parts: Parts, version = 2): Uint8Array {
  const head = Uint8Array.from(headPackr.pack(parts.head));
  const indexAt = SUMMARY_PREAMBLE_BYTES + align8(head.byteLength);
  const out = new Uint8Array(indexAt + parts.index.byteLength);
  out.set(head, SUMMARY_PREAMBLE_BYTES);
  out.set(parts.index, indexAt);
  writeU32(out, 0, 0x4d555357);
  writeU32(out, 4, version);
  writeU32(out, 8, head.byteLength);
  writeU32(out, 12, crc32Of(out, SUMMARY_PREAMBLE_BYTES, SUMMARY_PREAMBLE_BYTES + head.byteLength));
  writeU32(out, 16, parts.index.byteLength);
  writeU32(out, 20, crc32Of(out, indexAt, out.byteLength));
  writeU32(out, 24, crc32Of(out, 0, 24));
  return out;
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-summary-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('a segment summary decodes to exactly the scan it was made from (docs/FORMAT.md §15.2)', () => {
  it('many interleaved topics, several points per run, a batch', () => {
    const scan = scanOf(writeSegment(400));
    expect(scan.damage).toEqual([]);
    expect(scan.runs).toHaveLength(TOPICS.length);
    expect(scan.runs.every((r) => r.points.length / 3 >= 3)).toBe(true);
    const decoded = roundTrip(scan);
    expect(decoded).toStrictEqual({ ok: true, scan, meta: META });
  });

  it('a damaged segment: its runs are cut, every damage report comes back with or without topic and seq', () => {
    const file = writeSegment(300);
    const entries = readSegmentLayout(file).frames.filter((f) => f.kind === 3);
    const data = fs.readFileSync(file);
    for (const victim of [entries[40]!, entries[41]!, entries[150]!]) data[victim.payloadOffset]! ^= 0xff;
    // A flipped header too: a report that names no topic.
    data[entries[220]!.offset + 9]! ^= 0x55;
    fs.writeFileSync(file, data.subarray(0, data.byteLength - 100));
    const scan = scanOf(file);
    expect(scan.damage.length).toBeGreaterThanOrEqual(4);
    expect(scan.damage.some((d) => d.topicId === undefined)).toBe(true);
    expect(scan.damage.some((d) => d.seq !== undefined)).toBe(true);
    expect(scan.runs.length).toBeGreaterThan(TOPICS.length);
    expect(roundTrip(scan)).toStrictEqual({ ok: true, scan, meta: META });
  });

  it('an empty segment: only its header and topic names, or only its header', () => {
    // A Partition creates its segment at its first write, so the empty ones are cut from a written one.
    const file = writeSegment(1);
    const firstEntry = readSegmentLayout(file).frames.find((f) => f.kind === 3)!;
    for (const cut of [firstEntry.offset, 80]) {
      fs.truncateSync(file, cut);
      const scan = scanOf(file);
      expect(scan.runs).toEqual([]);
      expect(scan.damage).toEqual([]);
      expect(scan.topicNames.length > 0).toBe(cut !== 80);
      expect(roundTrip(scan)).toStrictEqual({ ok: true, scan, meta: META });
    }
  });

  it("the version-1 golden fixture's segment, times 0 as the scan has them", () => {
    const scan = scanOf(GOLDEN_V1_SEGMENT);
    expect(scan.formatVersion).toBe(1);
    expect(scan.runs.length).toBeGreaterThan(0);
    expect(roundTrip(scan)).toStrictEqual({ ok: true, scan, meta: META });
  });

  it('the meta of an unsynced summary, with its boot id; the preamble announces the length', () => {
    const scan = scanOf(writeSegment(50));
    const meta: SummaryMeta = {
      writtenBy: 'recovery',
      sealedAtMs: 5,
      synced: false,
      bootId: 'b0a7-1d',
      segmentStamp: 'x',
    };
    const bytes = encodeSegmentSummary(scan, meta);
    expect(decodeSegmentSummary(bytes, scan.path)).toStrictEqual({ ok: true, scan, meta });
    expect(summaryLengthFromPreamble(bytes.subarray(0, SUMMARY_PREAMBLE_BYTES))).toBe(bytes.byteLength);
    expect(summaryPathOf('/a/b/' + SEGMENT_NAME)).toBe('/a/b/00000001-0000-00000000.sum');
  });
});

describe('a flipped byte or a truncation of a summary makes it damaged, never another scan (docs/FORMAT.md §15.2)', () => {
  let bytes: Uint8Array;
  let segmentPath: string;
  beforeAll(() => {
    const file = writeSegment(200);
    const data = fs.readFileSync(file);
    data[readSegmentLayout(file).frames[30]!.payloadOffset]! ^= 1;
    fs.writeFileSync(file, data);
    const scan = scanOf(file);
    segmentPath = scan.path;
    bytes = encodeSegmentSummary(scan, META);
  });

  it('every single-byte flip (or 2000 positions) gives ok:false', () => {
    const positions =
      bytes.byteLength <= 2000
        ? Array.from({ length: bytes.byteLength }, (_, i) => i)
        : Array.from({ length: 2000 }, (_, i) => Math.floor((i * bytes.byteLength) / 2000));
    let refused = 0;
    for (const at of positions) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const copy = bytes.slice();
        copy[at]! ^= mask;
        const result = decodeSegmentSummary(copy, segmentPath);
        expect(result.ok, `flip ${mask} at ${at}`).toBe(false);
        refused++;
      }
    }
    expect(refused).toBe(positions.length * 3);
  });

  it('every truncation gives ok:false ("torn"), and so does a longer file', () => {
    for (let n = 0; n < bytes.byteLength; n++) {
      expect(decodeSegmentSummary(bytes.subarray(0, n), segmentPath)).toEqual({ ok: false, reason: 'torn' });
    }
    const longer = new Uint8Array(bytes.byteLength + 8);
    longer.set(bytes);
    expect(decodeSegmentSummary(longer, segmentPath)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/length/),
    });
  });

  it('a preamble with a bad magic or checksum announces no length', () => {
    const copy = bytes.slice(0, SUMMARY_PREAMBLE_BYTES);
    copy[0]! ^= 1;
    expect(summaryLengthFromPreamble(copy)).toBe(-1);
    const other = bytes.slice(0, SUMMARY_PREAMBLE_BYTES);
    other[8]! ^= 1;
    expect(summaryLengthFromPreamble(other)).toBe(-1);
    expect(summaryLengthFromPreamble(bytes.subarray(0, 31))).toBe(-1);
  });
});

describe('a summary that breaks a bound of docs/FORMAT.md §15.2 is damaged, whatever its checksums say', () => {
  let base: Uint8Array;
  let scan: SegmentScan;
  beforeAll(() => {
    scan = scanOf(writeSegment(400));
    base = encodeSegmentSummary(scan, META);
  });

  const runsOf = (p: Parts): unknown[][] => p.head.runs as unknown[][];
  const setPoint = (p: Parts, i: number, field: number, value: number): void => {
    const view = new DataView(p.index.buffer, p.index.byteOffset, p.index.byteLength);
    view.setUint32(i * 16 + field * 4, value, true);
  };
  const getPoint = (p: Parts, i: number, field: number): number => readU32(p.index, i * 16 + field * 4);

  /** Each case: what it breaks, the edit, and what the reason must name. */
  const cases: Array<[string, (p: Parts) => void, RegExp]> = [
    ['the crafted summary is otherwise valid', () => {}, /^$/],
    [
      'total length above 64 KiB + sizeBytes / 2',
      (p) => {
        p.head.sizeBytes = 4096;
        p.head.validEndOffset = 4096;
        p.index = new Uint8Array(80 * 1024);
      },
      /bounds: .*bytes for a segment of 4096/,
    ],
    [
      'more names than sizeBytes / 32 + 1',
      (p) => {
        Object.assign(p.head, { sizeBytes: 320, validEndOffset: 320, runs: [], damage: [] });
        p.head.names = Array.from({ length: 12 }, (_, i) => [i + 1, `n${i}`]);
        p.index = new Uint8Array(0);
      },
      /bounds: names/,
    ],
    [
      'more runs than sizeBytes / 32 + 1',
      (p) => {
        Object.assign(p.head, { sizeBytes: 320, validEndOffset: 320, names: [], damage: [] });
        p.head.runs = Array.from({ length: 12 }, () => [1, 0, 1, 80, 88, 0, 0, 0, 1]);
      },
      /bounds: runs/,
    ],
    [
      'more damage reports than sizeBytes / 32 + 1',
      (p) => {
        Object.assign(p.head, { sizeBytes: 320, validEndOffset: 320, names: [], runs: [] });
        p.head.damage = Array.from({ length: 12 }, () => [80, 'x', null, null]);
        p.index = new Uint8Array(0);
      },
      /bounds: damage/,
    ],
    [
      'more points than sizeBytes / 32 + 1',
      (p) => {
        Object.assign(p.head, { sizeBytes: 320, validEndOffset: 320, names: [], runs: [], damage: [] });
        p.index = new Uint8Array(12 * 16);
      },
      /bounds: 12 points/,
    ],
    ['a run starting at sizeBytes', (p) => (runsOf(p)[0]![3] = p.head.sizeBytes), /bounds: runs: offsets/],
    ['a run ending past sizeBytes', (p) => (runsOf(p)[0]![4] = (p.head.sizeBytes as number) + 8), /runs: offsets/],
    ['a run offset not 8-aligned', (p) => (runsOf(p)[0]![4] = (runsOf(p)[0]![4] as number) - 4), /8-aligned/],
    [
      'a damage offset past sizeBytes',
      (p) => (p.head.damage = [[(p.head.sizeBytes as number) + 1, 'x', 1, 2]]),
      /damage: offset/,
    ],
    [
      'validEndOffset past sizeBytes',
      (p) => (p.head.validEndOffset = (p.head.sizeBytes as number) + 8),
      /validEndOffset/,
    ],
    ["a topic's runs overlapping", (p) => runsOf(p).push([...runsOf(p)[0]!]), /overlaps or precedes/],
    ['a run with entries and no point', (p) => (runsOf(p)[0]![8] = 0), /0 points/],
    ['points not in run order', (p) => (runsOf(p)[1]![7] = 0), /points not in run order/],
    [
      'a point that belongs to no run',
      (p) => (p.index = Uint8Array.from([...p.index, ...p.index.subarray(0, 16)])),
      /belong to no run/,
    ],
    [
      "a first point that is not the run's start",
      (p) => setPoint(p, 0, 0, getPoint(p, 0, 0) + 1),
      /point 0 is not the run's first entry/,
    ],
    [
      'point offsets not strictly increasing',
      (p) => setPoint(p, 2, 0, getPoint(p, 1, 0)),
      /point 2 offset not increasing/,
    ],
    ['a point past the run', (p) => setPoint(p, 2, 0, (runsOf(p)[0]![4] as number) / 8), /point 2 outside the run/],
    ['point seqs not strictly increasing', (p) => setPoint(p, 2, 1, getPoint(p, 1, 1)), /point 2 seq not increasing/],
    ['a point seq past the run', (p) => setPoint(p, 2, 1, runsOf(p)[0]![2] as number), /point 2 outside the run/],
    [
      'point times decreasing',
      (p) => {
        const run = runsOf(p)[0]!;
        run[6] = (run[6] as number) + 100;
        setPoint(p, 1, 2, (run[5] as number) + 50);
        setPoint(p, 2, 2, (run[5] as number) + 10);
      },
      /point 2 time/,
    ],
    ['a point time past the run', (p) => setPoint(p, 1, 2, (runsOf(p)[0]![6] as number) + 1), /point 1 time/],
    ['a point time above 2^53', (p) => setPoint(p, 1, 3, 0x200000), /point 1 time/],
    ['an empty name', (p) => ((p.head.names as unknown[][])[0]![1] = ''), /names: not 1 to 4096 bytes/],
    [
      'a name of 4097 bytes',
      (p) => ((p.head.names as unknown[][])[0]![1] = 'é'.repeat(2048) + 'x'),
      /names: not 1 to 4096/,
    ],
    ['topic id 0 in names', (p) => ((p.head.names as unknown[][])[0]![0] = 0), /names: topic id/],
    ['a topic named twice', (p) => (p.head.names as unknown[][]).push([1, 'again']), /topic id 1 twice/],
    [
      'a damage reason of 257 characters',
      (p) => (p.head.damage = [[80, 'r'.repeat(257), null, null]]),
      /damage: reason/,
    ],
    ['a fractional number', (p) => (p.head.createdAtMs = 1.5), /createdAtMs/],
    ['a negative number', (p) => (p.head.salt = -1), /salt/],
    ['an unsafe uint64 (a BigInt)', (p) => (p.head.sizeBytes = 2n ** 60n), /sizeBytes/],
    ['a safe uint64 (a BigInt) is still refused', (p) => (p.head.maxTimeMs = 5n), /maxTimeMs/],
    ['a string for a number', (p) => (p.head.blockBytes = '4096'), /blockBytes/],
    ['a block size that is no block size', (p) => (p.head.blockBytes = 5000), /blockBytes/],
    ['segmentVersion 3', (p) => (p.head.segmentVersion = 3), /segmentVersion/],
    ['an unknown head key', (p) => (p.head.extra = 1), /unknown head key "extra"/],
    ['a missing head key', (p) => delete p.head.validEndOffset, /validEndOffset/],
    ['writtenBy neither writer nor recovery', (p) => (p.head.writtenBy = 'me'), /writtenBy/],
    ['synced not a boolean', (p) => (p.head.synced = 1), /synced/],
    ['a bootId when synced', (p) => (p.head.bootId = 'b'), /bootId/],
    ['a bootId that is no string', (p) => Object.assign(p.head, { synced: false, bootId: 7 }), /bootId/],
    ['a run row of the wrong length', (p) => runsOf(p)[0]!.pop(), /runs: not a row of 9/],
    ['a run of topic 0', (p) => (runsOf(p)[0]![0] = 0), /runs: topic id/],
    ['a damage row that names a seq past 2^53', (p) => (p.head.damage = [[80, 'x', 1, 2 ** 53]]), /damage: seq/],
    ['a head that is not a map', (p) => (p.head = [1, 2] as unknown as Record<string, unknown>), /not a map/],
  ];

  for (const [what, edit, reason] of cases) {
    it(what, () => {
      const parts = split(base);
      edit(parts);
      const result = decodeSegmentSummary(frame(parts), scan.path);
      if (what === 'the crafted summary is otherwise valid') {
        expect(result).toStrictEqual({ ok: true, scan, meta: META });
        return;
      }
      expect(result.ok).toBe(false);
      expect(result.ok ? '' : result.reason).toMatch(reason);
    });
  }

  it('an index whose length is no multiple of 16', () => {
    const parts = split(base);
    parts.index = parts.index.subarray(0, parts.index.byteLength - 8);
    expect(decodeSegmentSummary(frame(parts), scan.path)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/index/),
    });
  });

  it('non-zero padding after the head, and non-zero reserved bytes', () => {
    const parts = split(base);
    let bytes = frame(parts);
    while (readU32(bytes, 8) % 8 === 0) {
      parts.head.bootId = 'x'.repeat(((parts.head.bootId as string | undefined)?.length ?? 0) + 1);
      parts.head.synced = false;
      bytes = frame(parts);
    }
    expect(decodeSegmentSummary(bytes, scan.path).ok).toBe(true);
    const padded = bytes.slice();
    padded[SUMMARY_PREAMBLE_BYTES + readU32(bytes, 8)] = 1;
    expect(decodeSegmentSummary(padded, scan.path)).toEqual({ ok: false, reason: 'head padding not zero' });
    const reserved = bytes.slice();
    reserved[30] = 1;
    expect(decodeSegmentSummary(reserved, scan.path)).toEqual({ ok: false, reason: 'reserved bytes not zero' });
  });

  it('encoding refuses a scan beyond a bound (a damage reason longer than 256 characters, a name that is not UTF-8)', () => {
    const long = { ...scan, damage: [{ path: scan.path, offset: 80, reason: 'r'.repeat(300) }] };
    expect(() => encodeSegmentSummary(long, META)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    // msgpack turns a lone surrogate into U+FFFD, so this bound is the encoder's to keep.
    const badName = { ...scan, topicNames: [[1, 'a\ud800']] as Array<[number, string]> };
    expect(() => encodeSegmentSummary(badName, META)).toThrow(/names: not 1 to 4096 bytes/);
  });
});

describe('a summary of a newer version is refused with ERR_UNSUPPORTED_FORMAT (docs/FORMAT.md §15.4)', () => {
  it('version 3 throws; version 1 (never written) is damage', () => {
    const scan = scanOf(writeSegment(20));
    const parts = split(encodeSegmentSummary(scan, META));
    let thrown: unknown;
    try {
      decodeSegmentSummary(frame(parts, 3), scan.path);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(WalError);
    expect((thrown as WalError).code).toBe('ERR_UNSUPPORTED_FORMAT');
    expect((thrown as WalError).details.path).toBe(summaryPathOf(scan.path));
    expect(decodeSegmentSummary(frame(parts, 1), scan.path)).toEqual({ ok: false, reason: 'version 1' });
  });
});

describe('a summary binds the segment it names: another one is not trusted (docs/FORMAT.md §15.4 item 2)', () => {
  it('decoded beside another segment, or naming another segment', () => {
    const scan = scanOf(writeSegment(20));
    const bytes = encodeSegmentSummary(scan, META);
    const other = path.join(path.dirname(scan.path), '00000001-0000-00000001.seg');
    expect(decodeSegmentSummary(bytes, other)).toEqual({ ok: false, reason: 'names another segment' });
    const parts = split(bytes);
    parts.head.segment = '00000002-0000-00000000.seg';
    expect(decodeSegmentSummary(frame(parts), scan.path)).toEqual({ ok: false, reason: 'names another segment' });
    expect(() => decodeSegmentSummary(bytes, path.join(root, 'not-a-segment'))).toThrow(/not a segment file name/);
  });
});

describe('encoding refuses what no summary may hold (docs/FORMAT.md §15.3 b)', () => {
  it('an unreadable scan, a scan of format version 0, a bootId on a synced summary: ERR_INVALID_ARGUMENT', () => {
    const dir = path.join(root, 'unreadable');
    fs.mkdirSync(dir);
    const file = path.join(dir, SEGMENT_NAME);
    fs.writeFileSync(file, new Uint8Array(200).fill(0x5a));
    const unreadable = scanOf(file);
    expect(unreadable.unreadable).toBe(true);
    const code = expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' });
    expect(() => encodeSegmentSummary(unreadable, META)).toThrow(code);
    const scan = scanOf(writeSegment(10));
    expect(() => encodeSegmentSummary({ ...scan, formatVersion: 0 }, META)).toThrow(code);
    expect(() => encodeSegmentSummary(scan, { ...META, bootId: 'b' })).toThrow(code);
    const unaligned = {
      ...scan,
      runs: scan.runs.map((r) => ({ ...r, points: r.points.map((v, i) => (i === 0 ? v + 4 : v)) })),
    };
    expect(() => encodeSegmentSummary(unaligned, META)).toThrow(code);
  });
});
