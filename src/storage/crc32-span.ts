/**
 * Checking many payload checksums with one CRC-32 pass. CRC-32 without its pre- and
 * post-inversion (the "raw" register update R) is linear, and feeding a zero byte is a fixed
 * linear map S: so the CRC of a span whose bytes outside the payloads were zeroed follows from
 * each payload's stored CRC, its length, and how far it ends from the previous one
 * (docs/DURABILITY.md, what is verified when). One native crc32 call over a read's span then
 * replaces one call per entry — each of which costs ~160 ns of call overhead here, more than
 * checking a 100 B entry's bytes.
 *
 * The span's check is all or nothing: a mismatch says some payload in it is damaged, and the
 * caller finds which with per-entry checks.
 */
import { CRC32_POLYNOMIAL, crc32 } from './crc32.js';

/** A map 32 bits → 32 bits as four 256-entry tables, one per input byte. */
type ByteTables = Uint32Array;

/** Columns of the linear map "feed one zero byte to the raw register". */
function oneZeroByte(): Uint32Array {
  const columns = new Uint32Array(32);
  for (let j = 0; j < 32; j++) {
    let c = (1 << j) >>> 0;
    for (let k = 0; k < 8; k++) c = c & 1 ? CRC32_POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    columns[j] = c >>> 0;
  }
  return columns;
}

function applyColumns(columns: Uint32Array, v: number): number {
  let out = 0;
  for (let j = 0; v !== 0; j++, v >>>= 1) if (v & 1) out ^= columns[j]!;
  return out >>> 0;
}

/** Columns of a∘b (b first). */
function compose(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(32);
  for (let j = 0; j < 32; j++) out[j] = applyColumns(a, b[j]!);
  return out;
}

function tablesOf(columns: Uint32Array): ByteTables {
  const t = new Uint32Array(4 * 256);
  for (let k = 0; k < 4; k++) {
    const base = k * 256;
    for (let v = 1; v < 256; v++) {
      const low = v & -v;
      t[base + v] = t[base + (v ^ low)]! ^ columns[8 * k + 31 - Math.clz32(low)]!;
    }
  }
  return t;
}

function applyTables(t: ByteTables, c: number): number {
  return (t[c & 0xff]! ^ t[256 + ((c >>> 8) & 0xff)]! ^ t[512 + ((c >>> 16) & 0xff)]! ^ t[768 + (c >>> 24)]!) >>> 0;
}

/** Zero-byte runs of 2^k bytes, k = 0 … MAX_SHIFT_BITS - 1: any length composes from them. */
const MAX_SHIFT_BITS = 31;
const POWER_COLUMNS: Uint32Array[] = [];
const POWER_TABLES: ByteTables[] = [];

/** Built on first use (a few ms): most opens never read a segment they did not verify. */
function buildPowers(): void {
  for (let k = 0, columns = oneZeroByte(); k < MAX_SHIFT_BITS; k++, columns = compose(columns, columns)) {
    POWER_COLUMNS.push(columns);
    POWER_TABLES.push(tablesOf(columns));
  }
}

/** Lengths whose map is kept whole (the strides of a read repeat: entries of one size). */
const CACHED_LENGTHS = 64;
const cache = new Map<number, ByteTables>();

/** The map of `bytes` zero bytes as byte tables, or null once CACHED_LENGTHS lengths are kept. */
function tablesFor(bytes: number): ByteTables | null {
  const hit = cache.get(bytes);
  if (hit !== undefined) return hit;
  if (POWER_TABLES.length === 0) buildPowers();
  if (cache.size >= CACHED_LENGTHS || bytes === 0) return null;
  let columns: Uint32Array | null = null;
  for (let k = 0, n = bytes; n > 0; k++, n = Math.floor(n / 2))
    if (n % 2 === 1) columns = columns === null ? POWER_COLUMNS[k]! : compose(POWER_COLUMNS[k]!, columns);
  const tables = tablesOf(columns!);
  cache.set(bytes, tables);
  return tables;
}

