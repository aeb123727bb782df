/**
 * Every size bound of the library (docs/FORMAT.md §10) and the validators that enforce them at
 * the edges, so no bound is restated anywhere else.
 */
import { WalError } from '../errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Topic names: 1 … 4096 bytes of well-formed UTF-8. */
export const MAX_TOPIC_BYTES = 4096;
/** Default `maxEntryBytes`: 64 MiB per entry payload. */
export const DEFAULT_MAX_ENTRY_BYTES = 64 * MiB;
/** Largest accepted `maxEntryBytes`: 1 GiB, which a frame's u32 length and one pwrite both handle. */
export const MAX_ENTRY_BYTES_LIMIT = 1 * GiB;
/** Default `maxBatchEntries`, as walrus-rust: 2000 entries per batch append or batch read. */
export const DEFAULT_MAX_BATCH_ENTRIES = 2000;
/** Largest accepted `maxBatchEntries`: one million entries (32 MB of frame headers). */
export const MAX_BATCH_ENTRIES_LIMIT = 1_000_000;
/** A batch append carries at most 1 GiB of payload in total: it is written with one write. */
export const MAX_BATCH_PAYLOAD_BYTES = 1 * GiB;
/** Default `segmentBytes`: a writer rolls to a new segment file after 64 MiB. */
export const DEFAULT_SEGMENT_BYTES = 64 * MiB;
export const MIN_SEGMENT_BYTES = 64 * KiB;
export const MAX_SEGMENT_BYTES = 4 * GiB;
/** Default `blockBytes`: 1 MiB blocks, a power of two from 4 KiB to 64 MiB. */
export const DEFAULT_BLOCK_BYTES = 1 * MiB;
export const MIN_BLOCK_BYTES = 4 * KiB;
export const MAX_BLOCK_BYTES = 64 * MiB;
/** Topic ids are u32; 0 is never a topic (it is the topicId of segment headers). */
export const MAX_TOPIC_ID = 0xffff_ffff;
/**
 * The id a new topic gets is one more than any id on disk. A topic table (CURSORS) or a segment may
 * already hold the last one, 2^32 − 1 (crafted, or genuinely exhausted): the next one is refused
 * rather than written as a u32, where it would wrap to 0, the id of no topic.
 */
export function checkNewTopicId(topicId: number, topic: string): number {
  if (topicId > MAX_TOPIC_ID) throw WalError.tooLarge('topic count', topicId, MAX_TOPIC_ID, { topic });
  return topicId;
}
/** Sequence numbers stay exact as JS numbers. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** A new CURSORS snapshot is taken once the cursor log holds 1 MiB of records. */
export const CURSOR_LOG_SNAPSHOT_BYTES = 1 * MiB;
/** Matches a code point that is half of a surrogate pair on its own (not encodable as UTF-8). */
const LONE_SURROGATE = /\p{Cs}/u;
const utf8 = new TextEncoder();

/**
 * Whether `text` is well-formed Unicode (no lone surrogate), so that its UTF-8 form decodes back to
 * it. Anything stored as text (topic names, entries given as strings, the namespace key in MANIFEST)
 * must be: a lone surrogate is encoded as U+FFFD and reads back as another string.
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** Validates a topic name and returns its UTF-8 bytes. */
export function encodeTopic(topic: unknown): Uint8Array {
  if (typeof topic !== 'string')
    throw WalError.invalidArgument(`topic must be a string, got ${describeArgument(topic)}`);
  if (topic.length === 0) throw WalError.invalidArgument('topic must not be empty');
  if (!isWellFormedText(topic))
    throw WalError.invalidArgument('topic must be well-formed Unicode (it holds a lone surrogate)');
  const bytes = utf8.encode(topic);
  if (bytes.byteLength > MAX_TOPIC_BYTES) {
    throw WalError.invalidArgument(`topic is ${bytes.byteLength} UTF-8 bytes, the limit is ${MAX_TOPIC_BYTES}`, {
      actual: bytes.byteLength,
      limit: MAX_TOPIC_BYTES,
    });
  }
  return bytes;
}

/** Consumer names (docs/FORMAT.md §18.1): 1 … 255 bytes of well-formed UTF-8, stored only in CURSORS. */
export const MAX_CONSUMER_NAME_BYTES = 255;
/** Consumer ids are u32; 0 is the default consumer, named ones are 1 … 2^32 − 1 and never reused. */
export const MAX_CONSUMER_ID = 0xffff_ffff;

/** Validates a consumer name (never used in a path: it is only a key of the consumer table). */
export function checkConsumerName(name: unknown): string {
  if (typeof name !== 'string')
    throw WalError.invalidArgument(`consumer name must be a string, got ${describeArgument(name)}`);
  if (name.length === 0) throw WalError.invalidArgument('consumer name must not be empty');
  if (!isWellFormedText(name))
    throw WalError.invalidArgument('consumer name must be well-formed Unicode (it holds a lone surrogate)');
  const bytes = utf8.encode(name).byteLength;
  if (bytes > MAX_CONSUMER_NAME_BYTES) {
    throw WalError.invalidArgument(`consumer name is ${bytes} UTF-8 bytes, the limit is ${MAX_CONSUMER_NAME_BYTES}`, {
      actual: bytes,
      limit: MAX_CONSUMER_NAME_BYTES,
    });
  }
  return name;
}

