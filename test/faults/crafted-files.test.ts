/**
 * Crafted files in a namespace directory (docs/SEMANTICS.md rules H1–H7; docs/FORMAT.md §1–§4,
 * §10): any length field, any count, any id and any file name read from disk ends as reported
 * damage or a typed error — never an endless loop, an unbounded allocation, a wrapped id or a file
 * name of the wrong shape. Through the built engine (dist/: `npm run build` first).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WalError, Walrus } from '../../dist/src/index.js';
import { packControlFile } from '../../dist/src/storage/disk-codec.js';
import {
  KIND_ENTRY,
  decodeFrameHeaderIn,
  decodeSegmentHeader,
  frameBytes,
  frameHeaderBytes,
  segmentHeaderFrameBytes,
  sealFrameHeaderV2,
} from '../../dist/src/storage/frame.js';
import { nextFrameOffset, nextBlockBoundary } from '../../dist/src/storage/block-layout.js';
import { SMALL, openWal, tempDir } from '../helpers/wal.js';

const SEGMENT_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{8}\.seg$/;
const BLOCK_BYTES = SMALL.blockBytes!;

interface FrameAt {
  offset: number;
  topicId: number;
  seq: number;
  kind: number;
}

function segmentsOf(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => SEGMENT_NAME.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** The salt of a version-2 segment the engine wrote (docs/FORMAT.md §13.1.1). */
function saltOf(file: string): number {
  const info = decodeSegmentHeader(fs.readFileSync(file), fs.statSync(file).size);
  if ('problem' in info || info.formatVersion !== 2) throw new Error(`${file}: not a version-2 segment`);
  return info.salt;
}

/** The frames of an intact version-2 segment, per the block rules. */
function framesOf(file: string): FrameAt[] {
  const data = fs.readFileSync(file);
  const frames: FrameAt[] = [];
  const layout = { version: 2, salt: saltOf(file) };
  const headerBytes = frameHeaderBytes(2);
  frames.push({ offset: 0, topicId: 0, seq: 0, kind: 1 });
  let offset = segmentHeaderFrameBytes(2);
  while (offset + headerBytes <= data.byteLength) {
    const header = decodeFrameHeaderIn(layout, data, offset, offset);
    if (header === 'zero') {
      offset = nextBlockBoundary(offset, BLOCK_BYTES);
      continue;
    }
    if (typeof header === 'string') throw new Error(`${header} at ${offset}`);
    frames.push({ offset, topicId: header.topicId, seq: header.seq, kind: header.kind });
    offset = nextFrameOffset(offset, frameBytes(header.payloadBytes, headerBytes), BLOCK_BYTES);
  }
  return frames;
}

/** Sets a frame's payload length and re-seals its header checksum: a valid header that lies. */
function craftLength(file: string, offset: number, payloadBytes: number): void {
  const salt = saltOf(file);
  const fd = fs.openSync(file, 'r+');
  try {
    const header = Buffer.alloc(40);
    fs.readSync(fd, header, 0, 40, offset);
    header.writeUInt32LE(payloadBytes, 8);
    sealFrameHeaderV2(header, 0, salt, offset);
    fs.writeSync(fd, header, 0, 40, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** One writer, two interleaved topics, a few blocks; returns the directory, closed. */
async function writeLog(): Promise<string> {
  const dir = tempDir('walrus-crafted-');
  const wal = await openWal({ ...SMALL, dir, writers: 1, fsync: 'none' });
  for (let i = 0; i < 60; i++) {
    await wal.append('a', `a-${i}-${'x'.repeat(100)}`);
    await wal.append('b', `b-${i}-${'y'.repeat(100)}`);
  }
  await wal.close();
  return dir;
}

async function rejection(promise: Promise<unknown>): Promise<WalError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WalError);
  return err as WalError;
}

describe('a length read from disk is range-checked: a crafted frame length is damage, not a failed open (docs/SEMANTICS.md rules H1–H7)', () => {
  it.each([2 ** 31 - 7, 2 ** 32 - 7])(
    'payload length %i mid-segment: open, reads and verify() work',
    async (length) => {
      const dir = await writeLog();
      const segment = segmentsOf(dir)[0]!;
      // A frame of 'a' in the middle of block 0: 'b' frames after it in the block are found again.
      const victim = framesOf(segment).filter(
        (f) => f.kind === KIND_ENTRY && f.topicId === 1 && f.offset < BLOCK_BYTES,
      )[10]!;
      craftLength(segment, victim.offset, length);

      const wal = await openWal({ ...SMALL, dir, writers: 1, fsync: 'none', maxBatchEntries: 1000 });
      const damage = (await wal.stats()).recovery.damage;
      expect(damage).toContainEqual(
        expect.objectContaining({
          path: segment,
          offset: victim.offset,
          reason: 'invalid frame header (oversized-payload)',
        }),
      );
      const a = await wal.batchRead('a', { maxBytes: Infinity, checkpoint: false });
      expect(a.map((e) => e.text())).toEqual(Array.from({ length: victim.seq }, (_, i) => `a-${i}-${'x'.repeat(100)}`));
      const b = await wal.batchRead('b', { maxBytes: Infinity, checkpoint: false });
      expect(b.map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i));
      const report = await wal.verify();
      expect(report.ok).toBe(false);
      expect(report.damage).toContainEqual(expect.objectContaining({ path: segment, offset: victim.offset }));
    },
  );
});

