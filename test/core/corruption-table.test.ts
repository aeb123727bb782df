/**
 * A table of corruption functions (etcd `repair_test.go` style) applied to copies of one closed,
 * deterministic log. After each: reopen, every topic is exactly a prefix of what was written,
 * losses are reported, new appends continue at the end of the prefix, and after a SECOND reopen
 * the same prefix plus the new entries come back (old ignored frames never resurface).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES_V2, KIND_TOPIC_DEF } from '../../src/storage/frame.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import {
  SEGMENT_HEADER_FRAME_BYTES,
  appendBytes,
  findEntry,
  flipBit,
  forgeSegmentBytes,
  garbage,
  locateEntries,
  type FrameAt,
  overwrite,
  readSegmentLayout,
  segmentPaths,
  topicIdOf,
  truncateTo,
  zeroRange,
} from '../helpers/corrupt.js';
import { peekAll, seqs, texts } from '../helpers/log-store-reads.js';
import { TmpDirs, copyDir } from '../helpers/tmp-dir.js';

const BLOCK_BYTES = 4096;
const options = (dir: string): LogStoreOptions => ({
  dir,
  fsync: 'none',
  segmentBytes: 64 * 1024,
  blockBytes: BLOCK_BYTES,
});

const TOPICS = ['t0', 't1', 't2'] as const;
const EMPTY_ENTRY = { topic: 't0', seq: 10 };
const BIG_ENTRY = { topic: 't2', seq: 20, bytes: 9000 };
const BATCH = { topic: 't1', firstSeq: 30, entries: 4 };
/** The very last frame: a 96-byte payload (a multiple of 8, so every cut byte is payload, not padding). */
const LAST = { topic: 't0', bytes: 96 };

function textOfSize(topic: string, seq: number, sizeBytes: number): string {
  const head = `${topic}#${seq}:`;
  return (
    head + 'abcdefghijklmnopqrstuvwxyz'.repeat(Math.ceil(sizeBytes / 26)).slice(0, Math.max(0, sizeBytes - head.length))
  );
}

/** Writes the deterministic workload and returns, per topic, every entry in order. */
function writeWorkload(dir: string): Map<string, string[]> {
  const written = new Map<string, string[]>(TOPICS.map((t) => [t, []]));
  const store = LogStore.open(options(dir));
  const put = (topic: string, text: string) => {
    expect(store.append(topic, text)).toBe(written.get(topic)!.length);
    written.get(topic)!.push(text);
  };
  for (let i = 0; i < 90; i++) {
    TOPICS.forEach((topic, ti) => {
      const list = written.get(topic)!;
      if (topic === BATCH.topic && list.length === BATCH.firstSeq) {
        const batch = Array.from({ length: BATCH.entries }, (_, k) => textOfSize(topic, list.length + k, 200 + k));
        expect(store.batchAppend(topic, batch)).toEqual(batch.map((_, k) => list.length + k));
        list.push(...batch);
      } else if (topic === EMPTY_ENTRY.topic && list.length === EMPTY_ENTRY.seq) put(topic, '');
      else if (topic === BIG_ENTRY.topic && list.length === BIG_ENTRY.seq)
        put(topic, textOfSize(topic, list.length, BIG_ENTRY.bytes));
      else put(topic, textOfSize(topic, list.length, 40 + ((i * 131 + ti * 57) % 1400)));
    });
  }
  put(LAST.topic, textOfSize(LAST.topic, written.get(LAST.topic)!.length, LAST.bytes));
  store.close();
  return written;
}

interface Corruption {
  /** Damages the copy; may return a segment path that recovery must report as skipped. */
  corrupt: (dir: string) => string | void;
  /** The corruption destroys at least one entry (guards against a no-op corruption). */
  mustLose?: boolean;
  /** false when the cut leaves only whole frames: a shorter log then looks exactly like this one. */
  lossDetectable?: boolean;
}

