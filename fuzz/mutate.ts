/**
 * The mutator: AFL/libFuzzer-style byte mutations, stacked, plus values and tokens that mean
 * something in this format (lengths at the 2^31 and 2^32 edges, block sizes, magics, msgpack keys),
 * so a few mutations can reach a length check or a key lookup.
 */
const INTERESTING_U32 = [
  0, 1, 7, 8, 31, 32, 33, 63, 64, 0x7f, 0x80, 0xff, 0x100, 4095, 4096, 4097, 8192, 65536, 0x0100_0000, 0x0400_0000,
  0x4000_0000, 0x7fff_fff8, 0x7fff_fff9, 0x7fff_ffff, 0x8000_0000, 0xffff_fff8, 0xffff_fff9, 0xffff_fffe, 0xffff_ffff,
];
const INTERESTING_U8 = [0, 1, 2, 3, 0x7f, 0x80, 0xc0, 0xc1, 0xcf, 0xd3, 0xff];
const encoder = new TextEncoder();
const TOKENS: Uint8Array[] = [
  Uint8Array.of(0x57, 0x41, 0x4c, 0x52), // frame magic "WALR"
  Uint8Array.of(0x57, 0x43, 0x54, 0x4c), // control-file magic "WCTL"
  Uint8Array.of(0x43, 0x55, 0x52, 0x53), // cursor-record magic "CURS"
  Uint8Array.of(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // msgpack uint64 max
  Uint8Array.of(0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0), // msgpack float64 NaN
  Uint8Array.of(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0), // msgpack int64 min
  Uint8Array.of(0xd6, 0xff, 0, 0, 0, 0), // msgpack timestamp ext
  Uint8Array.of(0xc0), // msgpack nil
  Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff), // msgpack array32 of 2^32 - 1
  Uint8Array.of(0xdf, 0xff, 0xff, 0xff, 0xff), // msgpack map32 of 2^32 - 1
  ...[
    'format',
    'version',
    'epoch',
    'createdAtMs',
    'openedAtMs',
    'key',
    'fences',
    'generation',
    'topics',
    'walrus-ts',
    'walrus-ts/cursors',
    '__proto__',
    'ffffffff-ffff-ffffffff.seg',
    '00000001-0000-00000000.seg',
  ].map((s) => {
    const b = encoder.encode(s);
    return Uint8Array.of(0xa0 | b.byteLength, ...b);
  }),
];

