/**
 * What an append stores: bytes and strings go in raw, any other value is packed with msgpack
 * (when the codec allows it). A packed payload is a `PackedValue`, so the frame's codec flag
 * follows from the payload itself and nothing per append needs a second object.
 *
 * Hot path: `payloadOf` returns the caller's string or view as it is (no copy, no allocation).
 */
import { WalError } from '../../errors.js';
import { validateCodec } from '../../options.js';
import { CODEC_MSGPACK, CODEC_RAW } from '../../storage/frame.js';
import { checkEntrySize, isDetached, MAX_BATCH_PAYLOAD_BYTES } from '../../storage/limits.js';
import { packValue } from '../../value-codec.js';
import { byteLengthOf, type EntryData } from '../shared/ring-ops.js';
import type { AppendOptions } from './public-types.js';

/** ES2024 `String.prototype.isWellFormed` (Node ≥ 20), missing from the ES2023 lib this builds with. */
type WellFormedString = string & { isWellFormed(): boolean };

/** msgpack bytes of a JS value: a distinct type so they are flagged with the msgpack codec. */
export class PackedValue extends Uint8Array {}

/** The frame codec an instance's `codec` option stands for. */
export function codecNumber(codec: 'raw' | 'msgpack'): number {
  return codec === 'msgpack' ? CODEC_MSGPACK : CODEC_RAW;
}

/** The codec of one append call: its `codec` option, else the instance's. */
export function codecFor(options: AppendOptions | undefined, instanceCodec: number): number {
  if (options === undefined) return instanceCodec;
  if (typeof options !== 'object' || options === null) throw WalError.invalidArgument('options must be an object');
  if (options.codec === undefined) return instanceCodec;
  return codecNumber(validateCodec(options.codec, 'options.codec'));
}

/** The frame codec flag of a payload `payloadOf` returned. */
export function codecOf(payload: EntryData): number {
  return payload instanceof PackedValue ? CODEC_MSGPACK : CODEC_RAW;
}

/** Bytes and strings are stored raw; other values need the msgpack codec. */
export function payloadOf(data: unknown, codec: number): EntryData {
  if (typeof data === 'string') {
    // As the storage core does (toEntryBytes): UTF-8 would silently store a lone surrogate as U+FFFD.
    if (!(data as WellFormedString).isWellFormed())
      throw WalError.invalidArgument('string data must be well-formed Unicode (it holds a lone surrogate)');
    return data;
  }
  if (data instanceof Uint8Array) {
    if (data.byteLength === 0 && isDetached(data))
      throw WalError.invalidArgument('data is a view of a detached ArrayBuffer');
    return data;
  }
  if (codec === CODEC_MSGPACK) return new PackedValue(packValue(data));
  throw WalError.invalidArgument(
    `data must be a Uint8Array, Buffer or string (or use codec 'msgpack' for other values), got ${data === null ? 'null' : typeof data}`,
  );
}

/** A batch's payloads, encoded and measured: what `WriterChannel.batch` takes. */
export interface EncodedBatch {
  payloads: EntryData[];
  lengths: number[];
  totalBytes: number;
  codec: number;
}

/**
 * Encodes and size-checks every entry of a batch append. One codec per batch record: a batch
 * mixing values and raw bytes stores the raw ones packed too.
 */
export function encodeBatch(
  entries: readonly unknown[],
  codec: number,
  maxEntryBytes: number,
  topic: string,
): EncodedBatch {
  const payloads: EntryData[] = new Array<EntryData>(entries.length);
  let lengths: number[] = new Array<number>(entries.length);
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    const p = payloadOf(entries[i], codec);
    const bytes = byteLengthOf(p);
    checkEntrySize(bytes, maxEntryBytes);
    total += bytes;
    payloads[i] = p;
    lengths[i] = bytes;
  }
  if (total > MAX_BATCH_PAYLOAD_BYTES)
    throw WalError.tooLarge('batch payload bytes', total, MAX_BATCH_PAYLOAD_BYTES, { topic });
  if (!payloads.some((p) => p instanceof PackedValue))
    return { payloads, lengths, totalBytes: total, codec: CODEC_RAW };
  // Packing adds a header, so the packed form is what must fit (it slipped past the limits).
  let packedTotal = 0;
  const encoded = payloads.map((p) => {
    const packed = p instanceof PackedValue ? p : new PackedValue(packValue(p));
    checkEntrySize(packed.byteLength, maxEntryBytes);
    packedTotal += packed.byteLength;
    return packed;
  });
  if (packedTotal > MAX_BATCH_PAYLOAD_BYTES)
    throw WalError.tooLarge('batch payload bytes', packedTotal, MAX_BATCH_PAYLOAD_BYTES, { topic });
  lengths = encoded.map(byteLengthOf);
  return { payloads: encoded, lengths, totalBytes: packedTotal, codec: CODEC_MSGPACK };
}