/** Whether `name` is one `checkConsumerName` accepts (for names read back from disk). */
export function isValidConsumerName(name: unknown): name is string {
  try {
    checkConsumerName(name);
    return true;
  } catch {
    return false;
  }
}

/** Whether `topic` is a name `encodeTopic` accepts (for names read back from disk). */
export function isValidTopicName(topic: string): boolean {
  try {
    encodeTopic(topic);
    return true;
  } catch {
    return false;
  }
}

export function checkEntrySize(bytes: number, maxEntryBytes: number): void {
  if (bytes > maxEntryBytes) throw WalError.tooLarge('entry payload (bytes)', bytes, maxEntryBytes);
}

/**
 * The bytes of an entry: a Uint8Array (Buffer included) as is, a string as UTF-8. Strings with
 * lone surrogates are rejected rather than silently stored as U+FFFD.
 */
export function toEntryBytes(data: unknown): Uint8Array {
  if (typeof data === 'string') {
    if (!isWellFormedText(data))
      throw WalError.invalidArgument('string entry must be well-formed Unicode (it holds a lone surrogate)');
    return utf8.encode(data);
  }
  if (!(data instanceof Uint8Array))
    throw WalError.invalidArgument(`entry must be a Uint8Array or a string, got ${describeArgument(data)}`);
  if (data.byteLength === 0 && isDetached(data))
    throw WalError.invalidArgument('entry is a view of a detached ArrayBuffer');
  return data;
}

/** Validates a batch and returns the bytes of its entries; [] for an empty batch. */
export function checkBatch(
  entries: unknown,
  maxEntries: number,
  maxEntryBytes: number = MAX_ENTRY_BYTES_LIMIT,
): Uint8Array[] {
  if (!Array.isArray(entries))
    throw WalError.invalidArgument(`batch must be an array, got ${describeArgument(entries)}`);
  if (entries.length > maxEntries) throw WalError.tooLarge('batch (entries)', entries.length, maxEntries);
  const out = new Array<Uint8Array>(entries.length);
  let totalBytes = 0;
  for (let i = 0; i < entries.length; i++) {
    const bytes = toEntryBytes(entries[i]);
    checkEntrySize(bytes.byteLength, maxEntryBytes);
    totalBytes += bytes.byteLength;
    out[i] = bytes;
  }
  if (totalBytes > MAX_BATCH_PAYLOAD_BYTES)
    throw WalError.tooLarge('batch payload (bytes)', totalBytes, MAX_BATCH_PAYLOAD_BYTES);
  return out;
}

export interface ResolvedSizing {
  segmentBytes: number;
  blockBytes: number;
  maxEntryBytes: number;
  maxBatchEntries: number;
}

/** Sizing options as a caller passed them: each is checked here, so any value is accepted in. */
export type SizingOptions = { [K in keyof ResolvedSizing]?: unknown };

/** Resolves the sizing options against their defaults and ranges. */
export function validateSizing(options: SizingOptions): ResolvedSizing {
  const blockBytes = sizeOption(
    'blockBytes',
    options.blockBytes,
    DEFAULT_BLOCK_BYTES,
    MIN_BLOCK_BYTES,
    MAX_BLOCK_BYTES,
  );
  if ((blockBytes & (blockBytes - 1)) !== 0)
    throw WalError.invalidArgument(`blockBytes must be a power of two, got ${blockBytes}`);
  const segmentBytes = sizeOption(
    'segmentBytes',
    options.segmentBytes,
    DEFAULT_SEGMENT_BYTES,
    MIN_SEGMENT_BYTES,
    MAX_SEGMENT_BYTES,
  );
  if (segmentBytes < blockBytes) {
    throw WalError.invalidArgument(`segmentBytes (${segmentBytes}) must be at least blockBytes (${blockBytes})`);
  }
  return {
    segmentBytes,
    blockBytes,
    maxEntryBytes: sizeOption(
      'maxEntryBytes',
      options.maxEntryBytes,
      DEFAULT_MAX_ENTRY_BYTES,
      0,
      MAX_ENTRY_BYTES_LIMIT,
    ),
    maxBatchEntries: sizeOption(
      'maxBatchEntries',
      options.maxBatchEntries,
      DEFAULT_MAX_BATCH_ENTRIES,
      1,
      MAX_BATCH_ENTRIES_LIMIT,
    ),
  };
}

function sizeOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw WalError.invalidArgument(`${name} must be an integer, got ${describeArgument(value)}`);
  if (value < min || value > max)
    throw WalError.invalidArgument(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** A view of a detached buffer reads as empty; constructing a view over it throws. */
export function isDetached(view: Uint8Array): boolean {
  try {
    // Constructing a view over a detached buffer throws; a genuinely empty buffer does not.
    new Uint8Array(view.buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** A value named in an error message: its type, or the number itself, never its contents. */
export function describeArgument(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}
