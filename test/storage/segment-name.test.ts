import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import {
  compareSegmentIds,
  listSegments,
  listSegmentSizes,
  parseSegmentFileName,
  segmentFileName,
} from '../../src/storage/segment-name.js';

describe('segment file names', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it('formats epoch-writer-segment as 8-4-8 lowercase hex', () => {
    expect(segmentFileName({ epoch: 1, writerIndex: 0, segmentNo: 0 })).toBe('00000001-0000-00000000.seg');
    expect(segmentFileName({ epoch: 0xffffffff, writerIndex: 0xabcd, segmentNo: 0x1234abcd })).toBe(
      'ffffffff-abcd-1234abcd.seg',
    );
  });

  it('round-trips every field, including the largest values', () => {
    for (const id of [
      { epoch: 0, writerIndex: 0, segmentNo: 0 },
      { epoch: 7, writerIndex: 3, segmentNo: 255 },
      { epoch: 0xffffffff, writerIndex: 0xffff, segmentNo: 0xffffffff },
    ]) {
      expect(parseSegmentFileName(segmentFileName(id))).toEqual(id);
    }
  });

  it('accepts only the exact pattern', () => {
    for (const name of [
      '00000001-0000-00000000.seg.tmp',
      '0000000A-0000-00000000.seg',
      '00000001-0000-0000000.seg',
      '00000001-00000-00000000.seg',
      'x00000001-0000-00000000.seg',
      '00000001-0000-00000000.SEG',
      'intruder.seg',
      '',
    ]) {
      expect(parseSegmentFileName(name), name).toBeNull();
    }
  });

  it('orders by epoch, then writer, then segment number', () => {
    const ids = [
      { epoch: 2, writerIndex: 0, segmentNo: 0 },
      { epoch: 1, writerIndex: 1, segmentNo: 0 },
      { epoch: 1, writerIndex: 0, segmentNo: 10 },
      { epoch: 1, writerIndex: 0, segmentNo: 2 },
    ];
    expect([...ids].sort(compareSegmentIds)).toEqual([ids[3], ids[2], ids[1], ids[0]]);
  });

  it('lists only segment files, sorted, ignoring foreign files and directories', () => {
    const dir = tmp.make('walrus-names');
    for (const name of [
      '00000002-0000-00000000.seg',
      '00000001-0001-00000000.seg',
      '00000001-0000-00000010.seg',
      '00000001-0000-00000002.seg',
    ]) {
      fs.writeFileSync(path.join(dir, name), '');
    }
    fs.writeFileSync(path.join(dir, '00000003-0000-00000000.seg.tmp'), '');
    fs.writeFileSync(path.join(dir, 'CURSORS'), '');
    fs.mkdirSync(path.join(dir, '00000009-0000-00000000.seg'));
    expect(listSegments(nodeFileIo, dir).map((s) => path.basename(s.path))).toEqual([
      '00000001-0000-00000002.seg',
      '00000001-0000-00000010.seg',
      '00000001-0001-00000000.seg',
      '00000002-0000-00000000.seg',
    ]);
  });

  it('sizes the listed files, leaving out one deleted in between (reclaimed by a live WAL), and throws any other error', () => {
    const dir = tmp.make('walrus-names');
    const [gone, kept] = ['00000001-0000-00000000.seg', '00000001-0000-00000001.seg'].map((name) =>
      path.join(dir, name),
    );
    fs.writeFileSync(gone!, 'x'.repeat(10));
    fs.writeFileSync(kept!, 'y'.repeat(25));
    const reclaimingIo: FileIo = {
      ...nodeFileIo,
      open(filePath, mode) {
        if (filePath === gone) fs.rmSync(gone);
        return nodeFileIo.open(filePath, mode);
      },
    };
    expect(listSegmentSizes(reclaimingIo, dir).map((s) => [path.basename(s.path), s.sizeBytes])).toEqual([
      ['00000001-0000-00000001.seg', 25],
    ]);

    const failingIo: FileIo = {
      ...nodeFileIo,
      open() {
        throw Object.assign(new Error('EIO: i/o error, open'), { code: 'EIO', syscall: 'open' });
      },
    };
    expect(() => listSegmentSizes(failingIo, dir)).toThrow(/EIO/);
  });
});