describe('README bad input row 14 (issue 12 defect 14), fixed by format v2: a frame whose length runs past the end mid-segment', () => {
  it('is damage, and the scan goes on: the later frames of every topic in the file are kept (docs/FORMAT.md §13.2)', async () => {
    const dir = await writeLog();
    const segment = segmentsOf(dir)[0]!;
    const victim = framesOf(segment).filter(
      (f) => f.kind === KIND_ENTRY && f.topicId === 1 && f.offset < BLOCK_BYTES,
    )[10]!;
    // Within 1 GiB, so the header is valid (salted, at its offset): a genuine header whose frame is torn.
    craftLength(segment, victim.offset, 1 << 28);

    const wal = await openWal({ ...SMALL, dir, writers: 1, fsync: 'none', maxBatchEntries: 1000 });
    const damage = (await wal.stats()).recovery.damage;
    expect(damage).toContainEqual(
      expect.objectContaining({ path: segment, offset: victim.offset, reason: expect.stringMatching(/torn tail/) }),
    );
    const a = await wal.batchRead('a', { maxBytes: Infinity, checkpoint: false });
    expect(a.map((e) => e.seq)).toEqual(Array.from({ length: victim.seq }, (_, i) => i));
    // Version 1 ended the file's scan here and lost every later 'b' entry in it; version 2 keeps them all.
    const b = await wal.batchRead('b', { maxBytes: Infinity, checkpoint: false });
    expect(b.map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });
});

describe('an epoch read from a file name is range-checked: no new epoch past the last u32 (FORMAT §2)', () => {
  it('a stray ffffffff-… segment makes open fail with ERR_CORRUPT naming it, and writes nothing', async () => {
    const dir = await writeLog();
    const stray = path.join(dir, 'ffffffff-0000-00000000.seg');
    fs.writeFileSync(stray, 'not a segment');
    const before = fs.readdirSync(dir).sort();
    const err = await rejection(Walrus.open({ ...SMALL, dir, fsync: 'none' }));
    expect(err.code).toBe('ERR_CORRUPT');
    expect(err.details.path).toBe(stray);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    // Once the file is moved away, the log opens again, whole.
    fs.rmSync(stray);
    const wal = await openWal({ ...SMALL, dir, fsync: 'none' });
    expect(await wal.count('a')).toBe(60);
  });

  it('a MANIFEST at epoch ffffffff is refused the same way', async () => {
    const dir = tempDir('walrus-crafted-');
    const nowMs = Date.now();
    fs.writeFileSync(
      path.join(dir, 'MANIFEST'),
      packControlFile({ format: 'walrus-ts', version: 1, epoch: 0xffff_ffff, createdAtMs: nowMs, openedAtMs: nowMs }),
    );
    const err = await rejection(Walrus.open({ ...SMALL, dir, fsync: 'none' }));
    expect(err.code).toBe('ERR_CORRUPT');
    expect(err.details.path).toBe(path.join(dir, 'MANIFEST'));
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.seg'))).toEqual([]);
  });
});

describe('a topic id is never wrapped: after the last u32 id, a new topic is ERR_TOO_LARGE (FORMAT §10)', () => {
  it('a CURSORS row with id 0xffffffff: new topics are refused, that topic works, nothing is written as id 0', async () => {
    const dir = tempDir('walrus-crafted-');
    fs.writeFileSync(
      path.join(dir, 'CURSORS'),
      packControlFile({ format: 'walrus-ts/cursors', version: 1, generation: 0, topics: [['last', 0xffff_ffff, 0]] }),
    );
    const wal = await openWal({ ...SMALL, dir, writers: 1, fsync: 'none' });
    for (let i = 0; i < 2; i++) {
      const err = await rejection(wal.append('another', 'x'));
      expect(err.code).toBe('ERR_TOO_LARGE');
      expect(err.details).toMatchObject({ limit: 0xffff_ffff, topic: 'another' });
    }
    await wal.append('last', 'kept');
    await wal.close();
    for (const segment of segmentsOf(dir)) {
      for (const frame of framesOf(segment)) if (frame.kind !== 1) expect(frame.topicId).toBe(0xffff_ffff);
    }
    const again = await openWal({ ...SMALL, dir, writers: 1, fsync: 'none' });
    expect((await again.stats()).recovery.damage).toEqual([]);
    expect(await again.topics()).toEqual(['last']);
    expect((await again.batchRead('last', { maxBytes: Infinity, checkpoint: false })).map((e) => e.text())).toEqual([
      'kept',
    ]);
  });
});
