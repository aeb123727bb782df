import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WalError } from '../../src/errors.js';
import { nodeFileIo } from '../../src/storage/file-io.js';
import {
  CODEC_RAW,
  DEFAULT_INDEX_INTERVAL_BYTES,
  FLAG_BATCH,
  FLAG_BATCH_END,
  FRAME_HEADER_BYTES_V1,
  FRAME_HEADER_BYTES_V2,
  KIND_ENTRY,
  KIND_SEGMENT_HEADER,
  KIND_TOPIC_DEF,
  crc32Of,
  encodeFrame,
  encodeFrameV2,
  encodeSegmentHeaderPayload,
  frameBytes,
} from '../../src/storage/frame.js';
import { pointCount, pointOffset, pointSeq } from '../../src/storage/sparse-index.js';
import { patchFrameHeader, readSegmentLayout, type FrameAt } from '../helpers/corrupt.js';
import { Partition } from '../../src/storage/partition.js';
import { scanSegment, type ScannedRun, type SegmentScan } from '../../src/storage/segment-scanner.js';

const BLOCK_BYTES = 4096;
const A = 1;
const B = 2;
const C = 3;
const NAMES: Record<number, string> = { [A]: 'alpha', [B]: 'beta', [C]: 'gamma' };

interface Frame extends FrameAt {
  end: number;
}

/** Header bytes of the frames a Partition writes (version 2). */
const HEADER = FRAME_HEADER_BYTES_V2;

type Write = [topicId: number, payloadBytes: number, batchFlags?: number];

function payload(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff);
}

/** Every frame of an intact segment (of either version), per the block rules. */
function framesOf(file: string): Frame[] {
  return readSegmentLayout(file).frames.map((f) => ({ ...f, end: f.endOffset }));
}

function entryFrames(file: string): Frame[] {
  return framesOf(file).filter((f) => f.kind === KIND_ENTRY);
}

/** Rewrites bytes of a frame header and re-seals its header checksum: a valid header saying something else. */
function patchHeader(file: string, offset: number, patch: (header: Buffer) => void): void {
  patchFrameHeader(file, offset, patch);
}

function editFile(file: string, edit: (data: Buffer) => void): void {
  const data = fs.readFileSync(file);
  edit(data);
  fs.writeFileSync(file, data);
}

/** (topic, seq) of every entry the scan accepted. */
function acceptedEntries(runs: ScannedRun[]): string[] {
  return runs.flatMap((r) => Array.from({ length: r.count }, (_, k) => `${r.topicId}#${r.firstSeq + k}`));
}

function runsOf(scan: SegmentScan): Array<[number, number, number]> {
  return scan.runs.map((r) => [r.topicId, r.firstSeq, r.count]);
}

