import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packControlFile, unpackControlMap } from '../../src/storage/disk-codec.js';
import { nodeFileIo } from '../../src/storage/file-io.js';
import { MANIFEST_FILE_NAME, readManifest, writeManifest, type Manifest } from '../../src/storage/manifest.js';
import { callLoggingIo } from '../helpers/call-log-io.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const sample: Manifest = {
  format: 'walrus-ts',
  version: 2,
  epoch: 7,
  createdAtMs: 1_700_000_000_000,
  openedAtMs: 1_700_000_123_456.5,
  fences: [],
};

describe('MANIFEST (FORMAT §7, version 2 §20.2)', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it('is absent in a new directory', () => {
    expect(readManifest(nodeFileIo, tmp.make())).toBeNull();
  });

  it('round-trips as a plain msgpack map with the documented fields', () => {
    const dir = tmp.make();
    writeManifest(nodeFileIo, dir, sample);
    expect(readManifest(nodeFileIo, dir)).toEqual(sample);
    const raw = unpackControlMap(fs.readFileSync(path.join(dir, MANIFEST_FILE_NAME)));
    expect(raw).toEqual({
      format: 'walrus-ts',
      version: 2,
      epoch: 7,
      createdAtMs: sample.createdAtMs,
      openedAtMs: sample.openedAtMs,
    });
    expect(fs.readdirSync(dir)).toEqual([MANIFEST_FILE_NAME]);
  });

  it('keeps fences as [segment file name, topic id, offset, seq] and omits the key when there is none', () => {
    const dir = tmp.make();
    const fenced: Manifest = {
      ...sample,
      fences: [{ segment: { epoch: 3, writerIndex: 1, segmentNo: 9 }, topicId: 4, offset: 4160, seq: 17 }],
    };
    writeManifest(nodeFileIo, dir, fenced);
    expect(readManifest(nodeFileIo, dir)).toEqual(fenced);
    const raw = unpackControlMap(fs.readFileSync(path.join(dir, MANIFEST_FILE_NAME)));
    expect(raw.fences).toEqual([['00000003-0001-00000009.seg', 4, 4160, 17]]);
  });

  it('keeps gaps as [topic id, first missing seq, first seq after] and omits them when there are none', () => {
    const dir = tmp.make();
    const gapped: Manifest = { ...sample, gaps: [{ topicId: 4, fromSeq: 17, toSeq: 20 }] };
    writeManifest(nodeFileIo, dir, gapped);
    expect(readManifest(nodeFileIo, dir)).toEqual(gapped);
    expect(unpackControlMap(fs.readFileSync(path.join(dir, MANIFEST_FILE_NAME))).gaps).toEqual([[4, 17, 20]]);
    writeManifest(nodeFileIo, dir, { ...sample, gaps: [] });
    expect(unpackControlMap(fs.readFileSync(path.join(dir, MANIFEST_FILE_NAME)))).not.toHaveProperty('gaps');
  });

  it('rejects a malformed gap list with ERR_CORRUPT (and one in a version-1 file)', () => {
    const dir = tmp.make();
    const file = path.join(dir, MANIFEST_FILE_NAME);
    const { fences: _none, ...fields } = sample;
    for (const gaps of [{}, 'all', [[4, 17]], [[0, 1, 2]], [[4, 20, 17]], [[4, 17, 17]], [[4, -1, 2]], [[4, 1.5, 2]]]) {
      fs.writeFileSync(file, packControlFile({ ...fields, gaps }));
      expectWalError(() => readManifest(nodeFileIo, dir), 'ERR_CORRUPT');
    }
    fs.writeFileSync(file, packControlFile({ ...fields, version: 1, gaps: [[4, 17, 20]] }));
    expectWalError(() => readManifest(nodeFileIo, dir), 'ERR_CORRUPT');
  });

  it('keeps the namespace key as a string field when there is one', () => {
    const dir = tmp.make();
    const keyed: Manifest = { ...sample, key: 'prod/payments::v1' };
    writeManifest(nodeFileIo, dir, keyed);
    expect(readManifest(nodeFileIo, dir)).toEqual(keyed);
    expect(unpackControlMap(fs.readFileSync(path.join(dir, MANIFEST_FILE_NAME))).key).toBe('prod/payments::v1');
  });

  it('writes version 2 with v1TimeMs when there is one, and reads version 1 (which has no such field)', () => {
    const dir = tmp.make();
    const upgraded: Manifest = { ...sample, v1TimeMs: 1_764_000_000_000 };
    writeManifest(nodeFileIo, dir, upgraded);
    expect(readManifest(nodeFileIo, dir)).toEqual(upgraded);
    expect(unpackControlMap(fs.readFileSync(path.join(dir, MANIFEST_FILE_NAME))).v1TimeMs).toBe(1_764_000_000_000);
    // A version-1 file as that build wrote it: read as it is, and written back as version 2.
    fs.writeFileSync(path.join(dir, MANIFEST_FILE_NAME), packControlFile({ ...sample, version: 1, fences: undefined }));
    const v1 = readManifest(nodeFileIo, dir)!;
    expect(v1).toEqual({ ...sample, version: 1 });
    writeManifest(nodeFileIo, dir, v1);
    expect(unpackControlMap(fs.readFileSync(path.join(dir, MANIFEST_FILE_NAME))).version).toBe(2);
  });

  it('rejects a malformed v1TimeMs with ERR_CORRUPT (and one in a version-1 file)', () => {
    const dir = tmp.make();
    const file = path.join(dir, MANIFEST_FILE_NAME);
    const { fences: _none, ...fields } = sample;
    for (const bad of [
      { v1TimeMs: -1 },
      { v1TimeMs: 1.5 },
      { v1TimeMs: 2 ** 53 },
      { v1TimeMs: 'then' },
      { version: 1, v1TimeMs: 5 },
    ]) {
      fs.writeFileSync(file, packControlFile({ ...fields, ...bad }));
      expectWalError(() => readManifest(nodeFileIo, dir), 'ERR_CORRUPT');
    }
  });

  it('rejects a malformed fence list with ERR_CORRUPT', () => {
    const dir = tmp.make();
    const file = path.join(dir, MANIFEST_FILE_NAME);
    const { fences: _none, ...fields } = sample;
    for (const fences of [
      {},
      [['x.seg', 1, 0, 2]],
      [['00000003-0001-00000009.seg', -1, 0, 2]],
      [['00000003-0001-00000009.seg', 1, 2]],
      [['00000003-0001-00000009.seg', 1, 0.5, 2]],
      [[1, 2, 3, 4]],
      'all',
    ]) {
      fs.writeFileSync(file, packControlFile({ ...fields, fences }));
      expectWalError(() => readManifest(nodeFileIo, dir), 'ERR_CORRUPT');
    }
  });

  it('is replaced through tmp + fsync + rename + directory fsync, every time (every fsync mode: rule 7)', () => {
    const dir = tmp.make();
    for (const epoch of [7, 8]) {
      const calls: string[] = [];
      writeManifest(callLoggingIo(calls), dir, { ...sample, epoch });
      expect(calls).toEqual(['fsync', 'rename MANIFEST.tmp MANIFEST', 'fsyncDir']);
    }
    expect(readManifest(nodeFileIo, dir)?.epoch).toBe(8);
  });

  it('rejects unreadable bytes with ERR_CORRUPT naming the file', () => {
    const dir = tmp.make();
    const file = path.join(dir, MANIFEST_FILE_NAME);
    const valid = packControlFile(sample);
    for (const bytes of [Buffer.from([0xc1]), valid.subarray(0, valid.length - 5), Buffer.from([0x2a])]) {
      fs.writeFileSync(file, bytes);
      const err = expectWalError(() => readManifest(nodeFileIo, dir), 'ERR_CORRUPT');
      expect(err.message).toContain(file);
      expect(err.details.path).toBe(file);
    }
  });

  it('rejects invalid field values with ERR_CORRUPT', () => {
    const dir = tmp.make();
    const file = path.join(dir, MANIFEST_FILE_NAME);
    for (const bad of [
      { epoch: -1 },
      { epoch: 1.5 },
      { epoch: 2 ** 32 },
      { epoch: 'one' },
      { createdAtMs: 'now' },
      { openedAtMs: undefined },
      { key: 7 },
      { key: null },
    ]) {
      fs.writeFileSync(file, packControlFile({ ...sample, ...bad }));
      expectWalError(() => readManifest(nodeFileIo, dir), 'ERR_CORRUPT');
    }
  });

  it('refuses another version or format with ERR_UNSUPPORTED_FORMAT naming the file', () => {
    const dir = tmp.make();
    const file = path.join(dir, MANIFEST_FILE_NAME);
    for (const other of [{ version: 3 }, { version: 0 }, { format: 'walrus-rust' }, { format: undefined }]) {
      fs.writeFileSync(file, packControlFile({ ...sample, ...other }));
      const err = expectWalError(() => readManifest(nodeFileIo, dir), 'ERR_UNSUPPORTED_FORMAT');
      expect(err.message).toContain(file);
    }
  });
});
