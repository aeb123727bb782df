import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeFileIo } from '../../src/storage/file-io.js';
import { CODEC_RAW, KIND_ENTRY } from '../../src/storage/frame.js';
import { Partition } from '../../src/storage/partition.js';
import { DEFAULT_RETENTION, retentionRound } from '../../src/storage/retention.js';
import { mergeScans, type Fence, type RecoveredTopic, type RecoveryResult } from '../../src/storage/recover.js';
import { listSegments, segmentFileName } from '../../src/storage/segment-name.js';
import { scanSegment, type DamageReport, type SegmentScan } from '../../src/storage/segment-scanner.js';
import { flipBit, readSegmentLayout } from '../helpers/corrupt.js';

const A = 1;
const B = 2;
const NAMES: Array<[number, string]> = [
  [A, 'alpha'],
  [B, 'beta'],
];

type Run = [topicId: number, firstSeq: number, count: number];

/** A scan as scanSegment would return it for a segment holding these runs. */
function seg(epoch: number, segmentNo: number, runs: Run[], extra: Partial<SegmentScan> = {}): SegmentScan {
  const id = { epoch, writerIndex: 0, segmentNo };
  let offset = 64;
  return {
    path: `/wal/${segmentFileName(id)}`,
    id,
    formatVersion: 2,
    salt: 0,
    blockBytes: 4096,
    indexIntervalBytes: 32 * 1024,
    createdAtMs: 0,
    maxTimeMs: 0,
    sizeBytes: 1000,
    topicNames: NAMES.filter(([topicId]) => runs.some((r) => r[0] === topicId)),
    runs: runs.map(([topicId, firstSeq, count]) => {
      const startOffset = offset;
      offset += 100 * count;
      return {
        topicId,
        firstSeq,
        count,
        startOffset,
        endOffset: offset,
        firstTimeMs: 0,
        lastTimeMs: 0,
        points: new Float64Array([startOffset, firstSeq, 0]),
      };
    }),
    damage: [],
    validEndOffset: offset,
    unreadable: false,
    ...extra,
  };
}

function merge(
  scans: SegmentScan[],
  startSeq: Array<[number, number]> = [],
  names: Array<[number, string]> = [],
  fences: Fence[] = [],
): RecoveryResult {
  return mergeScans(scans, { names: new Map(names), startSeq: new Map(startSeq), fences });
}

/** `e<epoch>s<segmentNo>:<topic>@<seq>` for each fence. */
function fencesOf(result: RecoveryResult): string[] {
  return result.fences.map((f) => `e${f.segment.epoch}s${f.segment.segmentNo}:${f.topicId}@${f.seq}`);
}

function topic(result: RecoveryResult, id: number): RecoveredTopic {
  const found = result.topics.find((t) => t.id === id);
  if (found === undefined) throw new Error(`topic ${id} not recovered`);
  return found;
}

/** [segmentNo-or-epoch.segmentNo, firstSeq, count] of every accepted run. */
function runsOf(result: RecoveryResult, id: number): string[] {
  return topic(result, id).runs.map((r) => `e${r.segment.epoch}s${r.segment.segmentNo}:${r.firstSeq}+${r.count}`);
}

