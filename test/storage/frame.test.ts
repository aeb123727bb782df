import { describe, expect, it } from 'vitest';
import {
  sealFrameHeaderV2,
  DEFAULT_INDEX_INTERVAL_BYTES,
  FLAG_BATCH,
  FRAME_HEADER_BYTES_V1,
  FRAME_HEADER_BYTES_V2,
  KIND_ENTRY,
  KIND_SEGMENT_HEADER,
  KIND_TOPIC_DEF,
  MAX_TIME_MS,
  SEGMENT_HEADER_PAYLOAD_BYTES_V2,
  crc32Of,
  decodeFrameHeader,
  decodeFrameHeaderIn,
  decodeFrameHeaderV2,
  decodeSegmentHeader,
  encodeFrame,
  encodeFrameHeader,
  encodeFrameHeaderV2,
  encodeFrameV2,
  encodeSegmentHeaderPayload,
  entryCodecAt,
  entryTimeMsAt,
  followingEntryPayloadBytes,
  frameBytes,
  otherTopicFrameBytes,
  segmentHeaderFrameBytes,
  type SegmentHeaderInfo,
} from '../../src/storage/frame.js';

const SALT = 0x9e3779b9;

function headerV2(fields: { seq?: number; timeMs?: number; salt?: number; offset?: number; kind?: number } = {}) {
  const buf = new Uint8Array(FRAME_HEADER_BYTES_V2);
  encodeFrameHeaderV2(
    buf,
    0,
    fields.kind ?? KIND_ENTRY,
    FLAG_BATCH,
    12,
    7,
    fields.seq ?? 2 ** 40 + 3,
    fields.timeMs ?? 1_764_000_000_123,
    0xdeadbeef,
    fields.salt ?? SALT,
    fields.offset ?? 4096 * 3 + 80,
  );
  return buf;
}

function segmentHeaderFile(info: Partial<SegmentHeaderInfo> & { formatVersion: number }): Uint8Array {
  const payload = encodeSegmentHeaderPayload({
    blockBytes: 4096,
    epoch: 3,
    writerIndex: 1,
    segmentNo: 9,
    createdAtMs: 1_764_000_000_000,
    salt: SALT,
    indexIntervalBytes: DEFAULT_INDEX_INTERVAL_BYTES,
    ...info,
  });
  return info.formatVersion === 1
    ? encodeFrame(KIND_SEGMENT_HEADER, 0, 0, 0, payload)
    : encodeFrameV2(KIND_SEGMENT_HEADER, 0, 0, 0, 0, payload, 0, 0);
}

describe('version-2 frame header (FORMAT §13.1)', () => {
  it('round-trips every field, the time included, up to 2^53 - 1', () => {
    for (const timeMs of [0, 1, 2 ** 32 - 1, 2 ** 32, 1_764_000_000_123, MAX_TIME_MS]) {
      const buf = headerV2({ timeMs });
      expect(decodeFrameHeaderV2(buf, 0, SALT, 4096 * 3 + 80)).toEqual({
        kind: KIND_ENTRY,
        flags: FLAG_BATCH,
        payloadBytes: 12,
        topicId: 7,
        seq: 2 ** 40 + 3,
        timeMs,
        payloadCrc: 0xdeadbeef,
      });
    }
  });

  it('fails its checksum when checked at another offset or with another salt', () => {
    const buf = headerV2({ offset: 8000 });
    expect(typeof decodeFrameHeaderV2(buf, 0, SALT, 8000)).toBe('object');
    expect(decodeFrameHeaderV2(buf, 0, SALT, 8008)).toBe('bad-header-crc');
    expect(decodeFrameHeaderV2(buf, 0, SALT, 8000 + 2 ** 32)).toBe('bad-header-crc');
    expect(decodeFrameHeaderV2(buf, 0, SALT ^ 1, 8000)).toBe('bad-header-crc');
    expect(decodeFrameHeaderV2(buf, 0, 0, 8000)).toBe('bad-header-crc');
  });

  it('is decoded at any index of a buffer, the offset being the file position', () => {
    const buf = new Uint8Array(100);
    buf.set(headerV2({ offset: 123_456 }), 24);
    const header = decodeFrameHeaderIn({ version: 2, salt: SALT }, buf, 24, 123_456);
    expect(typeof header === 'object' && header.seq).toBe(2 ** 40 + 3);
  });

  it('range-checks the time, and a flipped bit anywhere in the header is caught', () => {
    const buf = headerV2({ timeMs: MAX_TIME_MS + 1 });
    expect(decodeFrameHeaderV2(buf, 0, SALT, 4096 * 3 + 80)).toBe('out-of-range-time');
    const good = headerV2();
    for (let bit = 0; bit < FRAME_HEADER_BYTES_V2 * 8; bit++) {
      const copy = good.slice();
      copy[bit >>> 3] ^= 1 << (bit & 7);
      expect(typeof decodeFrameHeaderV2(copy, 0, SALT, 4096 * 3 + 80), `bit ${bit}`).toBe('string');
    }
  });

  it('keeps the range checks of version 1 (topic id 0, seq 2^53 - 1)', () => {
    const buf = new Uint8Array(FRAME_HEADER_BYTES_V2);
    encodeFrameHeaderV2(buf, 0, KIND_TOPIC_DEF, 0, 3, 0, 0, 0, 0, SALT, 80);
    expect(decodeFrameHeaderV2(buf, 0, SALT, 80)).toBe('reserved-topic-id');
    expect(decodeFrameHeaderV2(headerV2({ seq: 2 ** 53 - 1 }), 0, SALT, 4096 * 3 + 80)).toBe('out-of-range-seq');
  });

  it('tells a version-1 frame (damage in a version-2 file) from a newer version (refused)', () => {
    const buf = headerV2({ offset: 80 });
    buf[4] = 1;
    buf.set(u32(crc32Of(buf, 0, 36, seedOf(SALT, 80))), 36);
    expect(decodeFrameHeaderV2(buf, 0, SALT, 80)).toBe('wrong-version');
    buf[4] = 3;
    buf.set(u32(crc32Of(buf, 0, 36, seedOf(SALT, 80))), 36);
    expect(decodeFrameHeaderV2(buf, 0, SALT, 80)).toBe('unsupported-version');
  });

  it('costs 8 more bytes per frame than version 1', () => {
    expect(frameBytes(0, FRAME_HEADER_BYTES_V2)).toBe(40);
    expect(frameBytes(9, FRAME_HEADER_BYTES_V2)).toBe(56);
    expect(frameBytes(1024, FRAME_HEADER_BYTES_V2) - frameBytes(1024, FRAME_HEADER_BYTES_V1)).toBe(8);
    expect(segmentHeaderFrameBytes(2)).toBe(80);
    expect(segmentHeaderFrameBytes(1)).toBe(64);
  });
});