/**
 * The raw register `c` after `bytes` zero bytes. `keep`: the length recurs (an entry size, a
 * frame stride), so its map is built whole and kept; a span's length rarely does, and composes from
 * the powers of two instead.
 */
export function shiftZeros(c: number, bytes: number, keep = true): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes >= 2 ** MAX_SHIFT_BITS)
    throw new RangeError(`bad length ${bytes}`);
  const whole = keep ? tablesFor(bytes) : null;
  if (whole !== null) return applyTables(whole, c);
  if (POWER_TABLES.length === 0) buildPowers();
  for (let k = 0, n = bytes; n > 0; k++, n = Math.floor(n / 2)) if (n % 2 === 1) c = applyTables(POWER_TABLES[k]!, c);
  return c >>> 0;
}

/**
 * Accumulates the payloads of one span, in order, then checks them all with one pass over it.
 * Reused from read to read (`reset`): the hot path allocates nothing.
 */
export class SpanCrcCheck {
  /** Raw register of the span so far (zeroed gaps included), from a zero register. */
  #raw = 0;
  #from = -1;
  #end = -1;
  /** The last stride's and length's maps (a dense topic repeats them entry after entry). */
  #strideBytes = -1;
  #strideTables: ByteTables | null = null;
  #lengthBytes = -1;
  #lengthTerm = 0;

  /** Each added payload's stored CRC, to find the damaged one on a mismatch. */
  readonly #crcs: number[] = [];

  reset(): void {
    this.#raw = 0;
    this.#from = this.#end = -1;
    this.#crcs.length = 0;
  }

  /**
   * Adds the payload buf[at, at + length) whose stored CRC-32 is `storedCrc`; the bytes between
   * the previous payload and this one are zeroed in `buf` (nothing reads them after the walk).
   */
  add(buf: Uint8Array, at: number, length: number, storedCrc: number): void {
    // R(0, payload) = ~stored ^ S_length(~0): the stored CRC started from an all-ones register.
    if (length !== this.#lengthBytes) {
      this.#lengthBytes = length;
      this.#lengthTerm = shiftZeros(0xffffffff, length);
    }
    const payloadRaw = (~storedCrc ^ this.#lengthTerm) >>> 0;
    this.#crcs.push(storedCrc);
    if (this.#from < 0) {
      this.#from = at;
      this.#raw = payloadRaw;
    } else {
      if (at > this.#end) buf.fill(0, this.#end, at);
      const stride = at + length - this.#end;
      if (stride !== this.#strideBytes) {
        this.#strideBytes = stride;
        this.#strideTables = tablesFor(stride);
      }
      const shifted =
        this.#strideTables !== null ? applyTables(this.#strideTables, this.#raw) : shiftZeros(this.#raw, stride);
      this.#raw = (shifted ^ payloadRaw) >>> 0;
    }
    this.#end = at + length;
  }

  /** Whether every payload added since `reset` matches its stored CRC (true when none was). */
  matches(buf: Uint8Array): boolean {
    if (this.#from < 0) return true;
    const spanBytes = this.#end - this.#from;
    // crc32 = ~R(~0, span) and R(~0, span) = S_span(~0) ^ R(0, span).
    const actualRaw = (~crc32(buf, this.#from, this.#end) ^ shiftZeros(0xffffffff, spanBytes, false)) >>> 0;
    return actualRaw === this.#raw;
  }

  /**
   * The index of the first payload that does not match its stored CRC, -1 if none: `payloads` are
   * the ones added since `reset`, in order (the caller's entries).
   */
  firstMismatch(
    buf: Uint8Array,
    payloads: ReadonlyArray<{ readonly offset: number; readonly length: number }>,
  ): number {
    for (let k = 0; k < this.#crcs.length; k++) {
      const { offset, length } = payloads[k]!;
      if (crc32(buf, offset, offset + length) !== this.#crcs[k]) return k;
    }
    return -1;
  }
}