describe('mergeScans', () => {
  it('accepts continuous runs across segments and epochs, in segment order whatever the input order', () => {
    const result = merge([
      seg(2, 0, [[A, 7, 3]]),
      seg(1, 1, [
        [A, 4, 3],
        [B, 0, 2],
      ]),
      seg(1, 0, [[A, 0, 4]]),
    ]);
    expect(runsOf(result, A)).toEqual(['e1s0:0+4', 'e1s1:4+3', 'e2s0:7+3']);
    expect(topic(result, A)).toMatchObject({ name: 'alpha', nextSeq: 10, damaged: false });
    expect(topic(result, B).nextSeq).toBe(2);
    expect(result.damage).toEqual([]);
    expect(result.maxEpoch).toBe(2);
    expect(result.maxTopicId).toBe(B);
    expect(result.scannedBytes).toBe(3000);
    expect(result.segments.map((s) => [s.id.segmentNo, s.topics])).toEqual([
      [0, [[A, 3]]],
      [
        1,
        [
          [A, 6],
          [B, 1],
        ],
      ],
      [0, [[A, 9]]],
    ]);
  });

  it('a gap ends the prefix, is reported once, and the rest of that segment is ignored', () => {
    const result = merge([
      seg(1, 0, [
        [A, 0, 5],
        [B, 0, 1],
        [A, 6, 2],
        [B, 1, 1],
        [A, 8, 2],
      ]),
      seg(1, 1, [[A, 10, 3]]),
    ]);
    expect(runsOf(result, A)).toEqual(['e1s0:0+5']);
    expect(topic(result, A)).toMatchObject({ nextSeq: 5, damaged: true });
    expect(result.damage).toEqual([
      {
        path: '/wal/00000001-0000-00000000.seg',
        offset: 664,
        reason: expect.stringMatching(/expected seq 5, found seq 6/),
        topicId: A,
        seq: 5,
      },
    ]);
    expect(topic(result, B)).toMatchObject({ nextSeq: 2, damaged: false });
    expect(result.segments[1]!.topics).toEqual([]);

    // Even a run that starts at `expected` is ignored later in the segment where the topic broke.
    const sameSegment = merge([
      seg(1, 0, [
        [A, 0, 5],
        [A, 6, 2],
        [A, 5, 3],
      ]),
    ]);
    expect(topic(sameSegment, A).nextSeq).toBe(5);
    const laterSegment = merge([
      seg(1, 0, [
        [A, 0, 5],
        [A, 6, 2],
      ]),
      seg(1, 1, [[A, 5, 3]]),
    ]);
    expect(topic(laterSegment, A).nextSeq).toBe(8);
  });

  it('entries missing at the cursor break the topic at the cursor; a later segment starting there continues it', () => {
    const broken = merge([seg(1, 0, [[A, 5, 5]])], [[A, 2]]);
    expect(topic(broken, A)).toMatchObject({ nextSeq: 2, damaged: true, runs: [] });
    expect(broken.damage).toEqual([
      expect.objectContaining({ topicId: A, seq: 2, reason: expect.stringMatching(/entries 2\.\.4 are missing/) }),
    ]);

    const continued = merge([seg(1, 0, [[A, 5, 5]]), seg(2, 0, [[A, 2, 4]])], [[A, 2]]);
    expect(runsOf(continued, A)).toEqual(['e2s0:2+4']);
    expect(topic(continued, A).nextSeq).toBe(6);
  });

  it('a reclaimed prefix is fine: the first run may start anywhere at or below the cursor', () => {
    for (const cursor of [3, 7, 10]) {
      const result = merge([seg(1, 3, [[A, 3, 5]]), seg(1, 4, [[A, 8, 2]])], [[A, cursor]]);
      expect(runsOf(result, A)).toEqual(['e1s3:3+5', 'e1s4:8+2']);
      expect(topic(result, A)).toMatchObject({ nextSeq: 10, damaged: false });
      expect(result.damage).toEqual([]);
    }
  });

  it('a reclaimed segment between kept ones is crossed when the cursor is past it, and is damage otherwise', () => {
    const scans = [
      seg(1, 0, [
        [A, 0, 10],
        [B, 0, 1],
      ]),
      seg(1, 2, [[A, 20, 10]]),
    ]; // segment 1 (A 10..19) was reclaimed
    const crossed = merge(scans, [[A, 25]]);
    expect(runsOf(crossed, A)).toEqual(['e1s0:0+10', 'e1s2:20+10']);
    expect(topic(crossed, A)).toMatchObject({ nextSeq: 30, damaged: false });
    const lost = merge(scans, [[A, 15]]);
    expect(runsOf(lost, A)).toEqual(['e1s0:0+10']);
    expect(topic(lost, A)).toMatchObject({ nextSeq: 10, damaged: true });
  });

  it('a topic known only from the cursor file keeps its id and sequence', () => {
    const result = merge([seg(1, 0, [[B, 0, 1]])], [[7, 42]], [[7, 'drained']]);
    expect(topic(result, 7)).toEqual({ id: 7, name: 'drained', nextSeq: 42, runs: [], damaged: false });
    expect(result.maxTopicId).toBe(7);
  });

  it('two successive recoveries: old ignored frames stay hidden, entries written after each recovery are visible', () => {
    // Epoch 1 wrote A 0..9; seq 5 got damaged. Recovery 1 (epoch 2) ends A at 5 and fences 6..9.
    const epoch1 = seg(1, 0, [
      [A, 0, 5],
      [A, 6, 4],
    ]);
    const first = merge([epoch1]);
    expect(topic(first, A).nextSeq).toBe(5);
    expect(fencesOf(first)).toEqual([`e1s0:${A}@6`]);

    // Epoch 2 appended A 5..7. Recovery 2 (epoch 3) must take those, not the old 6..9.
    const epoch2 = seg(2, 0, [[A, 5, 3]]);
    const second = merge([epoch1, epoch2], [], [], first.fences);
    expect(runsOf(second, A)).toEqual(['e1s0:0+5', 'e2s0:5+3']);
    expect(topic(second, A).nextSeq).toBe(8);
    expect(fencesOf(second), 'the fence still voids frames on disk').toEqual([`e1s0:${A}@6`]);

    // Epoch 3 appended A 8..9 (seqs the old ignored frames also have). Recovery 3, whatever the cursor:
    const epoch3 = seg(3, 0, [[A, 8, 2]]);
    for (const cursor of [0, 6, 8, 9, 10]) {
      const third = merge([epoch1, epoch2, epoch3], [[A, cursor]], [], second.fences);
      expect(runsOf(third, A), `cursor ${cursor}`).toEqual(['e1s0:0+5', 'e2s0:5+3', 'e3s0:8+2']);
      expect(topic(third, A).nextSeq).toBe(10);
    }
  });

  it('a fenced frame never comes back, even once the entries that replaced it are gone and the cursor is past them', () => {
    const epoch1 = seg(1, 0, [
      [A, 0, 1],
      [A, 2, 2],
    ]); // seq 1 never reached the disk
    const first = merge([epoch1]);
    expect(topic(first, A).nextSeq).toBe(1);
    // Epoch 2's entries 1..2 were consumed (cursor 3), then lost in a power cut or reclaimed.
    const second = merge([epoch1], [[A, 3]], [], first.fences);
    expect(runsOf(second, A)).toEqual(['e1s0:0+1']);
    expect(topic(second, A).nextSeq, 'old seq 3 is not accepted across the gap').toBe(1);
    expect(second.damage).toEqual([]);
    // Without the fence, the gap below the cursor would look reclaimed and old seq 3 would return.
    expect(topic(merge([epoch1], [[A, 3]]), A).nextSeq).toBe(4);
  });

  it('a fence voids only the ignored runs of its segment, never the accepted run with the same seqs before them', () => {
    const copied = seg(1, 0, [
      [A, 0, 10],
      [A, 3, 4],
      [A, 8, 1],
    ]); // damage duplicated frames 3..6 and 8 later in the file
    const first = merge([copied]);
    expect(runsOf(first, A)).toEqual(['e1s0:0+10']);
    expect(first.fences).toEqual([{ segment: copied.id, topicId: A, offset: copied.runs[1]!.startOffset, seq: 3 }]);
    const again = merge([copied], [[A, 5]], [], first.fences);
    expect(runsOf(again, A)).toEqual(['e1s0:0+10']);
    expect(topic(again, A).nextSeq).toBe(10);
    expect(again.fences).toEqual(first.fences);
  });

  it('a fence a version-1 build recorded voids the same frames over the unsplit runs of §14.1', () => {
    // Version 1 split A's run 0..19 at offset 1064 (entries 10..19), and a recovery fenced seq 15 of
    // that sub-run and every later run: entries 15..19 here, and the run of A after damage.
    const file = seg(1, 0, [
      [A, 0, 20],
      [B, 0, 2],
      [A, 20, 3],
    ]);
    const inside: Fence = { segment: file.id, topicId: A, offset: 64 + 10 * 100, seq: 15 };
    const result = merge([file], [], [], [inside]);
    expect(runsOf(result, A)).toEqual(['e1s0:0+15']);
    expect(topic(result, A).nextSeq).toBe(15);
    expect(result.fences).toEqual([inside]);
    // The rule's three cases: a run ending at or before the offset is untouched; one starting after it is void.
    const atEnd: Fence = { segment: file.id, topicId: A, offset: file.runs[0]!.endOffset, seq: 0 };
    expect(runsOf(merge([file], [], [], [atEnd]), A)).toEqual(['e1s0:0+20']);
    // Points of a cut run never name entries it no longer holds.
    const points = topic(result, A).runs[0]!.points;
    for (let i = 1; i < points.length; i += 3) expect(points[i]!).toBeLessThan(15);
  });

  it('a fence is forgotten once the file it voids is gone, and kept while that file cannot be read', () => {
    const first = merge([
      seg(1, 0, [
        [A, 0, 1],
        [A, 2, 2],
      ]),
      seg(1, 1, [[B, 0, 1]]),
    ]);
    expect(fencesOf(first)).toEqual([`e1s0:${A}@2`]);
    expect(merge([seg(1, 1, [[B, 0, 1]]), seg(2, 0, [[A, 1, 1]])], [[A, 1]], [], first.fences).fences).toEqual([]);
    const unreadable = seg(1, 0, [], { unreadable: true, topicNames: [] });
    expect(fencesOf(merge([unreadable], [], [], first.fences))).toEqual([`e1s0:${A}@2`]);
  });

  it('a segment that restarts a topic below what was accepted cuts a run back in the middle', () => {
    const result = merge([seg(1, 0, [[A, 0, 10]]), seg(1, 1, [[A, 12, 3]]), seg(2, 0, [[A, 7, 2]])], [[A, 12]]);
    expect(topic(result, A).runs.map((r) => [r.segment.epoch, r.firstSeq, r.count])).toEqual([
      [1, 0, 7],
      [2, 7, 2],
    ]);
    expect(topic(result, A).nextSeq).toBe(9);
    expect(fencesOf(result)).toEqual([`e1s0:${A}@7`, `e1s1:${A}@12`]);
    expect(result.segments.map((s) => [s.id.epoch, s.id.segmentNo, s.topics])).toEqual([
      [1, 0, [[A, 6]]],
      [1, 1, []],
      [2, 0, [[A, 8]]],
    ]);
    // Epoch 2's segment reclaimed (cursor 9): the old 7..14 stay void.
    const later = merge([seg(1, 0, [[A, 0, 10]]), seg(1, 1, [[A, 12, 3]])], [[A, 9]], [], result.fences);
    expect(runsOf(later, A)).toEqual(['e1s0:0+7']);
    expect(topic(later, A).nextSeq).toBe(7);
  });

  it('reports damage from the scans, skips unreadable files, and does not index them', () => {
    const damage: DamageReport = {
      path: '/wal/00000001-0000-00000001.seg',
      offset: 0,
      reason: 'unreadable segment header: bad-magic',
    };
    const result = merge([
      seg(1, 0, [[A, 0, 2]]),
      seg(1, 1, [], { unreadable: true, damage: [damage], topicNames: [] }),
      seg(3, 0, []),
    ]);
    expect(result.skippedFiles).toEqual(['/wal/00000001-0000-00000001.seg']);
    expect(result.damage).toEqual([damage]);
    expect(result.segments.map((s) => s.path)).not.toContain(damage.path);
    expect(result.maxEpoch).toBe(3);
  });

  it('resolves name conflicts: the cursor file wins, one id per name, entries without a name are reported', () => {
    const named = seg(
      1,
      0,
      [
        [A, 0, 1],
        [B, 0, 1],
        [9, 0, 1],
      ],
      {
        topicNames: [
          [A, 'other-name'],
          [B, 'beta'],
          [5, 'alpha'],
        ],
      },
    );
    const result = merge([named], [], [[A, 'alpha']]);
    expect(result.topics.map((t) => [t.id, t.name])).toEqual([
      [A, 'alpha'],
      [B, 'beta'],
    ]);
    expect(result.damage.map((d) => d.topicId)).toEqual([A, 5, 9]);
    expect(result.maxTopicId).toBe(9);
  });
});