describe("stepping over another topic's frame without checking it (docs/DURABILITY.md, what is verified when)", () => {
  it("gives the frame's bytes for another topic's entry, in either layout", () => {
    // headerV2: an entry of topic 7 with a 12-byte payload.
    expect(otherTopicFrameBytes(headerV2(), 0, 8, FRAME_HEADER_BYTES_V2)).toBe(frameBytes(12, FRAME_HEADER_BYTES_V2));
    const v1 = new Uint8Array(FRAME_HEADER_BYTES_V1);
    encodeFrameHeader(v1, 0, KIND_ENTRY, 0, 20, 7, 5, 0);
    expect(otherTopicFrameBytes(v1, 0, 8, FRAME_HEADER_BYTES_V1)).toBe(frameBytes(20, FRAME_HEADER_BYTES_V1));
  });

  it("is 0 (decode and check it) for the reader's own topic, another kind, no magic or an impossible length", () => {
    expect(otherTopicFrameBytes(headerV2(), 0, 7, FRAME_HEADER_BYTES_V2)).toBe(0);
    expect(otherTopicFrameBytes(headerV2({ kind: KIND_TOPIC_DEF }), 0, 8, FRAME_HEADER_BYTES_V2)).toBe(0);
    expect(otherTopicFrameBytes(new Uint8Array(FRAME_HEADER_BYTES_V2), 0, 8, FRAME_HEADER_BYTES_V2)).toBe(0);
    const noMagic = headerV2();
    noMagic[0]! ^= 1;
    expect(otherTopicFrameBytes(noMagic, 0, 8, FRAME_HEADER_BYTES_V2)).toBe(0);
    const huge = headerV2();
    new DataView(huge.buffer).setUint32(8, 0xffffffff, true);
    expect(otherTopicFrameBytes(huge, 0, 8, FRAME_HEADER_BYTES_V2)).toBe(0);
  });
});

describe('a frame right after a checked one of its topic (docs/DURABILITY.md, what is verified when)', () => {
  const SEQ = 2 ** 40 + 3;
  it('gives its length, codec and time when it is the entry expected', () => {
    const buf = headerV2();
    expect(followingEntryPayloadBytes(buf, 0, 2, 7, SEQ)).toBe(12);
    expect(entryTimeMsAt(buf, 0)).toBe(1_764_000_000_123);
    expect(entryCodecAt(buf, 0)).toBe(0);
  });

  it('is -1 (decode and check it) for another seq, topic, version or kind, no magic, or an impossible length', () => {
    expect(followingEntryPayloadBytes(headerV2(), 0, 2, 7, SEQ + 1)).toBe(-1);
    expect(followingEntryPayloadBytes(headerV2(), 0, 2, 8, SEQ)).toBe(-1);
    expect(followingEntryPayloadBytes(headerV2(), 0, 1, 7, SEQ)).toBe(-1);
    expect(followingEntryPayloadBytes(headerV2({ kind: KIND_TOPIC_DEF }), 0, 2, 7, SEQ)).toBe(-1);
    const noMagic = headerV2();
    noMagic[3]! ^= 0x40;
    expect(followingEntryPayloadBytes(noMagic, 0, 2, 7, SEQ)).toBe(-1);
    const huge = headerV2();
    new DataView(huge.buffer).setUint32(8, 0xfffffff0, true);
    expect(followingEntryPayloadBytes(huge, 0, 2, 7, SEQ)).toBe(-1);
  });
});