describe('scanSegment', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-scan-'));
    file = path.join(dir, '00000001-0000-00000000.seg');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Writes entries through a Partition, committing after each entry that does not leave a batch open. */
  function writeSegment(writes: Write[], options: { salt?: number; payloads?: Map<number, Uint8Array> } = {}): void {
    const saltSource = options.salt === undefined ? undefined : () => options.salt!;
    const p = new Partition(
      { dir, io: nodeFileIo, epoch: 1, writerIndex: 0, segmentBytes: 1 << 30, blockBytes: BLOCK_BYTES, saltSource },
      [],
    );
    for (const id of [A, B, C]) p.defineTopic(id, NAMES[id]!);
    writes.forEach(([topicId, bytes, flags = 0], i) => {
      const data = options.payloads?.get(i) ?? payload(bytes, i);
      p.stageEntry(topicId, data, 0, data.byteLength, CODEC_RAW, flags);
      if (flags !== FLAG_BATCH) p.commit();
    });
    p.close();
  }

  const scan = (chunkBytes?: number): SegmentScan => scanSegment(nodeFileIo, file, chunkBytes);

  it('reads a clean segment: names, runs in file order, batches, no damage', () => {
    writeSegment([
      [A, 10],
      [A, 11],
      [B, 12],
      [A, 13],
      [A, 14, FLAG_BATCH],
      [A, 15, FLAG_BATCH | FLAG_BATCH_END],
      [B, 0],
    ]);
    const result = scan();
    expect(result.unreadable).toBe(false);
    expect(result.damage).toEqual([]);
    expect(result.id).toEqual({ epoch: 1, writerIndex: 0, segmentNo: 0 });
    expect(result.blockBytes).toBe(BLOCK_BYTES);
    expect(new Map(result.topicNames)).toEqual(
      new Map([
        [A, 'alpha'],
        [B, 'beta'],
      ]),
    );
    // Runs span frames of other topics (a reader skips those), so interleaving does not multiply them.
    expect(runsOf(result)).toEqual([
      [A, 0, 5],
      [B, 0, 2],
    ]);
    const entries = entryFrames(file);
    expect([result.runs[0]!.startOffset, result.runs[0]!.endOffset]).toEqual([entries[0]!.offset, entries[5]!.end]);
    expect([result.runs[1]!.startOffset, result.runs[1]!.endOffset]).toEqual([entries[2]!.offset, entries[6]!.end]);
    expect(result.validEndOffset).toBe(result.sizeBytes);
    expect(structuredClone(result)).toEqual(result);
  });

  it('a topic has one run per segment, however long and however interleaved (FORMAT §14.1)', () => {
    writeSegment(Array.from({ length: 2400 }, (_, i) => [i % 2 === 0 ? A : B, 1000] as Write));
    const result = scan();
    expect(result.damage).toEqual([]);
    expect(runsOf(result)).toEqual([
      [A, 0, 1200],
      [B, 0, 1200],
    ]);
    expect(result.runs[0]!.endOffset - result.runs[0]!.startOffset).toBeGreaterThan(2 * 1024 * 1024);
  });

  it('chooses the points of §14.2: the first entry of each run, then one an interval past the previous point', () => {
    writeSegment(Array.from({ length: 600 }, (_, i) => [i % 3 === 2 ? B : A, 1000] as Write));
    const result = scan();
    expect(result.indexIntervalBytes).toBe(DEFAULT_INDEX_INTERVAL_BYTES);
    for (const run of result.runs) {
      const frames = entryFrames(file).filter((f) => f.topicId === run.topicId);
      const expected: number[] = [];
      for (const f of frames)
        if (expected.length === 0 || f.offset - expected.at(-1)! >= DEFAULT_INDEX_INTERVAL_BYTES)
          expected.push(f.offset);
      const points = run.points;
      expect(Array.from({ length: pointCount(points) }, (_, i) => pointOffset(points, i))).toEqual(expected);
      for (let i = 0; i < pointCount(points); i++) {
        expect(pointSeq(points, i)).toBe(frames.find((f) => f.offset === pointOffset(points, i))!.seq);
      }
    }
  });

  it('records the first and last append time of each run, and the largest time of the file', () => {
    writeSegment([
      [A, 10],
      [B, 10],
      [A, 10],
    ]);
    const times = entryFrames(file).map((f) => f.timeMs);
    expect(times.every((t) => t > 1_700_000_000_000)).toBe(true);
    const result = scan();
    expect(result.formatVersion).toBe(2);
    expect(result.runs[0]!.firstTimeMs).toBe(times[0]);
    expect(result.runs[0]!.lastTimeMs).toBe(times[2]);
    expect(result.maxTimeMs).toBe(Math.max(...times));
  });

  it('splits a run at damage of another topic even though its seqs stay contiguous', () => {
    writeSegment([
      [A, 20],
      [A, 20],
      [B, 20],
      [A, 20],
      [A, 20],
    ]);
    const victim = entryFrames(file)[2]!;
    editFile(file, (data) => {
      data[victim.offset + HEADER] ^= 0x01;
    });
    const result = scan();
    expect(runsOf(result)).toEqual([
      [A, 0, 2],
      [A, 2, 2],
    ]);
    expect(result.damage).toEqual([expect.objectContaining({ topicId: B, seq: 0 })]);
  });

  it('skips zero padding and reads frames larger than a block and than the read chunk', () => {
    const sizes = [3000, 3000, 9000, 10, 20_000, 5, 4064, 4065, 1];
    writeSegment(sizes.map((size) => [A, size] as Write));
    for (const chunk of [undefined, 8192]) {
      const result = scan(chunk);
      expect(result.damage).toEqual([]);
      expect(runsOf(result)).toEqual([[A, 0, sizes.length]]);
      expect(result.validEndOffset).toBe(result.sizeBytes);
    }
    const offsets = entryFrames(file).map((f) => f.offset);
    expect(offsets[1]! % BLOCK_BYTES).toBe(0);
    expect(offsets[2]! % BLOCK_BYTES).toBe(0);
    expect(offsets[3]! % BLOCK_BYTES).toBe(0);
  });

  it('a torn tail (the file cut by 1..64 bytes) loses exactly the last entry, attributed', () => {
    writeSegment([
      [A, 50],
      [B, 50],
      [A, 100],
    ]);
    const original = fs.readFileSync(file);
    const last = entryFrames(file).at(-1)!;
    for (let k = 1; k <= 64; k++) {
      fs.writeFileSync(file, original.subarray(0, original.byteLength - k));
      const result = scan();
      expect(runsOf(result), `k=${k}`).toEqual([
        [A, 0, 1],
        [B, 0, 1],
      ]);
      expect(result.damage, `k=${k}`).toEqual([
        { path: file, offset: last.offset, reason: expect.stringMatching(/torn tail/), topicId: A, seq: 1 },
      ]);
      expect(result.validEndOffset).toBe(last.offset);
    }
  });

  it('a bit flip in a header is damage; the scan resynchronizes on the next frame in the block', () => {
    writeSegment([
      [A, 20],
      [A, 20],
      [A, 20],
      [B, 20],
      [A, 20],
    ]);
    const victim = entryFrames(file)[2]!;
    editFile(file, (data) => {
      data[victim.offset + 17] ^= 0x10; // a seq bit
    });
    const result = scan();
    expect(result.damage).toEqual([
      { path: file, offset: victim.offset, reason: expect.stringMatching(/bad-header-crc/) },
    ]);
    expect(runsOf(result)).toEqual([
      [A, 0, 2],
      [B, 0, 1],
      [A, 3, 1],
    ]);
  });

  it('a bit flip in a payload is damage attributed to its topic and seq; only that frame is skipped', () => {
    writeSegment([
      [A, 20],
      [A, 20],
      [A, 20],
      [B, 20],
      [A, 20],
    ]);
    const victim = entryFrames(file)[2]!;
    editFile(file, (data) => {
      data[victim.offset + HEADER + 5] ^= 0x01;
    });
    const result = scan();
    expect(result.damage).toEqual([
      { path: file, offset: victim.offset, reason: 'payload checksum mismatch', topicId: A, seq: 2 },
    ]);
    expect(runsOf(result)).toEqual([
      [A, 0, 2],
      [B, 0, 1],
      [A, 3, 1],
    ]);
  });

  it('512 zeroed bytes mid-block: frames after them in the same block, of every topic, are found again', () => {
    const writes: Write[] = Array.from({ length: 48 }, (_, i) => [[A, B, C][i % 3]!, 40]);
    writeSegment(writes);
    const frames = entryFrames(file);
    const zeroFrom = 1000;
    const zeroTo = zeroFrom + 512;
    expect(frames.at(-1)!.end).toBeLessThan(BLOCK_BYTES); // all in block 0
    editFile(file, (data) => data.fill(0, zeroFrom, zeroTo));
    const result = scan();
    const intact = frames.filter((f) => f.end <= zeroFrom || f.offset >= zeroTo);
    expect(acceptedEntries(result.runs).sort()).toEqual(intact.map((f) => `${f.topicId}#${f.seq}`).sort());
    const after = intact.filter((f) => f.offset >= zeroTo);
    expect(new Set(after.map((f) => f.topicId))).toEqual(new Set([A, B, C]));
    expect(result.damage.length).toBeGreaterThanOrEqual(1);
    expect(result.damage.every((d) => d.offset >= zeroFrom - 80 && d.offset < zeroTo)).toBe(true);
  });

  it('512 bytes zeroed from a frame start are not mistaken for padding: later frames in the block are found', () => {
    writeSegment(Array.from({ length: 48 }, (_, i) => [[A, B, C][i % 3]!, 40] as Write));
    const frames = entryFrames(file);
    const zeroFrom = frames[10]!.offset;
    const zeroTo = zeroFrom + 512;
    editFile(file, (data) => data.fill(0, zeroFrom, zeroTo));
    const result = scan();
    const intact = frames.filter((f) => f.end <= zeroFrom || f.offset >= zeroTo);
    expect(acceptedEntries(result.runs).sort()).toEqual(intact.map((f) => `${f.topicId}#${f.seq}`).sort());
    expect(result.damage).toEqual([{ path: file, offset: zeroFrom, reason: 'zeroed frame header' }]);
  });

  describe('atomic batches', () => {
    const batchWrites: Write[] = [
      [A, 30],
      [A, 30, FLAG_BATCH],
      [A, 30, FLAG_BATCH],
      [A, 30, FLAG_BATCH | FLAG_BATCH_END],
      [B, 30],
    ];

    it('a batch whose BATCH_END frame is damaged is dropped entirely', () => {
      writeSegment(batchWrites);
      const end = entryFrames(file)[3]!;
      editFile(file, (data) => {
        data[end.offset + HEADER + 8] ^= 0x80;
      });
      const result = scan();
      expect(runsOf(result)).toEqual([
        [A, 0, 1],
        [B, 0, 1],
      ]);
      expect(result.damage).toEqual([
        expect.objectContaining({ reason: expect.stringMatching(/incomplete batch of 2 entries/), topicId: A, seq: 1 }),
        expect.objectContaining({ offset: end.offset, reason: 'payload checksum mismatch', topicId: A, seq: 3 }),
      ]);
    });

    it('a batch cut by the end of the file is dropped', () => {
      writeSegment(batchWrites.slice(0, 4));
      const end = entryFrames(file)[3]!;
      fs.truncateSync(file, end.offset);
      const result = scan();
      expect(runsOf(result)).toEqual([[A, 0, 1]]);
      expect(result.damage).toEqual([
        expect.objectContaining({
          reason: expect.stringMatching(/incomplete batch of 2 .*end of the file/),
          topicId: A,
          seq: 1,
        }),
      ]);
      expect(result.validEndOffset).toBe(end.offset);
    });

    it('a batch interrupted by a frame of the same topic without BATCH is dropped', () => {
      writeSegment(batchWrites);
      const middle = entryFrames(file)[2]!;
      patchHeader(file, middle.offset, (header) => header.writeUInt16LE(0, 6));
      const result = scan();
      expect(result.damage).toEqual([
        expect.objectContaining({ reason: expect.stringMatching(/incomplete batch of 1 entries/), topicId: A, seq: 1 }),
      ]);
      expect(acceptedEntries(result.runs)).not.toContain(`${A}#1`);
    });

    it('a run never spans the frames of a dropped batch of its own topic', () => {
      writeSegment([
        [A, 30],
        [A, 30],
        [B, 30],
        [A, 30],
      ]);
      const [, second, , fourth] = entryFrames(file);
      patchHeader(file, second!.offset, (header) => header.writeUInt16LE(FLAG_BATCH, 6)); // a batch cut short by B
      patchHeader(file, fourth!.offset, (header) => header.writeUInt32LE(1, 16)); // seq 1 written again, whole
      const result = scan();
      expect(runsOf(result)).toEqual([
        [A, 0, 1],
        [B, 0, 1],
        [A, 1, 1],
      ]);
      expect(result.runs[2]!.startOffset).toBe(fourth!.offset);
    });
  });

  describe('version 2: frames bound to their segment and offset (FORMAT §13.2)', () => {
    it('a valid header whose frame runs past the end mid-file is damage, and the scan goes on (defect 14)', () => {
      writeSegment([
        [A, 20],
        [B, 20],
        [A, 20],
        [A, 5000],
        [A, 20],
      ]);
      const victim = entryFrames(file)[1]!;
      patchHeader(file, victim.offset, (h) => h.writeUInt32LE(1 << 29, 8));
      const result = scan();
      expect(acceptedEntries(result.runs)).toEqual(['1#0', '1#1', '1#2', '1#3']);
      expect(result.damage).toEqual([
        { path: file, offset: victim.offset, reason: expect.stringMatching(/torn tail/), topicId: B, seq: 0 },
      ]);
    });

    it('a frame copied into a payload is never accepted: built for another offset, or another salt', () => {
      const salt = 0x5eed_0001;
      const writes: Write[] = [
        [A, 20],
        [A, 200],
        [A, 20],
      ];
      writeSegment(writes, { salt });
      const at = entryFrames(file)[1]!.payloadOffset;
      const forged = (frameSalt: number, offset: number): Uint8Array => {
        const out = new Uint8Array(200);
        out.set(encodeFrameV2(KIND_ENTRY, 0, B, 0, 1, new Uint8Array(16).fill(7), frameSalt, offset));
        return out;
      };
      for (const [frameSalt, offset] of [
        [salt, at + 8],
        [salt ^ 0x8000_0000, at],
      ] as const) {
        fs.rmSync(file);
        writeSegment(writes, { salt, payloads: new Map([[1, forged(frameSalt, offset)]]) });
        expect(entryFrames(file)[1]!.payloadOffset).toBe(at);
        const header = entryFrames(file)[1]!.offset;
        editFile(file, (data) => {
          data[header + 17] ^= 0x01; // the entry's header no longer checks: the scan resynchronizes through its payload
        });
        const result = scan();
        expect(result.runs.map((r) => r.topicId)).not.toContain(B);
        expect(acceptedEntries(result.runs)).toEqual(['1#0', '1#2']);
      }
      // The control: built for this salt and this very offset (what only someone holding the salt
      // can do), the same bytes pass — so the two cases above fail for the salt and the offset.
      fs.rmSync(file);
      writeSegment(writes, { salt, payloads: new Map([[1, forged(salt, at)]]) });
      editFile(file, (data) => {
        data[entryFrames(file)[1]!.offset + 17] ^= 0x01;
      });
      expect(scan().runs.map((r) => r.topicId)).toContain(B);
    });

    it('a version-1 frame inside a version-2 segment is damage, never read in the other layout', () => {
      writeSegment([
        [A, 20],
        [A, 20],
      ]);
      const second = entryFrames(file)[1]!;
      const v1 = encodeFrame(KIND_ENTRY, 0, A, 1, payload(20, 1));
      editFile(file, (data) => data.set(v1, second.offset));
      const result = scan();
      expect(acceptedEntries(result.runs)).toEqual(['1#0']);
      expect(result.damage[0]).toMatchObject({
        offset: second.offset,
        reason: expect.stringMatching(/invalid frame header/),
      });
    });
  });

  describe('version 1 keeps §5 (a version-2 build reads it)', () => {
    /** A version-1 segment file: header, TOPIC_DEF of A, then these entries of A. */
    function writeV1(entries: Uint8Array[]): Frame[] {
      const header = encodeSegmentHeaderPayload({
        formatVersion: 1,
        blockBytes: BLOCK_BYTES,
        epoch: 1,
        writerIndex: 0,
        segmentNo: 0,
        createdAtMs: 0,
        salt: 0,
        indexIntervalBytes: DEFAULT_INDEX_INTERVAL_BYTES,
      });
      const frames = [
        encodeFrame(KIND_SEGMENT_HEADER, 0, 0, 0, header),
        encodeFrame(KIND_TOPIC_DEF, 0, A, 0, new TextEncoder().encode('alpha')),
        ...entries.map((e, seq) => encodeFrame(KIND_ENTRY, 0, A, seq, e)),
      ];
      fs.writeFileSync(file, Buffer.concat(frames));
      return entryFrames(file);
    }

    it('reads a version-1 file: 32-byte headers, times 0 (the opener supplies v1TimeMs)', () => {
      writeV1([payload(10, 0), payload(10, 1)]);
      const result = scan();
      expect(result).toMatchObject({ formatVersion: 1, salt: 0, maxTimeMs: 0, damage: [] });
      expect(runsOf(result)).toEqual([[A, 0, 2]]);
      expect(entryFrames(file)[0]!.offset).toBe(64 + frameBytes(5, FRAME_HEADER_BYTES_V1));
    });

    it('a frame that runs past the end of a version-1 file ends its scan', () => {
      const frames = writeV1([payload(10, 0), payload(10, 1), payload(10, 2)]);
      patchHeader(file, frames[1]!.offset, (h) => h.writeUInt32LE(1 << 20, 8));
      const result = scan();
      expect(acceptedEntries(result.runs)).toEqual(['1#0']);
      expect(result.damage).toEqual([
        expect.objectContaining({ offset: frames[1]!.offset, reason: expect.stringMatching(/torn tail/) }),
      ]);
    });
  });

  describe('formats it does not know', () => {
    it('a frame with another version (valid header checksum) makes the scan fail with ERR_UNSUPPORTED_FORMAT', () => {
      writeSegment([
        [A, 10],
        [A, 10],
      ]);
      const second = entryFrames(file)[1]!;
      patchHeader(file, second.offset, (header) => {
        header[4] = 3;
      });
      expect(() => scan()).toThrow(
        expect.objectContaining({ code: 'ERR_UNSUPPORTED_FORMAT', details: { path: file, offset: second.offset } }),
      );
      expect(() => scan()).toThrow(path.basename(file));
    });

    it('a frame with a reserved flag bit is refused the same way', () => {
      writeSegment([[A, 10]]);
      const entry = entryFrames(file)[0]!;
      patchHeader(file, entry.offset, (header) => header.writeUInt16LE(0x8000, 6));
      expect(() => scan()).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_FORMAT' }));
    });

    it('a segment header of format version 3 is refused', () => {
      writeSegment([[A, 10]]);
      editFile(file, (data) => data.writeUInt32LE(3, HEADER));
      patchHeader(file, 0, (header) => header.writeUInt32LE(crc32Of(fs.readFileSync(file), HEADER, HEADER + 40), 32));
      let error: unknown;
      try {
        scan();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(WalError);
      expect((error as WalError).code).toBe('ERR_UNSUPPORTED_FORMAT');
      expect((error as WalError).details.path).toBe(file);
    });
  });

  describe('unreadable files', () => {
    it('an empty file or a garbage header makes the file unreadable, reported, with nothing in it', () => {
      fs.writeFileSync(file, '');
      expect(scan()).toMatchObject({ unreadable: true, runs: [], damage: [{ path: file, offset: 0 }] });
      writeSegment([[A, 10]]);
      editFile(file, (data) => {
        data[3] ^= 0xff;
      });
      expect(scan()).toMatchObject({ unreadable: true, runs: [], topicNames: [] });
    });

    it('a header naming another segment makes the file unreadable', () => {
      writeSegment([[A, 10]]);
      const renamed = path.join(dir, '00000005-0000-00000000.seg');
      fs.renameSync(file, renamed);
      const result = scanSegment(nodeFileIo, renamed);
      expect(result.unreadable).toBe(true);
      expect(result.damage[0]!.reason).toMatch(/00000001-0000-00000000\.seg/);
    });
  });

  it('garbage after the last frame is damage that loses nothing; zeros after it are not damage', () => {
    writeSegment([
      [A, 10],
      [B, 10],
    ]);
    const clean = fs.readFileSync(file);
    const noise = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);
    fs.writeFileSync(file, Buffer.concat([clean, noise]));
    const withNoise = scan();
    expect(runsOf(withNoise)).toEqual([
      [A, 0, 1],
      [B, 0, 1],
    ]);
    expect(withNoise.damage.length).toBeGreaterThan(0);
    expect(withNoise.validEndOffset).toBe(clean.byteLength);
    fs.writeFileSync(file, Buffer.concat([clean, new Uint8Array(3 * BLOCK_BYTES)]));
    const withZeros = scan();
    expect(withZeros.damage).toEqual([]);
    expect(runsOf(withZeros)).toEqual(runsOf(withNoise));
  });

  describe('every length, id and seq read from disk is range-checked: a crafted header is damage (docs/SEMANTICS.md rules H1–H7)', () => {
    // A header whose checksum matches, saying what no writer writes. Frames after it in the block
    // (found by resynchronization) and in later blocks are kept.
    const crafted = (patch: (header: Buffer) => void): { result: SegmentScan; offset: number } => {
      fs.rmSync(file, { force: true });
      writeSegment([
        [A, 20],
        [B, 20],
        [A, 20],
        [A, 5000],
        [A, 20],
      ]);
      const offset = entryFrames(file)[1]!.offset;
      patchHeader(file, offset, patch);
      return { result: scan(), offset };
    };

    it.each([2 ** 31 - 7, 2 ** 31, 2 ** 32 - 7, 2 ** 32 - 1, 2 ** 30 + 1])(
      'payload length %i: reported, the scan resynchronizes, later frames are kept',
      (length) => {
        const { result, offset } = crafted((h) => h.writeUInt32LE(length, 8));
        expect(acceptedEntries(result.runs)).toEqual(['1#0', '1#1', '1#2', '1#3']);
        expect(result.damage).toEqual([{ path: file, offset, reason: 'invalid frame header (oversized-payload)' }]);
      },
    );

    it('topic id 0 (the id of no topic) on an entry or a topic definition', () => {
      const { result, offset } = crafted((h) => h.writeUInt32LE(0, 12));
      expect(result.runs.map((r) => r.topicId)).not.toContain(0);
      expect(result.damage).toEqual([{ path: file, offset, reason: 'invalid frame header (reserved-topic-id)' }]);
      fs.rmSync(file);
      writeSegment([[A, 20]]);
      const defs = framesOf(file).filter((f) => f.kind === 2);
      patchHeader(file, defs[0]!.offset, (h) => h.writeUInt32LE(0, 12));
      const again = scan();
      expect(again.topicNames.map(([id]) => id)).not.toContain(0);
      expect(again.damage[0]).toEqual({
        path: file,
        offset: defs[0]!.offset,
        reason: 'invalid frame header (reserved-topic-id)',
      });
    });

    it('a seq of 2^53 or more (no longer exact, and its successor not either)', () => {
      for (const high of [0x20_0000, 0xffff_ffff]) {
        const { result, offset } = crafted((h) => h.writeUInt32LE(high, 20));
        expect(acceptedEntries(result.runs)).toEqual(['1#0', '1#1', '1#2', '1#3']);
        expect(result.damage).toEqual([{ path: file, offset, reason: 'invalid frame header (out-of-range-seq)' }]);
      }
    });

    it('frame sizes are computed without 32-bit arithmetic', () => {
      expect(frameBytes(2 ** 32 - 1, FRAME_HEADER_BYTES_V2)).toBe(40 + 2 ** 32);
      expect(frameBytes(2 ** 31 - 7, FRAME_HEADER_BYTES_V1)).toBe(32 + 2 ** 31);
      expect(frameBytes(2 ** 32 - 1, FRAME_HEADER_BYTES_V1)).toBe(32 + 2 ** 32);
      expect(frameBytes(9, FRAME_HEADER_BYTES_V1)).toBe(48);
      expect(frameBytes(0, FRAME_HEADER_BYTES_V1)).toBe(32);
    });
  });
});