/** msgpack values to put where another value was: the types and edges a decoder of control files must refuse. */
const MSGPACK_VALUES: Uint8Array[] = [
  Uint8Array.of(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // uint64 max (msgpackr: a BigInt)
  Uint8Array.of(0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0), // uint64 2^53 (a BigInt)
  Uint8Array.of(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0), // int64 min (a BigInt)
  Uint8Array.of(0xce, 0xff, 0xff, 0xff, 0xff), // uint32 2^32 - 1
  Uint8Array.of(0xcf, 0, 0, 0, 1, 0, 0, 0, 0), // 2^32
  Uint8Array.of(0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0), // NaN
  Uint8Array.of(0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0), // Infinity
  Uint8Array.of(0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0), // 1.5
  Uint8Array.of(0xff), // -1
  Uint8Array.of(0x00), // 0
  Uint8Array.of(0xc0), // nil
  Uint8Array.of(0xc3), // true
  Uint8Array.of(0xa0), // ''
  Uint8Array.of(0x90), // []
  Uint8Array.of(0x80), // {}
  Uint8Array.of(0x94, 0xa0, 0x00, 0x00, 0x00), // ['', 0, 0, 0]
  Uint8Array.of(0xd6, 0xff, 0, 0, 0, 0), // timestamp ext (a Date)
  Uint8Array.of(0xc4, 0x01, 0x00), // bin (a Buffer)
  Uint8Array.of(0xa2, 0xed, 0xa0), // a string with a lone surrogate's bytes
];

type Rand = (n: number) => number;

/** Bytes the msgpack scalar starting at `at` occupies, or 0 when no scalar starts there. */
function msgpackScalarBytes(buf: Uint8Array, at: number): number {
  const b = buf[at]!;
  if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return 1;
  if (b >= 0xa0 && b <= 0xbf) return 1 + (b & 0x1f);
  const fixed: Record<number, number> = { 0xcc: 2, 0xcd: 3, 0xce: 5, 0xcf: 9, 0xd0: 2, 0xd1: 3, 0xd2: 5, 0xd3: 9 };
  if (fixed[b] !== undefined) return fixed[b]!;
  if (b === 0xca) return 5;
  if (b === 0xcb) return 9;
  if (b === 0xd9 && at + 1 < buf.byteLength) return 2 + buf[at + 1]!;
  return 0;
}

function writeU32(buf: Uint8Array, at: number, v: number): void {
  new DataView(buf.buffer, buf.byteOffset).setUint32(at, v >>> 0, true);
}

function mutateOnce(input: Uint8Array, other: Uint8Array, maxBytes: number, rand: Rand): Uint8Array {
  let buf: Uint8Array = input;
  const n = buf.byteLength;
  // Offsets past the control byte mostly, aligned to 4 or 8 half the time (fields are).
  const at = (width: number): number => {
    const room = Math.max(1, n - width + 1);
    const pos = rand(room);
    return rand(2) === 0 ? pos : Math.min(room - 1, (pos & ~7) + 1 + rand(2) * 4);
  };
  switch (rand(13)) {
    case 12: {
      // replace a msgpack scalar (a key, a string, a number) by another value, keeping the rest parseable
      for (let tries = 0; tries < 16 && n > 1; tries++) {
        const from = 1 + rand(n - 1);
        const len = msgpackScalarBytes(buf, from);
        if (len === 0 || from + len > n) continue;
        buf = concat(buf.subarray(0, from), MSGPACK_VALUES[rand(MSGPACK_VALUES.length)]!, buf.subarray(from + len));
        break;
      }
      break;
    }
    case 0: // flip a bit
      if (n > 0) buf[rand(n)]! ^= 1 << rand(8);
      break;
    case 1: // an interesting byte
      if (n > 0) buf[rand(n)] = INTERESTING_U8[rand(INTERESTING_U8.length)]!;
      break;
    case 2: // an interesting u32 (lengths, ids, block sizes)
      if (n >= 4) writeU32(buf, at(4), INTERESTING_U32[rand(INTERESTING_U32.length)]!);
      break;
    case 3: // small arithmetic on a u32
      if (n >= 4) {
        const i = at(4);
        const view = new DataView(buf.buffer, buf.byteOffset);
        view.setUint32(i, (view.getUint32(i, true) + rand(33) - 16) >>> 0, true);
      }
      break;
    case 4: // a random byte
      if (n > 0) buf[rand(n)] = rand(256);
      break;
    case 5: {
      // delete a range
      if (n < 2) break;
      const from = rand(n);
      const len = 1 + rand(Math.min(64, n - from));
      buf = concat(buf.subarray(0, from), buf.subarray(from + len));
      break;
    }
    case 6: {
      // insert random or repeated bytes
      const from = rand(n + 1);
      const len = 1 + rand(16);
      const fill = rand(2) === 0 ? 0 : rand(256);
      const ins = Uint8Array.from({ length: len }, () => (rand(2) === 0 ? fill : rand(256)));
      buf = concat(buf.subarray(0, from), ins, buf.subarray(from));
      break;
    }
    case 7: {
      // a token from the format
      const token = TOKENS[rand(TOKENS.length)]!;
      if (rand(2) === 0 && n >= token.byteLength) buf.set(token, rand(n - token.byteLength + 1));
      else {
        const from = rand(n + 1);
        buf = concat(buf.subarray(0, from), token, buf.subarray(from));
      }
      break;
    }
    case 8: {
      // copy a range within the input (duplicated frames, records, map entries)
      if (n < 2) break;
      const from = rand(n);
      const len = 1 + rand(Math.min(256, n - from));
      const to = rand(n + 1);
      buf = concat(buf.subarray(0, to), buf.slice(from, from + len), buf.subarray(to));
      break;
    }
    case 9: {
      // splice with another corpus entry
      if (other.byteLength === 0) break;
      const cut = rand(n + 1);
      const from = rand(other.byteLength);
      buf = concat(buf.subarray(0, cut), other.subarray(from));
      break;
    }
    case 10: // the control byte
      if (n > 0) buf[0] = rand(256);
      break;
    case 11: {
      // truncate (torn tails) or zero a range (padding, zeroed sectors)
      if (n < 2) break;
      if (rand(2) === 0) buf = buf.slice(0, 1 + rand(n - 1));
      else {
        const from = rand(n);
        buf.fill(0, from, from + 1 + rand(Math.min(512, n - from)));
      }
      break;
    }
  }
  return buf.byteLength > maxBytes ? buf.slice(0, maxBytes) : buf;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** A new input from `input` (never modified): 1 to 8 stacked mutations. */
export function mutate(input: Uint8Array, other: Uint8Array, maxBytes: number, rand: Rand): Uint8Array {
  let out: Uint8Array = input.slice();
  for (let i = 1 + rand(8); i > 0; i--) out = mutateOnce(out, other, maxBytes, rand);
  return out;
}