describe('version-1 frame header (FORMAT §4) is decoded as before', () => {
  it('round-trips, with time 0', () => {
    const buf = new Uint8Array(FRAME_HEADER_BYTES_V1);
    encodeFrameHeader(buf, 0, KIND_ENTRY, 0, 5, 2, 41, 0x1234);
    expect(decodeFrameHeader(buf, 0)).toEqual({
      kind: KIND_ENTRY,
      flags: 0,
      payloadBytes: 5,
      topicId: 2,
      seq: 41,
      timeMs: 0,
      payloadCrc: 0x1234,
    });
    expect(decodeFrameHeaderIn({ version: 1, salt: 0 }, buf, 0, 99_999)).toEqual(decodeFrameHeader(buf, 0));
  });

  it('a version-2 header never decodes as version 1', () => {
    expect(decodeFrameHeader(headerV2(), 0)).toBe('bad-header-crc');
  });
});

describe('segment header of either version (FORMAT §4.1, §13.1.1)', () => {
  it('decodes version 2 with its salt and interval, checked with salt 0 at offset 0', () => {
    const file = segmentHeaderFile({ formatVersion: 2, indexIntervalBytes: 8192 });
    expect(file.byteLength).toBe(FRAME_HEADER_BYTES_V2 + SEGMENT_HEADER_PAYLOAD_BYTES_V2);
    expect(decodeSegmentHeader(file, file.byteLength)).toEqual({
      formatVersion: 2,
      blockBytes: 4096,
      epoch: 3,
      writerIndex: 1,
      segmentNo: 9,
      createdAtMs: 1_764_000_000_000,
      salt: SALT,
      indexIntervalBytes: 8192,
    });
  });

  it('decodes version 1 with salt 0 and the default interval', () => {
    const file = segmentHeaderFile({ formatVersion: 1 });
    expect(decodeSegmentHeader(file, file.byteLength)).toMatchObject({
      formatVersion: 1,
      salt: 0,
      indexIntervalBytes: DEFAULT_INDEX_INTERVAL_BYTES,
    });
  });

  it('refuses a newer frame version or payload version, and says what else is wrong', () => {
    // A newer version written so (its header checksum holds over the version byte): refused.
    const newer = segmentHeaderFile({ formatVersion: 2 });
    newer[4] = 3;
    sealFrameHeaderV2(newer, 0, 0, 0);
    expect(decodeSegmentHeader(newer, newer.byteLength)).toMatchObject({ unsupported: true });
    // The same version byte flipped by damage (the checksum no longer holds): damage, not refused.
    const flipped = segmentHeaderFile({ formatVersion: 2 });
    flipped[4] = 2 | 0x80;
    expect(decodeSegmentHeader(flipped, flipped.byteLength)).toMatchObject({ unsupported: false });
    const newerPayload = segmentHeaderFile({ formatVersion: 3 });
    expect(decodeSegmentHeader(newerPayload, newerPayload.byteLength)).toMatchObject({ unsupported: true });
    const mismatch = segmentHeaderFile({ formatVersion: 1 });
    // A version-1 payload in a version-2 frame: not a header any writer wrote.
    const v1payload = mismatch.subarray(FRAME_HEADER_BYTES_V1);
    const padded = new Uint8Array(SEGMENT_HEADER_PAYLOAD_BYTES_V2);
    padded.set(v1payload);
    const wrong = encodeFrameV2(KIND_SEGMENT_HEADER, 0, 0, 0, 0, padded, 0, 0);
    expect(decodeSegmentHeader(wrong, wrong.byteLength)).toMatchObject({ unsupported: false });
    const badInterval = segmentHeaderFile({ formatVersion: 2, indexIntervalBytes: 100 });
    expect(decodeSegmentHeader(badInterval, badInterval.byteLength)).toMatchObject({
      problem: 'invalid index interval 100',
    });
    const short = segmentHeaderFile({ formatVersion: 2 });
    expect(decodeSegmentHeader(short, 70)).toMatchObject({ problem: 'file has only 70 bytes', unsupported: false });
  });
});

function u32(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
}

function seedOf(salt: number, offset: number): number {
  const b = new Uint8Array(12);
  b.set(u32(salt), 0);
  b.set(u32(offset % 2 ** 32), 4);
  b.set(u32(Math.floor(offset / 2 ** 32)), 8);
  return crc32Of(b);
}
