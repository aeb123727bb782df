/**
 * The opt-in object codec (docs/SEMANTICS.md rule D7): JS values ↔ msgpackr bytes. One Packr per
 * thread with fixed options. No shared `structures`: every encoded entry carries its own record
 * definitions, so any entry decodes alone, in any order, in any process. Plain objects and Maps
 * stay distinct, BigInt round-trips as BigInt (small integers as numbers), Date, Set, typed arrays
 * keep their types.
 */
import { Packr } from 'msgpackr';

const packr = new Packr({ int64AsType: 'bigint', moreTypes: true });

/** Encodes a value. Returns a copy: msgpackr's result is a view into a buffer it reuses. */
export function packValue(value: unknown): Uint8Array {
  return new Uint8Array(packr.pack(value));
}

export function unpackValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
