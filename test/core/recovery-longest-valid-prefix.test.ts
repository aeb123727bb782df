import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES_V2, crc32Of } from '../../src/storage/frame.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import {
  SEGMENT_HEADER_FRAME_BYTES,
  fileBytes,
  findEntry,
  flipBit,
  locateEntries,
  overwrite,
  patchFrameHeader,
  readBytes,
  segmentPaths,
  topicIdOf,
  truncateTo,
} from '../helpers/corrupt.js';
import { drain, peekAll, seqs, texts } from '../helpers/log-store-reads.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const options = (dir: string): LogStoreOptions => ({ dir, fsync: 'none', segmentBytes: 64 * 1024, blockBytes: 4096 });

const victimText = (i: number) => `victim-${i}-${'v'.repeat(900)}`;
const otherText = (i: number) => `other-${i}-${'o'.repeat(700)}`;

/** Two interleaved topics over several segments (about 5 with 64 KiB segments). */
function writeTwoTopics(dir: string, perTopic = 150): void {
  const store = LogStore.open(options(dir));
  for (let i = 0; i < perTopic; i++) {
    store.append('victim', victimText(i));
    store.append('other', otherText(i));
  }
  store.close();
}

function expectDamageAt(store: LogStore, segmentPath: string, offset: number): void {
  const hit = store.recovery.damage.find(
    (d) => path.basename(d.path) === path.basename(segmentPath) && d.offset === offset,
  );
  expect(hit, JSON.stringify(store.recovery.damage)).toBeDefined();
}

