/**
 * The msgpackr encoding of the small structured control files (MANIFEST, CURSORS). Records and
 * structured-clone extensions are off so the files are plain msgpack maps any reader can decode.
 */
import { Packr } from 'msgpackr';

const diskPackr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Packs a value into bytes the caller owns (msgpackr reuses its output buffer between calls). */
export function packControlFile(value: unknown): Uint8Array {
  return new Uint8Array(diskPackr.pack(value));
}

/** Decodes a control file, which always holds one map; throws when the bytes are anything else. */
export function unpackControlMap(bytes: Uint8Array): Record<string, unknown> {
  const value: unknown = diskPackr.unpack(bytes);
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new Error('the bytes do not hold a msgpack map');
  }
  return value as Record<string, unknown>;
}