describe('corruption table: every topic recovers to exactly a prefix of what was written', () => {
  const tmp = new TmpDirs();
  let baseDir = '';
  let written = new Map<string, string[]>();
  const lengthOf = (topic: string) => written.get(topic)!.length;
  /** A topic cut at `seq`, all other topics whole. */
  const cutAt = (topic: string, seq: number) =>
    Object.fromEntries(
      TOPICS.map((t) => [
        t,
        t === topic
          ? t === BATCH.topic && seq >= BATCH.firstSeq && seq < BATCH.firstSeq + BATCH.entries
            ? BATCH.firstSeq
            : seq
          : lengthOf(t),
      ]),
    );
  const whole = () => Object.fromEntries(TOPICS.map((t) => [t, lengthOf(t)]));

  const baseTmp = new TmpDirs();
  beforeAll(() => {
    baseDir = baseTmp.make('walrus-corruption-base');
    written = writeWorkload(baseDir);
    expect(segmentPaths(baseDir).length).toBeGreaterThanOrEqual(3);
  });
  afterAll(() => baseTmp.removeAll());
  afterEach(() => tmp.removeAll());

  /** `exact`: prefix lengths when the outcome is fully determined; otherwise any prefix passes. */
  function check(corruption: Corruption, exact: Record<string, number | undefined> = {}): void {
    const dir = copyDir(baseDir, tmp);
    const skipped = corruption.corrupt(dir);

    let store = LogStore.open(options(dir));
    // Counts first: they show what recovery decided even if reading the entries then fails.
    for (const topic of TOPICS)
      if (exact[topic] !== undefined) expect(store.count(topic), `${topic} count`).toBe(exact[topic]);
    const recovered = new Map<string, string[]>();
    let lost = false;
    for (const topic of TOPICS) {
      const got = texts(peekAll(store, topic));
      expect(got, `${topic} is a prefix`).toEqual(written.get(topic)!.slice(0, got.length));
      expect(store.count(topic)).toBe(got.length);
      lost ||= got.length < lengthOf(topic);
      recovered.set(topic, got);
    }
    if (corruption.mustLose) expect(lost, 'the corruption destroyed something').toBe(true);
    if (lost && corruption.lossDetectable !== false)
      expect(store.recovery.damage.length, 'losses are reported').toBeGreaterThan(0);
    if (skipped) expect(store.recovery.skippedFiles.map((p) => path.basename(p))).toContain(path.basename(skipped));

    for (const topic of TOPICS) {
      const next = recovered.get(topic)!.length;
      expect(store.append(topic, `${topic}-after-1`)).toBe(next);
      expect(store.batchAppend(topic, [`${topic}-after-2`, `${topic}-after-3`])).toEqual([next + 1, next + 2]);
      recovered.get(topic)!.push(`${topic}-after-1`, `${topic}-after-2`, `${topic}-after-3`);
      expect(texts(peekAll(store, topic))).toEqual(recovered.get(topic));
    }
    store.close();

    store = LogStore.open(options(dir));
    for (const topic of TOPICS) {
      const entries = peekAll(store, topic);
      expect(texts(entries), `${topic} after the second reopen`).toEqual(recovered.get(topic));
      expect(seqs(entries)).toEqual(recovered.get(topic)!.map((_, i) => i));
    }
    store.close();
  }

  describe('truncated tail (torn last write)', () => {
    for (let k = 1; k <= 64; k++) {
      it(`cut ${k} byte(s) off the last frame`, () => {
        check(
          {
            corrupt: (dir) => {
              const last = locateEntries(dir).at(-1)!;
              expect(last.topic).toBe(LAST.topic);
              expect(last.payloadBytes).toBe(LAST.bytes);
              truncateTo(last.path, last.endOffset - k);
            },
            mustLose: true,
          },
          cutAt(LAST.topic, lengthOf(LAST.topic) - 1),
        );
      });
    }
  });

  describe('one flipped bit', () => {
    const HEADER_OFFSETS = [0, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 20, 23, 24, 27, 28, 31];
    const targets = [
      { topic: 't0', seq: 3 },
      EMPTY_ENTRY,
      { topic: BIG_ENTRY.topic, seq: BIG_ENTRY.seq },
      { topic: BATCH.topic, seq: BATCH.firstSeq + 1 },
      { topic: BATCH.topic, seq: BATCH.firstSeq + BATCH.entries - 1 },
      { topic: 't1', seq: 60 },
      { topic: 't2', seq: 88 },
    ];
    for (const target of targets) {
      for (const at of HEADER_OFFSETS) {
        it(`${target.topic}#${target.seq}: header byte ${at}`, () => {
          check(
            { corrupt: (dir) => flipHit(dir, target, (hit) => hit.offset + at, at % 8) },
            cutAt(target.topic, target.seq),
          );
        });
      }
      for (const where of ['first', 'middle', 'last'] as const) {
        it(`${target.topic}#${target.seq}: ${where} payload byte`, () => {
          const hit = findEntry(baseDir, target.topic, target.seq);
          if (hit.payloadBytes === 0) return; // the empty entry has no payload byte to flip
          const rel =
            where === 'first' ? 0 : where === 'middle' ? Math.floor(hit.payloadBytes / 2) : hit.payloadBytes - 1;
          check(
            { corrupt: (copy) => flipHit(copy, target, (h) => h.offset + FRAME_HEADER_BYTES_V2 + rel, 7 - (rel % 8)) },
            cutAt(target.topic, target.seq),
          );
        });
      }
    }
    it('a TOPIC_DEF frame of a later segment (prefix only)', () => {
      check({
        corrupt: (dir) => {
          const layout = readSegmentLayout(segmentPaths(dir)[1]!);
          const def = layout.frames.find((f) => f.kind === KIND_TOPIC_DEF)!;
          flipBit(layout.path, def.offset + FRAME_HEADER_BYTES_V2, 1);
        },
      });
    });
  });

  describe('zeroed and overwritten regions', () => {
    /** Entry frames of one segment, so regions are placed relative to real frames, never in padding. */
    const framesOf = (dir: string, segmentIndex: number) =>
      locateEntries(dir).filter((e) => e.path === segmentPaths(dir)[segmentIndex] && e.payloadBytes >= 100);

    it('512 zeroed bytes in the middle of a middle segment (from inside a payload)', () => {
      check({
        corrupt: (dir) => {
          const frames = framesOf(dir, 1);
          const hit = frames[Math.floor(frames.length / 2)]!;
          zeroRange(hit.path, hit.offset + 40, 512);
        },
        mustLose: true,
      });
    });
    it('512 zeroed bytes across a block boundary', () => {
      check({
        corrupt: (dir) => {
          const hit = framesOf(dir, 0).find((e) => e.offset % BLOCK_BYTES === 0 && e.offset >= 2 * BLOCK_BYTES)!;
          zeroRange(hit.path, hit.offset - 256, 512);
        },
        mustLose: true,
      });
    });
    it('512 zeroed bytes at the start of a block', () => {
      check({
        corrupt: (dir) => {
          const hit = framesOf(dir, 1).find((e) => e.offset % BLOCK_BYTES === 0)!;
          zeroRange(hit.path, hit.offset, 512);
        },
        mustLose: true,
      });
    });
    it('512 bytes of garbage over frames of the first segment', () => {
      check({
        corrupt: (dir) => {
          const hit = findEntry(dir, 't1', 5);
          overwrite(hit.path, hit.offset + 16, garbage(512));
        },
        mustLose: true,
      });
    });
  });

  describe('extra bytes and foreign files', () => {
    for (const bytes of [1, 7, 100, 4096, 10_000]) {
      it(`${bytes} byte(s) of garbage appended to the last segment lose nothing`, () => {
        check({ corrupt: (dir) => appendBytes(segmentPaths(dir).at(-1)!, garbage(bytes, bytes)) }, whole());
      });
    }
    it('zeros appended to the last segment (a preallocated tail) lose nothing', () => {
      check({ corrupt: (dir) => appendBytes(segmentPaths(dir).at(-1)!, new Uint8Array(3 * BLOCK_BYTES)) }, whole());
    });

    const intruder = (dir: string, epoch: number) =>
      forgeSegmentBytes({
        epoch,
        blockBytes: BLOCK_BYTES,
        topicId: topicIdOf(dir, 't0'),
        topic: 't0',
        entries: [{ seq: lengthOf('t0'), data: new TextEncoder().encode('INTRUDER') }],
      });

    it('control: a valid segment with a proper name IS read (so the next cases test the name rule, not the content)', () => {
      const dir = copyDir(baseDir, tmp);
      fs.writeFileSync(path.join(dir, '00000009-0000-00000000.seg'), intruder(dir, 9));
      const store = LogStore.open(options(dir));
      expect(texts(peekAll(store, 't0')).at(-1)).toBe('INTRUDER');
      store.close();
    });

    it('stray files (*.seg.tmp, foreign names, upper-case hex, a directory named like a segment) are never read', () => {
      check(
        {
          corrupt: (dir) => {
            const forged = intruder(dir, 9);
            fs.writeFileSync(path.join(dir, '00000009-0000-00000000.seg.tmp'), forged);
            fs.writeFileSync(path.join(dir, 'intruder.seg'), forged);
            fs.writeFileSync(path.join(dir, '0000000A-0000-00000000.seg'), forged);
            fs.writeFileSync(path.join(dir, '00000009-0000-0000000.seg'), forged);
            fs.writeFileSync(path.join(dir, 'README.txt'), 'not a segment');
            fs.writeFileSync(path.join(dir, 'CURSORS.tmp'), garbage(77));
            fs.mkdirSync(path.join(dir, '00000009-0000-00000001.seg'));
          },
        },
        whole(),
      );
    });
  });

  describe('destroyed segment headers and truncated segments', () => {
    it('a zeroed segment header makes the file skipped and reported', () => {
      check({
        corrupt: (dir) => {
          const segment = segmentPaths(dir)[1]!;
          zeroRange(segment, 0, SEGMENT_HEADER_FRAME_BYTES);
          return segment;
        },
        mustLose: true,
      });
    });
    it('a garbage segment header on the first segment makes the file skipped and reported', () => {
      check({
        corrupt: (dir) => {
          const segment = segmentPaths(dir)[0]!;
          overwrite(segment, 0, garbage(SEGMENT_HEADER_FRAME_BYTES, 99));
          return segment;
        },
        mustLose: true,
      });
    });
    it('a flipped bit in the segment header payload makes the file skipped and reported', () => {
      check({
        corrupt: (dir) => {
          const segment = segmentPaths(dir).at(-1)!;
          flipBit(segment, FRAME_HEADER_BYTES_V2 + 8, 0);
          return segment;
        },
        mustLose: true,
      });
    });
    const cutLastSegment = (at: (frames: FrameAt[]) => number, lossDetectable: boolean): Corruption => ({
      corrupt: (dir) => {
        const segment = segmentPaths(dir).at(-1)!;
        truncateTo(segment, at(readSegmentLayout(segment).frames));
      },
      mustLose: true,
      lossDetectable,
    });
    it('the last segment truncated to 0 bytes (no header at all)', () => check(cutLastSegment(() => 0, true)));
    it('the last segment truncated inside its header', () => check(cutLastSegment(() => 20, true)));
    it('the last segment truncated inside its second frame', () =>
      check(cutLastSegment((f) => f[1]!.offset + 12, true)));
    // A cut at a frame boundary leaves a shorter but well-formed log: only the prefix rule applies.
    it('the last segment cut right after its header', () =>
      check(cutLastSegment(() => SEGMENT_HEADER_FRAME_BYTES, false)));
    it('the last segment cut right after its second frame', () => check(cutLastSegment((f) => f[1]!.endOffset, false)));
  });
});

function flipHit(
  dir: string,
  target: { topic: string; seq: number },
  offsetOf: (hit: { offset: number }) => number,
  bit: number,
): void {
  const hit = findEntry(dir, target.topic, target.seq);
  flipBit(hit.path, offsetOf(hit), bit);
}
