import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WalError } from '../../src/errors.js';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import {
  CODEC_MSGPACK,
  CODEC_RAW,
  FLAG_BATCH,
  FLAG_BATCH_END,
  frameBytes,
  FRAME_HEADER_BYTES_V2,
} from '../../src/storage/frame.js';
import { Partition, type PartitionConfig } from '../../src/storage/partition.js';
import {
  mergeScans,
  type RecoveredTopic,
  type RecoveryResult,
  type SegmentSummary,
} from '../../src/storage/recover.js';
import { listSegments, type SegmentId } from '../../src/storage/segment-name.js';
import { scanSegment } from '../../src/storage/segment-scanner.js';
import { decodeSegmentSummary } from '../../src/storage/segment-summary.js';
import { summaryDraftPathOf } from '../../src/storage/summary-files.js';

const BLOCK_BYTES = 4096;
const MIB = 1024 * 1024;
const T1 = 1;
const T2 = 2;

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = (seed * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

function recover(dir: string, startSeq = new Map<number, number>()): RecoveryResult {
  const scans = listSegments(nodeFileIo, dir).map((s) => scanSegment(nodeFileIo, s.path));
  return mergeScans(scans, { names: new Map(), startSeq });
}

function payloadsOf(p: Partition, topicId: number, fromSeq = 0): Uint8Array[] {
  const batch = p.read(topicId, fromSeq, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  return batch.entries.map((e) => batch.data.slice(e.offset, e.offset + e.length));
}

function errnoError(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated, ${syscall}`), { code, syscall });
}

type PwriteFault = 'half' | 'enospc' | 'zero';

/** nodeFileIo with scripted faults and a record of calls and open descriptors. */
class FaultyIo {
  readonly pwriteFaults: PwriteFault[] = [];
  failTruncate = false;
  readonly openFds = new Set<number>();
  readonly calls: string[] = [];
  readonly io: FileIo;

  constructor() {
    this.io = {
      ...nodeFileIo,
      open: (filePath, mode) => {
        const fd = nodeFileIo.open(filePath, mode);
        this.openFds.add(fd);
        return fd;
      },
      close: (fd) => {
        this.openFds.delete(fd);
        nodeFileIo.close(fd);
      },
      pwrite: (fd, data, offset, length, position) => {
        const fault = this.pwriteFaults.shift();
        if (fault === 'enospc') throw errnoError('ENOSPC', 'write');
        if (fault === 'zero') return 0;
        const n = fault === 'half' ? Math.max(1, length >>> 1) : length;
        return nodeFileIo.pwrite(fd, data, offset, n, position);
      },
      ftruncate: (fd, lengthBytes) => {
        if (this.failTruncate) throw errnoError('EIO', 'ftruncate');
        nodeFileIo.ftruncate(fd, lengthBytes);
      },
      fdatasync: (fd) => {
        this.calls.push(`fdatasync:${fd}`);
        nodeFileIo.fdatasync(fd);
      },
    };
  }
}

describe('Partition', () => {
  let dir: string;
  const partitions: Partition[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-partition-'));
  });
  afterEach(() => {
    for (const p of partitions.splice(0)) p.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function open(config: Partial<PartitionConfig> = {}, topics: RecoveredTopic[] = []): Partition {
    const p = new Partition(
      { dir, io: nodeFileIo, epoch: 1, writerIndex: 0, segmentBytes: 64 * MIB, blockBytes: BLOCK_BYTES, ...config },
      topics,
    );
    partitions.push(p);
    return p;
  }

  function append(p: Partition, topicId: number, data: Uint8Array, codec = CODEC_RAW): number {
    const seq = p.stageEntry(topicId, data, 0, data.byteLength, codec, 0);
    p.commit();
    return seq;
  }

  describe('stage, commit and read round trips', () => {
    const sizes = [0, 1, 7, 8, 9, 63, 64, 65, BLOCK_BYTES - 1, BLOCK_BYTES, BLOCK_BYTES + 1, MIB - 1, MIB, MIB + 1];

    it('every size reads back exactly, before and after a scan and merge', () => {
      const p = open();
      p.defineTopic(T1, 'sizes');
      p.defineTopic(T2, 'small');
      sizes.forEach((size, i) => {
        expect(append(p, T1, bytes(size, i), i % 2 === 0 ? CODEC_RAW : CODEC_MSGPACK)).toBe(i);
        expect(append(p, T2, bytes(5, 100 + i))).toBe(i);
      });
      const check = (reader: Partition): void => {
        const batch = reader.read(T1, 0, Number.MAX_SAFE_INTEGER, 1000);
        expect(batch.entries.map((e) => [e.seq, e.codec, e.length])).toEqual(sizes.map((size, i) => [i, i % 2, size]));
        batch.entries.forEach((e, i) =>
          expect(
            Buffer.from(batch.data.subarray(e.offset, e.offset + e.length)).equals(Buffer.from(bytes(sizes[i]!, i))),
          ).toBe(true),
        );
        for (let i = 0; i < sizes.length; i++) {
          const one = reader.read(T1, i, 0, 1);
          expect(one.entries).toHaveLength(1);
          expect(Buffer.from(one.data).equals(Buffer.from(bytes(sizes[i]!, i)))).toBe(true);
        }
        expect(payloadsOf(reader, T2).map((b) => Buffer.from(b).toString('hex'))).toEqual(
          sizes.map((_, i) => Buffer.from(bytes(5, 100 + i)).toString('hex')),
        );
      };
      check(p);

      const recovered = recover(dir);
      expect(recovered.damage).toEqual([]);
      expect(recovered.topics.map((t) => [t.id, t.name, t.nextSeq])).toEqual([
        [T1, 'sizes', sizes.length],
        [T2, 'small', sizes.length],
      ]);
      check(open({ epoch: 2 }, recovered.topics));
    });

    it('pads to block boundaries with zeros and starts a frame larger than a block at a boundary', () => {
      const p = open();
      p.defineTopic(T1, 't');
      append(p, T1, bytes(3000, 1));
      append(p, T1, bytes(3000, 2)); // does not fit in the rest of block 0
      append(p, T1, bytes(9000, 3)); // larger than a block
      append(p, T1, bytes(10, 4)); // starts at the block after the large frame
      const file = fs.readFileSync(p.currentSegment!.path);
      const secondFrameAt = BLOCK_BYTES;
      const firstFrameEnd = 80 + frameBytes(1, FRAME_HEADER_BYTES_V2) + frameBytes(3000, FRAME_HEADER_BYTES_V2); // header, TOPIC_DEF, entry 0
      expect(file.subarray(firstFrameEnd, secondFrameAt).every((b) => b === 0)).toBe(true);
      const largeAt = 2 * BLOCK_BYTES;
      expect(file.readUInt32LE(largeAt)).toBe(0x524c4157);
      const afterLarge = largeAt + frameBytes(9000, FRAME_HEADER_BYTES_V2);
      const nextAt = Math.ceil(afterLarge / BLOCK_BYTES) * BLOCK_BYTES;
      expect(file.subarray(afterLarge, nextAt).every((b) => b === 0)).toBe(true);
      expect(file.readUInt32LE(nextAt)).toBe(0x524c4157);
      expect(file.byteLength).toBe(nextAt + frameBytes(10, FRAME_HEADER_BYTES_V2));
      expect(payloadsOf(p, T1).map((b) => b.byteLength)).toEqual([3000, 3000, 9000, 10]);
    });

    it('reuses the staging buffer without leaking old bytes into padding', () => {
      const p = open();
      p.defineTopic(T1, 't');
      for (let i = 0; i < 40; i++) append(p, T1, bytes(100 + ((i * 997) % 2500), i).fill(0xff));
      const scan = scanSegment(nodeFileIo, p.currentSegment!.path);
      expect(scan.damage).toEqual([]);
      expect(scan.runs).toEqual([expect.objectContaining({ topicId: T1, firstSeq: 0, count: 40 })]);
    });

    it('coalesces many staged entries of several topics into one write', () => {
      const p = open();
      p.defineTopic(T1, 'a');
      p.defineTopic(T2, 'b');
      for (let i = 0; i < 100; i++) p.stageEntry(i % 3 === 0 ? T2 : T1, bytes(50, i), 0, 50, CODEC_RAW, 0);
      expect(p.stagedEntries).toBe(100);
      expect(p.currentSegment).toBeNull();
      p.commit();
      expect(p.stagedEntries).toBe(0);
      expect(p.stagedBytes).toBe(0);
      expect(p.nextSeq(T1)).toBe(66);
      expect(p.nextSeq(T2)).toBe(34);
      expect(payloadsOf(p, T1)).toHaveLength(66);
      expect(payloadsOf(p, T2, 30)).toHaveLength(4);
    });

    it('copies exactly [offset, offset + length) of the caller buffer', () => {
      const p = open();
      p.defineTopic(T1, 't');
      const ring = bytes(100, 9);
      p.stageEntry(T1, ring, 10, 20, CODEC_RAW, 0);
      ring.fill(0); // staged bytes are a copy
      p.commit();
      expect(Buffer.from(payloadsOf(p, T1)[0]!).equals(Buffer.from(bytes(100, 9).subarray(10, 30)))).toBe(true);
      expect(() => p.stageEntry(T1, ring, 90, 20, CODEC_RAW, 0)).toThrow(WalError);
      expect(() => p.stageEntry(T1, ring, 0, 1, 7, 0)).toThrow(/codec/);
    });
  });

  describe('segments', () => {
    it('rolls to a new segment at the start of a write once the current one is full', () => {
      const created: string[] = [];
      const sealed: SegmentSummary[] = [];
      const p = open({
        segmentBytes: 8192,
        onSegmentCreated: (_id: SegmentId, filePath: string) => created.push(path.basename(filePath)),
        onSegmentSealed: (summary) => sealed.push(summary),
      });
      p.defineTopic(T1, 'one');
      p.defineTopic(T2, 'two');
      for (let i = 0; i < 60; i++) append(p, i % 2 === 0 ? T1 : T2, bytes(300, i));
      const files = listSegments(nodeFileIo, dir).map((s) => path.basename(s.path));
      expect(files.length).toBeGreaterThanOrEqual(3);
      expect(created).toEqual(files);
      expect(sealed.map((s) => path.basename(s.path))).toEqual(files.slice(0, -1));
      expect(p.segmentSummaries()).toEqual(sealed);
      for (const s of listSegments(nodeFileIo, dir)) {
        const scan = scanSegment(nodeFileIo, s.path);
        expect(scan.damage).toEqual([]);
        expect(new Map(scan.topicNames)).toEqual(
          new Map([
            [T1, 'one'],
            [T2, 'two'],
          ]),
        );
        if (path.basename(s.path) !== files.at(-1)) expect(scan.sizeBytes).toBeGreaterThanOrEqual(8192);
        const summary = sealed.find((x) => x.path === s.path);
        if (summary !== undefined) {
          const lastOf = (topicId: number): number =>
            Math.max(...scan.runs.filter((r) => r.topicId === topicId).map((r) => r.firstSeq + r.count - 1));
          expect(summary.topics).toEqual([
            [T1, lastOf(T1)],
            [T2, lastOf(T2)],
          ]);
          expect(summary.sizeBytes).toBe(scan.sizeBytes);
        }
      }
      expect(payloadsOf(p, T1).map((b) => Buffer.from(b).toString('hex'))).toEqual(
        Array.from({ length: 30 }, (_, k) => Buffer.from(bytes(300, 2 * k)).toString('hex')),
      );
      expect(payloadsOf(p, T2, 13)).toHaveLength(17);
    });

    it('never splits one write: a batch larger than the segment stays in one segment', () => {
      const p = open({ segmentBytes: 8192 });
      p.defineTopic(T1, 't');
      append(p, T1, bytes(10, 0));
      for (let i = 0; i < 40; i++) {
        p.stageEntry(T1, bytes(300, i), 0, 300, CODEC_RAW, i === 39 ? FLAG_BATCH | FLAG_BATCH_END : FLAG_BATCH);
      }
      p.commit();
      const segments = listSegments(nodeFileIo, dir);
      expect(segments).toHaveLength(1);
      const scan = scanSegment(nodeFileIo, segments[0]!.path);
      expect(scan.sizeBytes).toBeGreaterThan(8192);
      expect(scan.runs).toEqual([expect.objectContaining({ firstSeq: 0, count: 41 })]);
      append(p, T1, bytes(10, 1)); // the next write rolls
      expect(listSegments(nodeFileIo, dir)).toHaveLength(2);
    });

    it('does not reuse a segment number of its epoch that already exists', () => {
      const first = open();
      first.defineTopic(T1, 't');
      append(first, T1, bytes(10, 0));
      first.close();
      const second = open({}, recover(dir).topics);
      append(second, T1, bytes(10, 1));
      expect(listSegments(nodeFileIo, dir).map((s) => s.id.segmentNo)).toEqual([0, 1]);
      expect(payloadsOf(second, T1)).toHaveLength(2);
    });
  });

  describe('read budgets', () => {
    function tenByTen(): Partition {
      const p = open();
      p.defineTopic(T1, 't');
      for (let i = 0; i < 10; i++) append(p, T1, bytes(10, i));
      return p;
    }
    const seqs = (p: Partition, from: number, maxBytes: number, maxEntries: number): number[] =>
      p.read(T1, from, maxBytes, maxEntries).entries.map((e) => e.seq);

    it('returns at least one entry, even one larger than maxBytes', () => {
      const p = open();
      p.defineTopic(T1, 't');
      append(p, T1, bytes(5000, 1));
      append(p, T1, bytes(1, 2));
      expect(seqs(p, 0, 1, 10)).toEqual([0]);
      expect(seqs(p, 0, 0, 10)).toEqual([0]);
      expect(p.read(T1, 0, 1, 10).data.byteLength).toBe(5000);
    });

    it('stops at maxEntries', () => {
      const p = tenByTen();
      expect(seqs(p, 0, 1000, 3)).toEqual([0, 1, 2]);
      expect(seqs(p, 8, 1000, 3)).toEqual([8, 9]);
    });

    it('keeps the payload total within maxBytes, boundaries included', () => {
      const p = tenByTen();
      expect(seqs(p, 0, 29, 100)).toEqual([0, 1]);
      expect(seqs(p, 0, 30, 100)).toEqual([0, 1, 2]);
      expect(seqs(p, 0, 31, 100)).toEqual([0, 1, 2]);
      expect(seqs(p, 4, 100, 100)).toEqual([4, 5, 6, 7, 8, 9]);
      const batch = p.read(T1, 0, 30, 100);
      expect(batch.data.byteLength).toBe(30);
      expect(batch.entries.map((e) => e.offset)).toEqual([0, 10, 20]);
    });

    it('returns nothing at or past the end, and refuses invalid budgets', () => {
      const p = tenByTen();
      expect(p.read(T1, 10, 1000, 10).entries).toEqual([]);
      expect(p.read(T1, 50, 1000, 10).entries).toEqual([]);
      expect(() => p.read(T1, 0, 1000, 0)).toThrow(WalError);
      expect(() => p.read(T1, -1, 1000, 1)).toThrow(WalError);
      expect(() => p.read(99, 0, 1000, 1)).toThrow(/not defined/);
    });

    it('sequential small reads across segments equal one big read, with appends in between', () => {
      const p = open({ segmentBytes: 8192 });
      p.defineTopic(T1, 'a');
      p.defineTopic(T2, 'b');
      const got: number[] = [];
      let next = 0;
      for (let i = 0; i < 200; i++) {
        append(p, T1, bytes(40 + (i % 50), i));
        if (i % 3 === 0) append(p, T2, bytes(20, i));
        if (i % 7 === 0) {
          const batch = p.read(T1, next, 150, 100);
          for (const e of batch.entries) {
            expect(
              Buffer.from(batch.data.subarray(e.offset, e.offset + e.length)).equals(
                Buffer.from(bytes(40 + (e.seq % 50), e.seq)),
              ),
            ).toBe(true);
            got.push(e.seq);
          }
          next = got.length;
        }
      }
      while (next < 200) {
        const batch = p.read(T1, next, 100, 3);
        got.push(...batch.entries.map((e) => e.seq));
        next = got.length;
      }
      expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(payloadsOf(p, T1, 123)[0]).toEqual(bytes(40 + (123 % 50), 123));
    });

    it('verifies checksums of what it returns', () => {
      const p = tenByTen();
      const file = p.currentSegment!.path;
      const data = fs.readFileSync(file);
      const at = data.lastIndexOf(Buffer.from(bytes(10, 5)));
      data[at] = data[at]! ^ 1;
      fs.writeFileSync(file, data);
      expect(seqs(p, 0, 1000, 5)).toEqual([0, 1, 2, 3, 4]);
      let error: unknown;
      try {
        p.read(T1, 0, 1000, 10);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(WalError);
      expect((error as WalError).code).toBe('ERR_CORRUPT');
      expect((error as WalError).details.path).toBe(file);
      expect((error as WalError).details.offset).toBe(at - FRAME_HEADER_BYTES_V2);
    });
  });

  describe('write failures', () => {
    function withFaults(config: Partial<PartitionConfig> = {}): { p: Partition; faults: FaultyIo } {
      const faults = new FaultyIo();
      const p = open({ io: faults.io, ...config });
      p.defineTopic(T1, 'a');
      p.defineTopic(T2, 'b');
      return { p, faults };
    }

    function stageSome(p: Partition, seed: number): void {
      p.stageEntry(T1, bytes(500, seed), 0, 500, CODEC_RAW, 0);
      p.stageEntry(T2, bytes(500, seed + 1), 0, 500, CODEC_RAW, 0);
      p.stageEntry(T1, bytes(500, seed + 2), 0, 500, CODEC_RAW, 0);
    }

    for (const [name, script, code] of [
      ['ENOSPC after a partial write', ['half', 'enospc'], 'ERR_DISK_FULL'],
      ['a short write', ['half', 'zero'], 'ERR_IO'],
    ] as Array<[string, PwriteFault[], string]>) {
      it(`${name} leaves nothing visible, restores seqs, and later writes succeed and survive recovery`, () => {
        const { p, faults } = withFaults();
        append(p, T1, bytes(100, 1));
        const sizeBefore = p.currentSegment!.sizeBytes;
        stageSome(p, 10);
        faults.pwriteFaults.push(...script);
        let error: unknown;
        try {
          p.commit();
        } catch (err) {
          error = err;
        }
        expect((error as WalError).code).toBe(code);
        expect((error as WalError).details.path).toBe(p.currentSegment!.path);
        expect(fs.statSync(p.currentSegment!.path).size).toBe(sizeBefore);
        expect(p.currentSegment!.sizeBytes).toBe(sizeBefore);
        expect(p.nextSeq(T1)).toBe(1);
        expect(p.nextSeq(T2)).toBe(0);
        expect(p.stagedEntries).toBe(0);
        expect(payloadsOf(p, T1)).toHaveLength(1);
        expect(p.read(T2, 0, 1000, 10).entries).toEqual([]);

        stageSome(p, 20);
        p.commit();
        expect(p.nextSeq(T1)).toBe(3);
        p.close();
        const recovered = recover(dir);
        expect(recovered.damage).toEqual([]);
        const reader = open({ epoch: 2 }, recovered.topics);
        expect(payloadsOf(reader, T1).map((b) => Buffer.from(b).toString('hex'))).toEqual(
          [bytes(100, 1), bytes(500, 20), bytes(500, 22)].map((b) => Buffer.from(b).toString('hex')),
        );
        expect(payloadsOf(reader, T2)).toEqual([bytes(500, 21)]);
      });
    }

    it('a failed first write of a segment is retried with its segment header', () => {
      const created: string[] = [];
      const { p, faults } = withFaults({ onSegmentCreated: (_id, filePath) => created.push(filePath) });
      stageSome(p, 0);
      faults.pwriteFaults.push('enospc');
      expect(() => p.commit()).toThrow(/ENOSPC/);
      expect(p.nextSeq(T1)).toBe(0);
      stageSome(p, 30);
      p.commit();
      expect(created).toHaveLength(1);
      p.close();
      const recovered = recover(dir);
      expect(recovered.damage).toEqual([]);
      expect(recovered.topics.map((t) => t.nextSeq)).toEqual([2, 1]);
      expect(payloadsOf(open({ epoch: 2 }, recovered.topics), T1)).toEqual([bytes(500, 30), bytes(500, 32)]);
    });

    it('refuses every later write when the file cannot be truncated back', () => {
      const { p, faults } = withFaults();
      append(p, T1, bytes(10, 0));
      stageSome(p, 0);
      faults.pwriteFaults.push('half', 'enospc');
      faults.failTruncate = true;
      expect(() => p.commit()).toThrow(WalError);
      expect(() => p.stageEntry(T1, bytes(1, 0), 0, 1, CODEC_RAW, 0)).toThrow(/truncating/);
      expect(payloadsOf(p, T1)).toHaveLength(1);
    });

    it('discardStaged drops staged entries and restores seqs', () => {
      const { p } = withFaults();
      append(p, T2, bytes(10, 0));
      stageSome(p, 0);
      p.discardStaged();
      expect([p.nextSeq(T1), p.nextSeq(T2), p.stagedBytes]).toEqual([0, 1, 0]);
      append(p, T1, bytes(10, 5));
      p.close();
      const recovered = recover(dir);
      expect(recovered.damage).toEqual([]);
      expect(recovered.topics.map((t) => t.nextSeq)).toEqual([1, 1]);
    });
  });

  describe("the writer's index of each segment equals a scan of its file (FORMAT §14.1, §14.2)", () => {
    const write = fc.array(fc.tuple(fc.constantFrom(T1, T2, 3), fc.integer({ min: 0, max: 6000 })), {
      minLength: 1,
      maxLength: 12,
    });
    const plan = fc.array(fc.record({ entries: write, batch: fc.boolean(), fail: fc.boolean() }), {
      minLength: 1,
      maxLength: 40,
    });

    it('runs, their points (offset, seq, time) and their bounds, across rolls and rolled-back writes', () => {
      fc.assert(
        fc.property(plan, (writes) => {
          const sub = fs.mkdtempSync(path.join(dir, 'p-'));
          const faults = new FaultyIo();
          let clockMs = 1_764_000_000_000;
          const p = new Partition(
            {
              dir: sub,
              io: faults.io,
              epoch: 1,
              writerIndex: 0,
              segmentBytes: 64 * 1024,
              blockBytes: BLOCK_BYTES,
              indexIntervalBytes: 4096,
              clock: () => (clockMs += 7),
              summaryDrafts: 'synced',
            },
            [],
          );
          try {
            for (const id of [T1, T2, 3]) p.defineTopic(id, `t${id}`);
            writes.forEach(({ entries, batch, fail }, w) => {
              const batchTopic = entries[0]![0];
              entries.forEach(([topic, size], i) => {
                const flags = !batch ? 0 : i === entries.length - 1 ? FLAG_BATCH | FLAG_BATCH_END : FLAG_BATCH;
                p.stageEntry(batch ? batchTopic : topic, bytes(size, w * 100 + i), 0, size, CODEC_RAW, flags);
              });
              if (fail) faults.pwriteFaults.push('half', 'enospc');
              try {
                p.commit();
              } catch (err) {
                if (!fail) throw err;
              }
              faults.pwriteFaults.length = 0;
            });
            const written = p.runSnapshot().flatMap((t) => t.runs.map((r) => ({ ...r, topicId: t.id })));
            for (const segment of listSegments(nodeFileIo, sub)) {
              const scan = scanSegment(nodeFileIo, segment.path);
              // A segment whose only write failed is left empty (truncated back): it holds nothing.
              if (scan.sizeBytes === 0) continue;
              expect(scan.damage).toEqual([]);
              const mine = written
                .filter((r) => r.path === segment.path)
                .map(({ topicId, firstSeq, count, startOffset, endOffset, points }) => ({
                  ...{ topicId, firstSeq, count, startOffset, endOffset },
                  points: Array.from(points),
                }));
              const scanned = scan.runs.map(({ topicId, firstSeq, count, startOffset, endOffset, points }) => ({
                ...{ topicId, firstSeq, count, startOffset, endOffset },
                points: Array.from(points),
              }));
              const byTopic = (a: { topicId: number }, b: { topicId: number }): number => a.topicId - b.topicId;
              expect(mine.sort(byTopic)).toEqual(scanned.sort(byTopic));
            }
            // FORMAT §15.3 (a): the summary the writer drafts at a seal is exactly a scan of the file.
            p.sealCurrent();
            const drafted = p.takeSummaryDrafts();
            for (const segment of listSegments(nodeFileIo, sub)) {
              const scan = scanSegment(nodeFileIo, segment.path);
              if (scan.sizeBytes === 0) continue;
              expect(drafted).toContain(segment.path);
              const decoded = decodeSegmentSummary(fs.readFileSync(summaryDraftPathOf(segment.path)), segment.path);
              expect(decoded.ok && decoded.scan).toEqual(scan);
            }
          } finally {
            p.close();
          }
        }),
        { numRuns: 40 },
      );
    });
  });

  describe('atomic batches', () => {
    it('only the open batch topic may be staged until its BATCH_END, and no commit happens inside it', () => {
      const p = open({ maxWriteBytes: 100 });
      p.defineTopic(T1, 'a');
      p.defineTopic(T2, 'b');
      p.stageEntry(T1, bytes(200, 0), 0, 200, CODEC_RAW, FLAG_BATCH);
      expect(p.wantsCommit()).toBe(false);
      expect(() => p.commit()).toThrow(/batch/);
      expect(() => p.stageEntry(T2, bytes(1, 0), 0, 1, CODEC_RAW, 0)).toThrow(/batch/);
      expect(() => p.stageEntry(T1, bytes(1, 0), 0, 1, CODEC_RAW, 0)).toThrow(/batch/);
      expect(() => p.stageEntry(T1, bytes(1, 0), 0, 1, CODEC_RAW, FLAG_BATCH_END)).toThrow(/flags/);
      p.stageEntry(T1, bytes(200, 1), 0, 200, CODEC_RAW, FLAG_BATCH | FLAG_BATCH_END);
      expect(p.wantsCommit()).toBe(true);
      p.commit();
      expect(payloadsOf(p, T1)).toHaveLength(2);
    });
  });

  it('reads recovered runs of one topic that recovery found on both sides of a damaged frame of another topic', () => {
    const p = open();
    p.defineTopic(T1, 'a');
    p.defineTopic(T2, 'b');
    for (let i = 0; i < 6; i++) {
      append(p, T1, bytes(30, i));
      if (i === 2) append(p, T2, bytes(30, 99));
    }
    const file = p.currentSegment!.path;
    p.close();
    const data = fs.readFileSync(file);
    data[data.indexOf(Buffer.from(bytes(30, 99))) - 32] ^= 0xff; // the magic of T2's only frame
    fs.writeFileSync(file, data);
    const recovered = recover(dir);
    expect(recovered.damage).toHaveLength(1);
    const t1 = recovered.topics.find((t) => t.id === T1)!;
    expect(t1.runs.map((r) => [r.firstSeq, r.count])).toEqual([
      [0, 3],
      [3, 3],
    ]);
    const reader = open({ epoch: 2 }, recovered.topics);
    expect(payloadsOf(reader, T1)).toEqual(Array.from({ length: 6 }, (_, i) => bytes(30, i)));
    const firstTwo = reader.read(T1, 0, 1000, 2);
    expect(firstTwo.entries.map((e) => e.seq)).toEqual([0, 1]);
    expect(reader.read(T1, 2, 1000, 10).entries.map((e) => e.seq)).toEqual([2, 3, 4, 5]); // resumes from the read hint
  });

  it('forgetSegments drops the runs of those segments and closes their descriptors', () => {
    const faults = new FaultyIo();
    const p = open({ io: faults.io, segmentBytes: 8192 });
    p.defineTopic(T1, 't');
    for (let i = 0; i < 40; i++) append(p, T1, bytes(700, i));
    const sealed = p.segmentSummaries();
    expect(sealed.length).toBeGreaterThanOrEqual(2);
    const first = sealed[0]!;
    const lastInFirst = first.topics[0]![1];
    expect(payloadsOf(p, T1)).toHaveLength(40); // opens the sealed segments for reading
    const fdsBefore = faults.openFds.size;
    p.forgetSegments([first.path]);
    expect(faults.openFds.size).toBe(fdsBefore - 1);
    expect(p.segmentSummaries().map((s) => s.path)).not.toContain(first.path);
    expect(() => p.read(T1, 0, 1000, 1)).toThrow(/no longer stored/);
    expect(() => p.read(T1, lastInFirst, 1000, 1)).toThrow(/no longer stored/);
    expect(p.read(T1, lastInFirst + 1, 1000, 1).entries.map((e) => e.seq)).toEqual([lastInFirst + 1]);
    expect(() => p.forgetSegments([p.currentSegment!.path])).toThrow(/current segment/);
    p.close();
    expect(faults.openFds.size).toBe(0);
  });

  it('fdatasyncCurrent syncs the current segment and sealed segments written since the last sync', () => {
    const faults = new FaultyIo();
    const p = open({ io: faults.io, segmentBytes: 8192 });
    p.defineTopic(T1, 't');
    p.fdatasyncCurrent();
    expect(faults.calls).toEqual([]);
    for (let i = 0; i < 14; i++) append(p, T1, bytes(700, i)); // rolls once
    expect(p.segmentSummaries()).toHaveLength(1);
    p.fdatasyncCurrent();
    expect(faults.calls).toHaveLength(2);
    p.fdatasyncCurrent();
    expect(faults.calls).toHaveLength(2);
    append(p, T1, bytes(1, 0));
    p.fdatasyncCurrent();
    expect(faults.calls).toHaveLength(3);
  });

  it('refuses use after close', () => {
    const p = open();
    p.defineTopic(T1, 't');
    p.close();
    p.close();
    expect(() => p.stageEntry(T1, bytes(1, 0), 0, 1, CODEC_RAW, 0)).toThrow(/closed/);
    expect(() => p.read(T1, 0, 1, 1)).toThrow(/closed/);
  });
});
