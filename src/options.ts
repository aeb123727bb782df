/**
 * `Walrus.open` options: one object, frozen defaults, validated at the door before any thread is
 * spawned or any file touched. Every bad value is an ERR_INVALID_ARGUMENT naming the option.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { WalError } from './errors.js';
import { parseReadConsistency, type ReadConsistency } from './storage/checkpoint-policy.js';
import { parseFsyncMode, type FsyncMode } from './storage/fsync-mode.js';
import { validateSizing } from './storage/limits.js';
import { resolveNamespaceDir } from './storage/namespace.js';
import { parseRetention, type RetentionPolicy } from './storage/retention.js';

export type { FsyncMode, ReadConsistency };

export interface WalrusOptions {
  /** Base directory. Default: `process.env.WALRUS_DATA_DIR`, else `./wal_files`. */
  dir?: string;
  /** Namespace: data lives in `<dir>/<sanitized key>/`. Without a key, in `<dir>` itself. */
  key?: string;
  /** Default 'strictly-at-once'. */
  readConsistency?: ReadConsistency;
  /** Default `{ intervalMs: 200 }`. */
  fsync?: FsyncMode;
  /** Writer worker count. Default: `min(4, max(1, availableParallelism() - 1))`. */
  writers?: number;
  /** Ring buffer per writer, bytes (power of two, 64 KiB … 1 GiB). Default 8 MiB. */
  ringBytes?: number;
  /** Segment file size before rolling, bytes. Default 64 MiB. */
  segmentBytes?: number;
  /** Block size inside segments, bytes (power of two). Default 1 MiB. */
  blockBytes?: number;
  /** Largest entry, bytes. Default 64 MiB. */
  maxEntryBytes?: number;
  /** Largest batch, entries. Default 2000. */
  maxBatchEntries?: number;
  /**
   * How `append`/`batchAppend` encode what they are given. 'raw' (default): bytes or strings only.
   * 'msgpack': any JS value is encoded with msgpackr (Uint8Array and string are still stored raw);
   * it can also be chosen per call. Entries keep their codec, so both kinds can share a topic.
   */
  codec?: EntryCodec;
  /**
   * Default false: the namespace directory is 0700 and its files 0600, the owner's only. true:
   * 0750 and 0640, readable (never writable) by the directory's group, e.g. a monitoring user
   * running `walrus stats`. Applied to the directory at every open (docs/DURABILITY.md §Permissions).
   */
  groupAccess?: boolean;
  /**
   * What is kept (docs/SEMANTICS.md rule D22). Default `{}`: a sealed segment is deleted once every registered
   * consumer consumed it. `keepConsumed: true` keeps consumed segments for `seek`; `maxBytes`
   * deletes the oldest sealed segments beyond that many segment bytes, consumed or not (a consumer
   * left behind gets a 'skipped' event); `maxAgeMs` deletes sealed segments whose newest entry
   * is older than that, consumed or not.
   */
  retention?: { maxBytes?: number; maxAgeMs?: number; keepConsumed?: boolean };
}

export type EntryCodec = 'raw' | 'msgpack';

export interface ResolvedOptions {
  codec: EntryCodec;
  namespaceDir: string;
  /** The namespace key as given (undefined: the directory was named directly). */
  key: string | undefined;
  readConsistency: ReadConsistency;
  fsync: FsyncMode;
  writers: number;
  ringBytes: number;
  segmentBytes: number;
  blockBytes: number;
  maxEntryBytes: number;
  maxBatchEntries: number;
  groupAccess: boolean;
  retention: RetentionPolicy;
}

export const DEFAULT_RING_BYTES = 8 * 1024 * 1024;
const MIN_RING_BYTES = 64 * 1024;
const MAX_RING_BYTES = 1024 * 1024 * 1024;
const MAX_WRITERS = 64;

export function defaultWriterCount(): number {
  return Math.min(4, Math.max(1, os.availableParallelism() - 1));
}

const KNOWN_OPTIONS = new Set([
  'dir',
  'key',
  'readConsistency',
  'fsync',
  'writers',
  'ringBytes',
  'segmentBytes',
  'blockBytes',
  'maxEntryBytes',
  'maxBatchEntries',
  'codec',
  'groupAccess',
  'retention',
]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

export function validateCodec(value: unknown, name: string): EntryCodec {
  if (value === undefined || value === 'raw') return 'raw';
  if (value === 'msgpack') return 'msgpack';
  throw WalError.invalidArgument(`${name} must be 'raw' or 'msgpack', got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined || options === null) options = {};
  if (!isPlainObject(options)) throw WalError.invalidArgument(`options must be an object, got ${describe(options)}`);
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) throw WalError.invalidArgument(`unknown option '${name}'`);
  }
  const dirOption = options.dir ?? process.env.WALRUS_DATA_DIR ?? 'wal_files';
  if (typeof dirOption !== 'string' || dirOption.length === 0 || dirOption.includes('\0')) {
    throw WalError.invalidArgument(`dir must be a non-empty path string, got ${describe(dirOption)}`);
  }
  if (options.key !== undefined && typeof options.key !== 'string') {
    throw WalError.invalidArgument(`key must be a string, got ${describe(options.key)}`);
  }
  const writers = options.writers ?? defaultWriterCount();
  if (!isIntegerIn(writers, 1, MAX_WRITERS))
    throw WalError.invalidArgument(`writers must be an integer 1 … ${MAX_WRITERS}, got ${describe(writers)}`);
  const ringBytes = options.ringBytes ?? DEFAULT_RING_BYTES;
  if (!isIntegerIn(ringBytes, MIN_RING_BYTES, MAX_RING_BYTES) || (ringBytes & (ringBytes - 1)) !== 0) {
    throw WalError.invalidArgument(
      `ringBytes must be a power of two from ${MIN_RING_BYTES} to ${MAX_RING_BYTES}, got ${describe(ringBytes)}`,
    );
  }
  const codec = validateCodec(options.codec, 'codec');
  const groupAccess = options.groupAccess === undefined ? false : options.groupAccess;
  if (typeof groupAccess !== 'boolean')
    throw WalError.invalidArgument(`groupAccess must be a boolean, got ${describe(groupAccess)}`);
  const sizing = validateSizing({
    segmentBytes: options.segmentBytes,
    blockBytes: options.blockBytes,
    maxEntryBytes: options.maxEntryBytes,
    maxBatchEntries: options.maxBatchEntries,
  });
  return {
    codec,
    namespaceDir: resolveNamespaceDir(path.resolve(dirOption), options.key as string | undefined),
    key: options.key as string | undefined,
    readConsistency: parseReadConsistency(options.readConsistency),
    fsync: parseFsyncMode(options.fsync),
    writers,
    ringBytes,
    ...sizing,
    groupAccess,
    retention: parseRetention(options.retention),
  };
}