describe('rule 8 (docs/SEMANTICS.md): recovery restores each topic to its longest valid prefix', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it('a payload bit flip ends that topic at the damaged entry (also in later segments); other topics are whole', () => {
    const dir = tmp.make();
    writeTwoTopics(dir);
    expect(segmentPaths(dir).length).toBeGreaterThan(2);
    const hit = findEntry(dir, 'victim', 20);
    const victimId = topicIdOf(dir, 'victim');
    flipBit(hit.path, hit.offset + FRAME_HEADER_BYTES_V2 + 5, 3);

    const store = LogStore.open(options(dir));
    expect(texts(peekAll(store, 'victim'))).toEqual(Array.from({ length: 20 }, (_, i) => victimText(i)));
    expect(texts(peekAll(store, 'other'))).toEqual(Array.from({ length: 150 }, (_, i) => otherText(i)));
    expectDamageAt(store, hit.path, hit.offset);
    const attributed = store.recovery.damage.find((d) => d.offset === hit.offset);
    expect(attributed?.topicId).toBe(victimId);
    expect(store.count('victim')).toBe(20);
    store.close();
  });

  it('continues a damaged topic at the end of its prefix, and the old tail never resurfaces', () => {
    const dir = tmp.make();
    writeTwoTopics(dir);
    const hit = findEntry(dir, 'victim', 40);
    flipBit(hit.path, hit.offset + 9, 0); // payloadBytes field: the header checksum fails

    let store = LogStore.open(options(dir));
    expect(store.append('victim', 'after-1')).toBe(40);
    expect(store.batchAppend('victim', ['after-2', 'after-3'])).toEqual([41, 42]);
    store.close();
    const expected = [...Array.from({ length: 40 }, (_, i) => victimText(i)), 'after-1', 'after-2', 'after-3'];
    for (let reopen = 0; reopen < 2; reopen++) {
      store = LogStore.open(options(dir));
      expect(texts(peekAll(store, 'victim'))).toEqual(expected);
      expect(seqs(peekAll(store, 'victim'))).toEqual(expected.map((_, i) => i));
      expect(peekAll(store, 'other')).toHaveLength(150);
      store.close();
    }
  });

  it('a torn tail (last frame cut short) loses only that frame, and is reported', () => {
    const dir = tmp.make();
    writeTwoTopics(dir, 30);
    const last = locateEntries(dir).at(-1)!;
    expect(last.topic).toBe('other');
    truncateTo(last.path, last.offset + FRAME_HEADER_BYTES_V2 + 100);

    const store = LogStore.open(options(dir));
    expect(peekAll(store, 'victim')).toHaveLength(30);
    expect(texts(peekAll(store, 'other'))).toEqual(Array.from({ length: 29 }, (_, i) => otherText(i)));
    expectDamageAt(store, last.path, last.offset);
    store.close();
  });

  it('a batch whose BATCH_END frame is missing is invisible as a whole', () => {
    const dir = tmp.make();
    let store = LogStore.open(options(dir));
    store.append('t', 'single-0');
    store.batchAppend('t', ['batch-a', 'batch-b', 'batch-c', 'batch-d']);
    store.close();
    const end = findEntry(dir, 't', 4);
    truncateTo(end.path, end.offset + 3);

    store = LogStore.open(options(dir));
    expect(texts(peekAll(store, 't'))).toEqual(['single-0']);
    expect(store.append('t', 'single-1')).toBe(1);
    store.close();
    store = LogStore.open(options(dir));
    expect(texts(peekAll(store, 't'))).toEqual(['single-0', 'single-1']);
    store.close();
  });

  it('a damaged entry inside a batch hides the whole batch, even when the BATCH_END frame is intact', () => {
    const dir = tmp.make();
    let store = LogStore.open(options(dir));
    store.append('t', 'single-0');
    store.batchAppend('t', ['batch-a', 'x'.repeat(6000), 'batch-c']);
    store.append('t', 'single-after');
    store.close();
    const middle = findEntry(dir, 't', 2);
    flipBit(middle.path, middle.offset + FRAME_HEADER_BYTES_V2 + 4000, 6);

    store = LogStore.open(options(dir));
    expect(texts(peekAll(store, 't'))).toEqual(['single-0']);
    expect(store.recovery.damage.length).toBeGreaterThan(0);
    store.close();
  });

  it('a frame with a damaged header does not hide the frames of other topics after it in the same block', () => {
    const dir = tmp.make();
    let store = LogStore.open(options(dir));
    for (let i = 0; i < 12; i++) {
      store.append('x', `x${i}`);
      store.append('y', `y${i}`);
    }
    store.close();
    const hit = findEntry(dir, 'x', 3);
    expect(locateEntries(dir).filter((e) => e.offset > hit.offset && e.offset < 4096).length).toBeGreaterThan(10);
    flipBit(hit.path, hit.offset + 17, 2); // seq field

    store = LogStore.open(options(dir));
    expect(texts(peekAll(store, 'x'))).toEqual(['x0', 'x1', 'x2']);
    expect(texts(peekAll(store, 'y'))).toEqual(Array.from({ length: 12 }, (_, i) => `y${i}`));
    expectDamageAt(store, hit.path, hit.offset);
    store.close();
  });

  it('keeps a cursor that points past the recovered end (consumed entries lost to a torn tail) and never reuses their seqs', () => {
    const dir = tmp.make();
    writeTwoTopics(dir, 40);
    let store = LogStore.open(options(dir));
    expect(drain(store, 'other')).toHaveLength(40);
    store.close();
    const last = findEntry(dir, 'other', 39);
    truncateTo(last.path, last.offset + FRAME_HEADER_BYTES_V2 + 10);

    store = LogStore.open(options(dir));
    expect(store.count('other')).toBe(0);
    expect(store.readNext('other')).toBeNull();
    // seq 39 was consumed (delivered) before its bytes were lost: it is never handed out again
    expect(store.append('other', 'fresh')).toBe(40);
    expect(texts([store.readNext('other')!])).toEqual(['fresh']);
    store.close();
    store = LogStore.open(options(dir));
    expect(store.readNext('other')).toBeNull();
    expect(store.append('other', 'again')).toBe(41);
    store.close();
  });

  it('damage at or after the cursor ends the unread part there', () => {
    const dir = tmp.make();
    writeTwoTopics(dir, 40);
    let store = LogStore.open(options(dir));
    for (let i = 0; i < 30; i++) store.readNext('victim');
    store.close();
    const hit = findEntry(dir, 'victim', 35);
    flipBit(hit.path, hit.offset + FRAME_HEADER_BYTES_V2, 0);

    store = LogStore.open(options(dir));
    expect(store.count('victim')).toBe(5);
    expect(seqs(drain(store, 'victim'))).toEqual([30, 31, 32, 33, 34]);
    expect(store.append('victim', 'fresh')).toBe(35);
    expectDamageAt(store, hit.path, hit.offset);
    store.close();
  });

  // FORMAT §5 read literally would clamp the cursor to the damaged entry; the implementation
  // (recover.ts) treats a gap below the durable cursor as consumed, which reclaiming a middle
  // segment (§9) also produces, so it cannot tell the two apart. Consumed data is never needed.
  it('damage only among entries the cursor already passed is reported and costs no unread entry', () => {
    const dir = tmp.make();
    writeTwoTopics(dir, 40);
    let store = LogStore.open(options(dir));
    for (let i = 0; i < 30; i++) store.readNext('victim');
    store.close();
    const hit = findEntry(dir, 'victim', 10);
    flipBit(hit.path, hit.offset + FRAME_HEADER_BYTES_V2, 0);

    store = LogStore.open(options(dir));
    expectDamageAt(store, hit.path, hit.offset);
    expect(store.count('victim')).toBe(10);
    expect(seqs(drain(store, 'victim'))).toEqual([30, 31, 32, 33, 34, 35, 36, 37, 38, 39]);
    expect(store.append('victim', 'fresh')).toBe(40);
    store.close();
  });

  it('refuses a frame of an unknown version with ERR_UNSUPPORTED_FORMAT naming the file', () => {
    const dir = tmp.make();
    writeTwoTopics(dir, 5);
    const hit = findEntry(dir, 'other', 2);
    patchFrameHeader(hit.path, hit.offset, (header) => {
      header[4] = 3;
    });
    expectUnsupported(dir, hit.path);
  });

  it('refuses a segment header of an unknown format version with ERR_UNSUPPORTED_FORMAT naming the file', () => {
    const dir = tmp.make();
    writeTwoTopics(dir, 5);
    const segment = segmentPaths(dir)[0]!;
    const payload = readBytes(segment, FRAME_HEADER_BYTES_V2, SEGMENT_HEADER_FRAME_BYTES - FRAME_HEADER_BYTES_V2);
    payload.writeUInt32LE(3, 0);
    overwrite(segment, FRAME_HEADER_BYTES_V2, payload);
    // The version-2 header's payloadCrc is at byte 32 (docs/FORMAT.md §13.1).
    patchFrameHeader(segment, 0, (header) => header.writeUInt32LE(crc32Of(payload), 32));
    expect(fileBytes(segment)).toBeGreaterThan(SEGMENT_HEADER_FRAME_BYTES);
    expectUnsupported(dir, segment);
  });
});

function expectUnsupported(dir: string, culprit: string): void {
  const err = expectWalError(() => LogStore.open(options(dir)).close(), 'ERR_UNSUPPORTED_FORMAT');
  expect(path.basename(err.details.path ?? '')).toBe(path.basename(culprit));
  expect(err.message).toContain(path.basename(culprit));
}
