/**
 * How `tail` and `dump` show an entry's payload: as text (raw entries as UTF-8, object entries as
 * JSON of their decoded value), as one JSON object per line (NDJSON, for jq and scripts), or as a
 * hex dump. JSON keeps raw bytes exact: `text` only when they are well-formed UTF-8, else `base64`.
 */
import { CODEC_MSGPACK, codecOfFlags } from '../storage/frame.js';
import { unpackValue } from '../value-codec.js';

export const PAYLOAD_FORMATS = ['text', 'json', 'hex'] as const;
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

export function codecName(flags: number): 'raw' | 'msgpack' {
  return codecOfFlags(flags) === CODEC_MSGPACK ? 'msgpack' : 'raw';
}

/** The payload fields of an entry's JSON form: `text`, `base64`, or `value` (msgpack). */
export function payloadJsonFields(data: Uint8Array, flags: number): Record<string, unknown> {
  if (codecName(flags) === 'msgpack') {
    const decoded = decodeMsgpack(data);
    if (decoded.ok) return { value: toJsonValue(decoded.value) };
    return {
      base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
      error: decoded.error,
    };
  }
  try {
    return { text: strictUtf8.decode(data) };
  } catch {
    return { base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
  }
}

/** The payload as a human reads it: UTF-8 text (invalid bytes become U+FFFD), or the JSON of an object entry. */
export function payloadText(data: Uint8Array, flags: number): string {
  if (codecName(flags) === 'msgpack') {
    const decoded = decodeMsgpack(data);
    return decoded.ok ? JSON.stringify(toJsonValue(decoded.value)) : `<undecodable msgpack: ${decoded.error}>`;
  }
  return lenientUtf8.decode(data);
}

/** One line, at most `maxChars` characters: control characters escaped, the rest elided with "…". */
export function payloadPreview(data: Uint8Array, flags: number, maxChars: number): string {
  // Raw payloads are cut before decoding (a preview of a 64 MiB entry must not decode all of it);
  // 4 bytes per character is the most UTF-8 needs.
  const cut = codecName(flags) === 'raw' && data.byteLength > maxChars * 4;
  const escaped = escapeControl(payloadText(cut ? data.subarray(0, maxChars * 4) : data, flags));
  return cut || escaped.length > maxChars ? `${escaped.slice(0, maxChars)}…` : escaped;
}

/**
 * What must not reach a terminal raw: every control character (C0 with newlines, DEL, C1, whose
 * 0x9b is a CSI that starts an escape sequence on many terminals), the line and paragraph
 * separators, and every format character (\p{Cf}: the bidi embeddings, overrides and isolates
 * U+202A–U+202E and U+2066–U+2069 that reorder what follows, marks, zero-width spaces, BOM, tag
 * characters). ZWNJ and ZWJ (U+200C, U+200D) stay: emoji sequences and several scripts need them,
 * and they move nothing.
 */
const UNSAFE_FOR_TERMINALS = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\u2028\u2029]/gu;

/**
 * Escapes what could drive or deceive a terminal (see UNSAFE_FOR_TERMINALS) as `\n`, `\r`, `\t`
 * or `\uXXXX` (`\u{XXXXX}` above the BMP), so a value from disk stays on one line and shows as
 * what it is. The one escaping function of the CLI: payloads, topic names, the LOCK holder.
 */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE_FOR_TERMINALS, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Classic hex dump lines: offset, 16 bytes in hex, the printable ASCII; `indent` before each. */
export function hexDump(data: Uint8Array, indent = ''): string {
  if (data.byteLength === 0) return `${indent}(empty)\n`;
  let out = '';
  for (let at = 0; at < data.byteLength; at += 16) {
    const row = data.subarray(at, Math.min(at + 16, data.byteLength));
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    out += `${indent}${at.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|\n`;
  }
  return out;
}

function decodeMsgpack(data: Uint8Array): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: unpackValue(data) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/**
 * A JSON-compatible copy of a decoded value: BigInt as a decimal string, Map as an object (or an
 * array of [key, value] pairs when a key is not a string), Set and typed arrays as arrays, Date as
 * its ISO string, undefined and non-finite numbers as null.
 */
export function toJsonValue(value: unknown, seen = new Set<object>()): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value !== 'object') return String(value);
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (value instanceof DataView) return Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    if (ArrayBuffer.isView(value)) {
      const bytes = value as unknown as ArrayLike<number | bigint>;
      return Array.from(bytes, (v) => toJsonValue(v, seen));
    }
    if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value));
    if (value instanceof Map) {
      const entries = [...value.entries()];
      if (entries.every(([k]) => typeof k === 'string'))
        return Object.fromEntries(entries.map(([k, v]) => [k, toJsonValue(v, seen)]));
      return entries.map(([k, v]) => [toJsonValue(k, seen), toJsonValue(v, seen)]);
    }
    if (value instanceof Set) return [...value].map((v) => toJsonValue(v, seen));
    if (Array.isArray(value)) return value.map((v) => toJsonValue(v, seen));
    if (value instanceof RegExp || value instanceof Error) return String(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}
