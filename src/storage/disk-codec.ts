/**
 * The encoding of the small structured control files (MANIFEST, CURSORS): an 8-byte frame — magic
 * "WCTL" and the CRC-32 of the body — then a msgpack map (records and structured-clone extensions
 * off, so any msgpack reader can decode the body). The checksum matters: CURSORS names topics and
 * holds cursors, and one flipped byte must be refused, not silently rename a topic or move a cursor.
 */
import { Packr } from 'msgpackr';
import { crc32Of, readU32 } from './frame.js';

const diskPackr = new Packr({ useRecords: false, mapsAsObjects: true });
const CONTROL_MAGIC = 0x4c544357; // bytes 57 43 54 4C, "WCTL"
export const CONTROL_HEADER_BYTES = 8;

/** Frames a value as a control file the caller owns (msgpackr reuses its output buffer between calls). */
export function packControlFile(value: unknown): Uint8Array {
  const body = diskPackr.pack(value);
  const out = new Uint8Array(CONTROL_HEADER_BYTES + body.byteLength);
  out.set(body, CONTROL_HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, CONTROL_MAGIC, true);
  view.setUint32(4, crc32Of(out, CONTROL_HEADER_BYTES, out.byteLength), true);
  return out;
}

/** Decodes a control file, which always holds one map; throws when the frame or the bytes are anything else. */
export function unpackControlMap(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.byteLength < CONTROL_HEADER_BYTES || readU32(bytes, 0) !== CONTROL_MAGIC)
    throw new Error('not a walrus-ts control file (bad magic)');
  if (readU32(bytes, 4) !== crc32Of(bytes, CONTROL_HEADER_BYTES, bytes.byteLength))
    throw new Error('checksum mismatch');
  const value: unknown = diskPackr.unpack(bytes.subarray(CONTROL_HEADER_BYTES));
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new Error('the bytes do not hold a msgpack map');
  }
  return value as Record<string, unknown>;
}

/**
 * A value decoded from a control file, for an error message. msgpack decodes a uint64 as a BigInt,
 * which JSON.stringify refuses with a TypeError: a crafted file must end as the typed error being
 * built, never as that. Long values are cut so a message stays readable.
 */
export function describeDiskValue(value: unknown): string {
  const text =
    typeof value === 'bigint'
      ? `${value}n`
      : (JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