describe('recovery of real segment files', () => {
  let dir: string;
  /** What MANIFEST would hold: each recovery keeps the fences the previous one left. */
  let fences: Fence[];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-recover-'));
    fences = [];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const text = (s: string): Uint8Array => new TextEncoder().encode(s);

  function recoverDir(cursors: Array<[number, number]> = []): RecoveryResult {
    const scans = listSegments(nodeFileIo, dir).map((s) => scanSegment(nodeFileIo, s.path));
    const result = mergeScans(scans, { names: new Map(), startSeq: new Map(cursors), fences });
    fences = result.fences;
    return result;
  }

  /** Opens a writer for a new epoch over what recovery found, appends, and returns every readable entry. */
  function epoch(
    epochNo: number,
    recovered: RecoveredTopic[],
    appends: Array<[number, string]>,
    segmentBytes = 1 << 20,
  ): Map<number, string[]> {
    const p = new Partition(
      { dir, io: nodeFileIo, epoch: epochNo, writerIndex: 0, segmentBytes, blockBytes: 4096 },
      recovered,
    );
    p.defineTopic(A, 'alpha');
    p.defineTopic(B, 'beta');
    for (const [topicId, value] of appends) {
      const data = text(value);
      p.stageEntry(topicId, data, 0, data.byteLength, CODEC_RAW, 0);
      p.commit();
    }
    const seen = new Map<number, string[]>();
    for (const id of [A, B]) {
      const batch = p.read(id, 0, 1 << 30, 1 << 30);
      seen.set(
        id,
        batch.entries.map((e) => new TextDecoder().decode(batch.data.subarray(e.offset, e.offset + e.length))),
      );
    }
    p.close();
    return seen;
  }

  function corruptPayloadOf(topicId: number, seq: number): void {
    for (const s of listSegments(nodeFileIo, dir)) {
      const hit = readSegmentLayout(s.path).frames.find(
        (f) => f.kind === KIND_ENTRY && f.topicId === topicId && f.seq === seq,
      );
      if (hit !== undefined) return flipBit(s.path, hit.payloadOffset);
    }
    throw new Error('frame not found');
  }

  const old = (i: number): [number, string] => [A, `old-${i}`];

  it('across three epochs and two successive recoveries, with and without a cursor past the damage', () => {
    const first = Array.from({ length: 10 }, (_, i) => old(i));
    const interleaved = first.flatMap((a, i) => [a, [B, `b-${i}`] as [number, string]]);
    epoch(1, [], interleaved);
    corruptPayloadOf(A, 5);

    const r1 = recoverDir();
    expect(topic(r1, A)).toMatchObject({ nextSeq: 5, damaged: true });
    expect(topic(r1, B)).toMatchObject({ nextSeq: 10, damaged: false });
    const seen2 = epoch(2, r1.topics, [
      [A, 'new-5'],
      [A, 'new-6'],
      [A, 'new-7'],
    ]);
    expect(seen2.get(A)).toEqual(['old-0', 'old-1', 'old-2', 'old-3', 'old-4', 'new-5', 'new-6', 'new-7']);

    for (const cursor of [0, 5, 8]) {
      const r2 = recoverDir([[A, cursor]]);
      expect(topic(r2, A).nextSeq, `cursor ${cursor}`).toBe(8);
      expect(r2.damage.length).toBeGreaterThan(0);
    }
    const r2 = recoverDir([[A, 8]]);
    const seen3 = epoch(3, r2.topics, [
      [A, 'new-8'],
      [A, 'new-9'],
      [A, 'new-10'],
    ]);
    expect(seen3.get(A)!.slice(5)).toEqual(['new-5', 'new-6', 'new-7', 'new-8', 'new-9', 'new-10']);
    expect(seen3.get(B)).toHaveLength(10);

    for (const cursor of [0, 6, 9, 11]) {
      const r3 = recoverDir([[A, cursor]]);
      expect(topic(r3, A).nextSeq, `cursor ${cursor}`).toBe(11);
      const p = new Partition(
        { dir, io: nodeFileIo, epoch: 4, writerIndex: 0, segmentBytes: 1 << 20, blockBytes: 4096 },
        r3.topics,
      );
      const batch = p.read(A, 5, 1 << 30, 100);
      expect(
        batch.entries.map((e) => new TextDecoder().decode(batch.data.subarray(e.offset, e.offset + e.length))),
      ).toEqual(['new-5', 'new-6', 'new-7', 'new-8', 'new-9', 'new-10']);
      p.close();
    }
  });

  it('lets the segment that superseded ignored frames be reclaimed: the fence keeps those frames void', () => {
    epoch(1, [], [...Array.from({ length: 10 }, (_, i) => old(i)), [B, 'b-0']]);
    corruptPayloadOf(A, 5);
    const r1 = recoverDir();
    epoch(2, r1.topics, [
      [A, 'new-5'],
      [A, 'new-6'],
      [A, 'new-7'],
    ]);
    // The consumer of A has read everything (cursor 8); B still holds epoch 1's segment.
    const r2 = recoverDir([[A, 8]]);
    const cursors = new Map([
      [A, 8],
      [B, 0],
    ]);
    const deletable = retentionRound(r2.segments, DEFAULT_RETENTION, {
      isSealed: () => true,
      consumedBelow: (id) => cursors.get(id) ?? 0,
      totalBytes: 0,
    }).doomed;
    expect(deletable.map((s) => s.id.epoch)).toEqual([2]);
    fs.rmSync(deletable[0]!.path);
    const r3 = recoverDir([[A, 8]]);
    expect(topic(r3, A).nextSeq, 'old frames 6..9 stay void; the opener raises nextSeq to the cursor').toBe(5);
    // Only the scan's own report of the corrupt frame: the merge reports no break for A (the fence
    // voids 6..9, so nothing after the reclaimed gap looks out of sequence).
    expect(r3.damage.filter((d) => d.topicId === A).map((d) => [d.seq, d.reason])).toEqual([
      [5, 'payload checksum mismatch'],
    ]);
  });
});
