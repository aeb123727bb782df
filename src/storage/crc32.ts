/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320): the checksum of docs/FORMAT.md.
 *
 * `zlib.crc32` is fast on long inputs (~2 GB/s here) but each call costs ~300 ns of native-call
 * overhead, which dominates for frame headers (28 bytes) and small entries. Below
 * NATIVE_MIN_BYTES a slicing-by-8 table in JS is several times faster; above it, zlib wins.
 */
import * as zlib from 'node:zlib';
import { byteView } from './byte-view.js';

type NativeCrc32 = (data: Uint8Array, value?: number) => number;
/** zlib.crc32 exists from Node 20.15; on older 20.x releases every input takes the JS path. */
const zlibCrc32 = (zlib as { crc32?: NativeCrc32 }).crc32;
const NATIVE_MIN_BYTES = zlibCrc32 ? 192 : Number.POSITIVE_INFINITY;

/** The reflected CRC-32 polynomial. */
export const CRC32_POLYNOMIAL = 0xedb88320;

const TABLES = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? CRC32_POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[i]!;
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[s * 256 + i] = c >>> 0;
    }
  }
  return t;
}

/** CRC-32 of data[start, end), continuing from `seed` (the CRC of what came before). */
export function crc32(data: Uint8Array, start = 0, end = data.byteLength, seed = 0): number {
  const length = end - start;
  if (length >= NATIVE_MIN_BYTES) {
    const view = start === 0 && end === data.byteLength ? data : byteView(data, start, end);
    return zlibCrc32!(view, seed) >>> 0;
  }
  const t = TABLES;
  let c = ~seed;
  let i = start;
  for (const stop8 = end - 8; i <= stop8; i += 8) {
    c ^= data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    const hi = data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24);
    c =
      t[1792 + (c & 0xff)]! ^
      t[1536 + ((c >>> 8) & 0xff)]! ^
      t[1280 + ((c >>> 16) & 0xff)]! ^
      t[1024 + (c >>> 24)]! ^
      t[768 + (hi & 0xff)]! ^
      t[512 + ((hi >>> 8) & 0xff)]! ^
      t[256 + ((hi >>> 16) & 0xff)]! ^
      t[hi >>> 24]!;
  }
  for (; i < end; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
