import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WalError } from '../../src/errors.js';
import { nextBlockBoundary, nextFrameOffset } from '../../src/storage/block-layout.js';
import { nodeFileIo } from '../../src/storage/file-io.js';
import {
  CODEC_RAW,
  FLAG_BATCH,
  FLAG_BATCH_END,
  KIND_ENTRY,
  crc32Of,
  decodeFrameHeader,
  frameBytes,
  type FrameHeader,
  FRAME_HEADER_BYTES_V1,
} from '../../src/storage/frame.js';
import { Partition } from '../../src/storage/partition.js';
import { scanSegment, type ScannedRun, type SegmentScan } from '../../src/storage/segment-scanner.js';

const BLOCK_BYTES = 4096;
const A = 1;
const B = 2;
const C = 3;
const NAMES: Record<number, string> = { [A]: 'alpha', [B]: 'beta', [C]: 'gamma' };

interface Frame extends FrameHeader {
  offset: number;
  end: number;
}

type Write = [topicId: number, payloadBytes: number, batchFlags?: number];

function payload(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff);
}

/** Every frame of an intact segment, per the block rules. */
function framesOf(file: string): Frame[] {
  const data = fs.readFileSync(file);
  const frames: Frame[] = [];
  let offset = 0;
  while (offset + 32 <= data.byteLength) {
    const header = decodeFrameHeader(data, offset);
    if (header === 'zero') {
      offset = nextBlockBoundary(offset, BLOCK_BYTES);
      continue;
    }
    if (typeof header === 'string') throw new Error(`${header} at ${offset}`);
    const bytes = frameBytes(header.payloadBytes, FRAME_HEADER_BYTES_V1);
    frames.push({ ...header, offset, end: offset + bytes });
    offset = nextFrameOffset(offset, bytes, BLOCK_BYTES);
  }
  return frames;
}

function entryFrames(file: string): Frame[] {
  return framesOf(file).filter((f) => f.kind === KIND_ENTRY);
}

/** Rewrites bytes of a frame header and re-seals its header checksum: a valid header saying something else. */
function patchHeader(file: string, offset: number, patch: (header: Buffer) => void): void {
  const data = fs.readFileSync(file);
  const header = data.subarray(offset, offset + 32);
  patch(header);
  header.writeUInt32LE(crc32Of(header, 0, 28), 28);
  fs.writeFileSync(file, data);
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
  function writeSegment(writes: Write[]): void {
    const p = new Partition(
      { dir, io: nodeFileIo, epoch: 1, writerIndex: 0, segmentBytes: 1 << 30, blockBytes: BLOCK_BYTES },
      [],
    );
    for (const id of [A, B, C]) p.defineTopic(id, NAMES[id]!);
    writes.forEach(([topicId, bytes, flags = 0], i) => {
      p.stageEntry(topicId, payload(bytes, i), 0, bytes, CODEC_RAW, flags);
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

  it('caps the byte span of a run', () => {
    writeSegment(Array.from({ length: 2400 }, (_, i) => [i % 2 === 0 ? A : B, 1000] as Write));
    const result = scan();
    expect(result.damage).toEqual([]);
    expect(result.runs.every((r) => r.endOffset - r.startOffset <= 1024 * 1024)).toBe(true);
    const runsOfA = result.runs.filter((r) => r.topicId === A);
    expect(runsOfA.length).toBeGreaterThan(1);
    expect(runsOfA.length).toBeLessThan(5);
    runsOfA.forEach((r, i) => expect(r.firstSeq).toBe(i === 0 ? 0 : runsOfA[i - 1]!.firstSeq + runsOfA[i - 1]!.count));
    expect(runsOfA.reduce((n, r) => n + r.count, 0)).toBe(1200);
  });

  it('does not let a run skip more than a few KiB of other frames between two entries', () => {
    const busy = (n: number): Write[] => Array.from({ length: n }, () => [B, 1000] as Write);
    writeSegment([[A, 10], ...busy(3), [A, 10], ...busy(8), [A, 10]]);
    expect(runsOf(scan()).filter(([topicId]) => topicId === A)).toEqual([
      [A, 0, 2],
      [A, 2, 1],
    ]);
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
      data[victim.offset + 32] ^= 0x01;
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
      data[victim.offset + 32 + 5] ^= 0x01;
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
        data[end.offset + 40] ^= 0x80;
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

  describe('formats it does not know', () => {
    it('a frame with another version (valid header checksum) makes the scan fail with ERR_UNSUPPORTED_FORMAT', () => {
      writeSegment([
        [A, 10],
        [A, 10],
      ]);
      const second = entryFrames(file)[1]!;
      patchHeader(file, second.offset, (header) => {
        header[4] = 2;
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

    it('a segment header of format version 2 is refused', () => {
      writeSegment([[A, 10]]);
      editFile(file, (data) => {
        data.writeUInt32LE(2, 32);
        data.writeUInt32LE(crc32Of(data, 32, 64), 24);
        data.writeUInt32LE(crc32Of(data, 0, 28), 28);
      });
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
      'payload length %i: reported, the scan ends, later frames are kept',
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
      expect(frameBytes(2 ** 31 - 7, FRAME_HEADER_BYTES_V1)).toBe(32 + 2 ** 31);
      expect(frameBytes(2 ** 32 - 1, FRAME_HEADER_BYTES_V1)).toBe(32 + 2 ** 32);
      expect(frameBytes(9, FRAME_HEADER_BYTES_V1)).toBe(48);
      expect(frameBytes(0, FRAME_HEADER_BYTES_V1)).toBe(32);
    });
  });
});
