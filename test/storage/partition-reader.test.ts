/**
 * The read path's budget (docs/SEMANTICS.md rule D20: `get` and `seek` find their place through the
 * sparse index, never by scanning): a read of one entry from a point reads at most one index interval
 * plus that entry, counted through the FileIo seam.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import { CODEC_RAW, DEFAULT_INDEX_INTERVAL_BYTES, FRAME_HEADER_BYTES_V2 } from '../../src/storage/frame.js';
import { Partition } from '../../src/storage/partition.js';
import { PartitionReader, type ReadableTopic } from '../../src/storage/partition-reader.js';
import { mergeScans } from '../../src/storage/recover.js';
import { listSegments } from '../../src/storage/segment-name.js';
import { scanSegment } from '../../src/storage/segment-scanner.js';
import { TopicIndex, type SegmentRef } from '../../src/storage/topic-index.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const MIB = 1024 * 1024;

function payload(seq: number): Uint8Array {
  // 200 … 2,199 bytes, so entry offsets cannot be computed, only found.
  const out = new Uint8Array(200 + ((seq * 7919) % 2000));
  out.fill(seq % 251);
  new DataView(out.buffer).setUint32(0, seq, true);
  return out;
}

describe('rule D20 (docs/SEMANTICS.md): a get reads at most an index interval and its entry', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-reader-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('from the points a scan chose, for entries of a dense topic and of one of two interleaved topics', () => {
    const total = 3000;
    const p = new Partition(
      { dir, io: nodeFileIo, epoch: 1, writerIndex: 0, segmentBytes: 64 * MIB, blockBytes: MIB },
      [],
    );
    p.defineTopic(1, 'dense');
    p.defineTopic(2, 'a');
    p.defineTopic(3, 'b');
    for (let seq = 0; seq < total; seq++) {
      const data = payload(seq);
      p.stageEntry(1, data, 0, data.byteLength, CODEC_RAW, 0);
      if (seq % 100 === 99) p.commit();
    }
    for (let seq = 0; seq < total; seq++) {
      for (const topicId of [2, 3]) {
        const data = payload(seq);
        p.stageEntry(topicId, data, 0, data.byteLength, CODEC_RAW, 0);
      }
      if (seq % 50 === 49) p.commit();
    }
    p.commit();
    p.close();

    const recovered = mergeScans(
      listSegments(nodeFileIo, dir).map((s) => scanSegment(nodeFileIo, s.path)),
      { names: new Map(), startSeq: new Map() },
    );
    let bytesRead = 0;
    const io: FileIo = {
      ...nodeFileIo,
      pread: (fd, into, offset, length, position) => {
        const n = nodeFileIo.pread(fd, into, offset, length, position);
        bytesRead += n;
        return n;
      },
    };
    const fds = new Map<string, number>();
    const reader = new PartitionReader(
      io,
      (segment) =>
        fds.get(segment.path) ?? fds.set(segment.path, nodeFileIo.open(segment.path, 'read')).get(segment.path)!,
      { verifyPayloads: false },
    );
    const segments = new Map<string, SegmentRef>();
    try {
      for (const topicId of [1, 2]) {
        const t = recovered.topics.find((x) => x.id === topicId)!;
        const index = new TopicIndex();
        for (const r of t.runs) {
          let ref = segments.get(r.path);
          if (ref === undefined)
            segments.set(r.path, (ref = { path: r.path, id: r.segment, blockBytes: 0, layout: null }));
          index.appendRecovered(ref, r.firstSeq, r.count, r.startOffset, r.endOffset, r.points);
        }
        const topic: ReadableTopic = {
          id: topicId,
          name: t.name,
          committedSeq: t.nextSeq,
          index,
          hintSegment: null,
          hintSeq: 0,
          hintOffset: 0,
          hintSparse: false,
        };
        reader.readInPlace(topic, 0, 1, 1); // reads the segment header once
        for (let k = 0; k < 200; k++) {
          const seq = (k * 7907) % total;
          bytesRead = 0;
          const batch = reader.readInPlace(topic, seq, 1, 1);
          expect(batch.entries.map((e) => e.seq)).toEqual([seq]);
          const e = batch.entries[0]!;
          expect(batch.data.slice(e.offset, e.offset + e.length)).toEqual(payload(seq));
          // One interval from the point, the entry's frame, and the read's slack (4 KiB).
          expect(bytesRead).toBeLessThanOrEqual(DEFAULT_INDEX_INTERVAL_BYTES + FRAME_HEADER_BYTES_V2 + 2200 + 4096 + 8);
        }
      }
    } finally {
      for (const fd of fds.values()) nodeFileIo.close(fd);
    }
  });
});

describe('reads of a segment open took from a summary check each payload (docs/FORMAT.md §15.4, docs/DURABILITY.md)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-reader-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** One segment of `count` entries of topic 1, scanned (the runs and points open would index). */
  function writeScanned(count: number) {
    const p = new Partition(
      { dir, io: nodeFileIo, epoch: 1, writerIndex: 0, segmentBytes: 64 * MIB, blockBytes: MIB },
      [],
    );
    p.defineTopic(1, 'only');
    for (let seq = 0; seq < count; seq++) {
      const data = payload(seq);
      p.stageEntry(1, data, 0, data.byteLength, CODEC_RAW, 0);
    }
    p.commit();
    p.close();
    const [segment] = listSegments(nodeFileIo, dir);
    const run = scanSegment(nodeFileIo, segment!.path).runs[0]!;
    const fd = nodeFileIo.open(segment!.path, 'read');
    return {
      run,
      /** Flips a payload byte at `offset` of the file: what a summary made before would still vouch for. */
      flip(offset: number): void {
        const bytes = fs.readFileSync(segment!.path);
        bytes[offset] ^= 0x01;
        fs.writeFileSync(segment!.path, bytes);
      },
      /** A reader that trusts payloads (the main thread's), of the segment as scanned or as taken from a summary. */
      readInPlace(unverified: boolean, from: number, maxBytes: number, maxEntries: number) {
        const ref: SegmentRef = { path: segment!.path, id: segment!.id, blockBytes: 0, layout: null, unverified };
        const index = new TopicIndex();
        index.appendRecovered(ref, run.firstSeq, run.count, run.startOffset, run.endOffset, run.points);
        const topic: ReadableTopic = {
          ...{ id: 1, name: 'only', committedSeq: run.count, index },
          ...{ hintSegment: null, hintSeq: 0, hintOffset: 0, hintSparse: false },
        };
        return new PartitionReader(nodeFileIo, () => fd, { verifyPayloads: false }).readInPlace(
          topic,
          from,
          maxBytes,
          maxEntries,
        );
      },
      close: () => nodeFileIo.close(fd),
    };
  }

  it('a reader that trusts payloads still checks them in an unverified segment: damage is ERR_CORRUPT, not data', () => {
    const log = writeScanned(50);
    try {
      log.flip(log.run.startOffset + FRAME_HEADER_BYTES_V2 + 10); // entry 0
      // Verified at open (scanned): the main thread's reader does not check payloads again.
      expect(log.readInPlace(false, 0, MIB, 100).entries.length).toBe(50);
      expectWalError(() => log.readInPlace(true, 0, MIB, 100), 'ERR_CORRUPT');
    } finally {
      log.close();
    }
  });

  it('in place too (a read of a long run): the batch ends before the damaged entry, and reading it is ERR_CORRUPT', () => {
    const log = writeScanned(400);
    try {
      const damaged = 300;
      let offset = log.run.startOffset;
      for (let seq = 0; seq < damaged; seq++)
        offset = Math.ceil((offset + FRAME_HEADER_BYTES_V2 + payload(seq).byteLength) / 8) * 8;
      // payload() writes its seq first: this is entry 300's payload
      expect(fs.readFileSync(listSegments(nodeFileIo, dir)[0]!.path).readUInt32LE(offset + FRAME_HEADER_BYTES_V2)).toBe(
        damaged,
      );
      log.flip(offset + FRAME_HEADER_BYTES_V2 + 20);
      // Scanned at open: trusted, all 400 in one batch (the damage is the medium's, for verify() to find).
      expect(log.readInPlace(false, 0, 4 * MIB, 1000).entries.length).toBe(400);
      const batch = log.readInPlace(true, 0, 4 * MIB, 1000);
      const first = batch.entries;
      expect(first.map((e) => e.seq)).toEqual(Array.from({ length: damaged }, (_, i) => i));
      // The one-pass check zeroes what lies between payloads, never a payload.
      for (const e of first)
        expect(Buffer.from(batch.data.subarray(e.offset, e.offset + e.length))).toEqual(Buffer.from(payload(e.seq)));
      expectWalError(() => log.readInPlace(true, damaged, 4 * MIB, 1000), 'ERR_CORRUPT');
    } finally {
      log.close();
    }
  });
});
