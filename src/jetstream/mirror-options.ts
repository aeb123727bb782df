/**
 * The mirror's options and what it reports: the public option and stats types, their defaults,
 * and the one validation of a `mirror()` call (every bad option throws ERR_INVALID_ARGUMENT at the
 * call, before anything runs in the background).
 */
import { WalError } from '../errors.js';
import type { ReadSurface } from '../engine/main/read-surface.js';
import { checkSignal, checkTimerMs } from '../argument-checks.js';
import { encodeTopic } from '../storage/limits.js';
import { validateConnectionOptions, type ConnectionOptions } from './connection.js';
import { subjectFunction, encodeHeaderValue, isValidStreamName } from './message-id.js';

/** How the mirror creates the stream when it does not exist (ignored when it does). */
export interface MirrorStreamOptions {
  /** Subjects the stream captures. Default `[<stream>.>]`, which covers the default `subject`. */
  subjects?: string[];
  /** Raft replicas (1, 3 or 5 on a cluster). Default 1. */
  replicas?: number;
  /** JetStream's duplicate window: how long a re-published entry is still recognized. Default 120 000 ms. */
  duplicateWindowMs?: number;
  /** Default 'file'. */
  storage?: 'file' | 'memory';
}

export interface MirrorOptions extends ConnectionOptions {
  /** The topics to mirror. */
  topics: readonly string[];
  /**
   * The named consumer the mirror reads through (`wal.consumer(name)`): its own position on each
   * topic, so every other consumer keeps reading beside it (docs/SCALE-OUT.md). Default
   * `mirror:<stream>`, registered at the first entry retained when it does not exist yet. `null`
   * reads through the WAL's default consumer, as mirrors did before named consumers existed: the
   * mirror must then be each topic's only reader of the default consumer.
   */
  consumer?: string | null;
  /** The JetStream stream to publish to. */
  stream: string;
  /** The subject of a topic's messages. Default `<stream>.<topic>` for plain names, else `<stream>.~<digest>`. */
  subject?: (topic: string) => string;
  /**
   * Identifies this WAL in message ids and headers: required, and distinct for every WAL that
   * mirrors into the stream (docs/SCALE-OUT.md). There is no default: the directory's name is the
   * same on every host that uses the same key, and JetStream would drop one host's entries as
   * duplicates of the other's; an identity kept in the directory would travel with every copy of it.
   * A mirror that ran before this was required used the directory's name: pass that to keep its ids.
   */
  namespace: string;
  /** Stops the mirror after the round in progress (its acknowledged entries are still consumed). */
  signal?: AbortSignal;
  /** Create the stream when it is missing: true (default) or how; false = wait for it to exist. */
  createStream?: boolean | MirrorStreamOptions;
  /** Most publish acknowledgements outstanding at once in an acknowledged (recovery) round. Default 1024. */
  maxInFlight?: number;
  /** Payload bytes peeked per topic per round (at least one entry). Default 1 MiB. */
  maxBatchBytes?: number;
  /** Most entries published per window (confirmed by one acknowledgement). Default 8192. */
  windowMaxEntries?: number;
  /** Most payload bytes per window (at least one entry). Default 8 MiB. */
  windowMaxBytes?: number;
  /** How long to wait for a window's (or one publish's) acknowledgement before the round counts as failed. Default 10 000 ms. */
  ackTimeoutMs?: number;
  /** First retry delay after a failed round; doubles per failure up to `retryMaxMs`. Default 100 ms. */
  retryInitialMs?: number;
  /** Default 5 000 ms. */
  retryMaxMs?: number;
}

export interface MirrorTopicStats {
  /** Entries appended but not yet mirrored (the topic's unread count). */
  lag: number;
  /** Entries this mirror published and consumed (including duplicates JetStream already had). */
  published: number;
  /** Of those, how many JetStream reported as duplicates (already stored: redelivery after a crash). */
  duplicates: number;
}

export interface MirrorStats {
  /** Keyed by topic name; a null-prototype object, so any topic name (even `__proto__`) is an own key. */
  topics: Record<string, MirrorTopicStats>;
  published: number;
  duplicates: number;
  /** Entries published and consumed per second over the last few seconds. */
  publishedPerSec: number;
  /** The last failure (publish, timeout, broker unavailable); the mirror keeps retrying. */
  lastError: { message: string; atMs: number } | null;
  /** Rounds that failed (each retried after a backoff). */
  failedRounds: number;
  /** Windows whose acknowledgement did not confirm them (each followed by an acknowledged round). */
  unconfirmedWindows: number;
  /** Times the NATS client reconnected. */
  reconnects: number;
  connected: boolean;
  /** The stream's duplicate window: how long exactly-once holds for a redelivered entry. null until known. */
  duplicateWindowMs: number | null;
}

export interface Mirror {
  /** Resolves when the mirror stopped after `signal` aborted (or `stop()`); rejects on a fatal error (a WalError). */
  readonly done: Promise<void>;
  stats(): Promise<MirrorStats>;
  /** Stops it as the signal would and waits for `done`. */
  stop(): Promise<void>;
}

const DEFAULT_MAX_IN_FLIGHT = 1024;
const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;
const DEFAULT_WINDOW_MAX_ENTRIES = 8192;
const DEFAULT_WINDOW_MAX_BYTES = 8 * 1024 * 1024;
const DEFAULT_ACK_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY_INITIAL_MS = 100;
const DEFAULT_RETRY_MAX_MS = 5_000;
const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

/** What the mirror reads entries through: a consumer's read calls. */
export type MirrorReader = Pick<ReadSurface, 'batchRead' | 'readNext' | 'count'>;

/** What the mirror needs of the WAL: its consumers, and its wait for new writes. */
export type MirrorWal = MirrorReader & Pick<ReadSurface, 'waitForWrites'> & { consumer(name: string): MirrorReader };

export interface TopicPlan {
  topic: string;
  subject: string;
  digest: string;
  topicHeader: string;
  published: number;
  duplicates: number;
}

export interface Resolved {
  topics: TopicPlan[];
  stream: string;
  namespace: string;
  /** The named consumer to read through; null: the WAL's default consumer. */
  consumer: string | null;
  /** The stream to create when it is missing, every default applied (null: createStream false). */
  createStream: Required<MirrorStreamOptions> | null;
  maxInFlight: number;
  maxBatchBytes: number;
  windowMaxEntries: number;
  windowMaxBytes: number;
  ackTimeoutMs: number;
  retry: { initialMs: number; maxMs: number };
}

export function resolveOptions(options: MirrorOptions): Resolved {
  if (typeof options !== 'object' || options === null)
    throw WalError.invalidArgument('mirror options must be an object');
  validateConnectionOptions(options);
  const { stream } = options;
  if (!isValidStreamName(stream))
    throw WalError.invalidArgument(
      `stream must be a JetStream stream name (no '.', '*', '>', whitespace), got ${String(stream)}`,
    );
  if (!Array.isArray(options.topics) || options.topics.length === 0)
    throw WalError.invalidArgument('topics must be a non-empty array of topic names');
  checkSignal(options.signal);
  if (options.subject !== undefined && typeof options.subject !== 'function')
    throw WalError.invalidArgument('subject must be a function (topic) => subject');
  if (options.namespace === undefined)
    throw WalError.invalidArgument(
      "namespace is required: a name for this WAL, distinct for every WAL that mirrors into the stream (a mirror that ran without one used the data directory's name: pass it to keep the same message ids)",
    );
  if (typeof options.namespace !== 'string' || options.namespace.length === 0)
    throw WalError.invalidArgument('namespace must be a non-empty string');
  // A string is checked by wal.consumer() itself, at the call (mirror()), like every consumer name.
  if (options.consumer !== undefined && options.consumer !== null && typeof options.consumer !== 'string')
    throw WalError.invalidArgument('consumer must be a consumer name or null (the default consumer)');
  const seen = new Set<string>();
  const subjectOf = subjectFunction(stream, options.subject);
  const topics: TopicPlan[] = options.topics.map((topic: unknown) => {
    encodeTopic(topic);
    const name = topic as string;
    if (seen.has(name)) throw WalError.invalidArgument(`topic listed twice: ${name}`, { topic: name });
    seen.add(name);
    const subject = subjectOf(name);
    if (
      typeof subject !== 'string' ||
      subject.length === 0 ||
      /[\s*>]/.test(subject) ||
      subject.startsWith('.') ||
      subject.endsWith('.') ||
      subject.includes('..')
    ) {
      throw WalError.invalidArgument(
        `subject(${JSON.stringify(name)}) must be a literal NATS subject, got ${JSON.stringify(subject)}`,
        { topic: name },
      );
    }
    return { topic: name, subject, digest: '', topicHeader: encodeHeaderValue(name), published: 0, duplicates: 0 };
  });
  const create = options.createStream ?? true;
  let createStream: Required<MirrorStreamOptions> | null = null;
  if (create === true || (typeof create === 'object' && create !== null)) {
    const {
      replicas = 1,
      duplicateWindowMs = DEFAULT_DUPLICATE_WINDOW_MS,
      storage = 'file',
      subjects = [`${stream}.>`],
    } = create === true ? {} : create;
    positiveInteger(replicas, 'createStream.replicas');
    positiveInteger(duplicateWindowMs, 'createStream.duplicateWindowMs');
    if (storage !== 'file' && storage !== 'memory')
      throw WalError.invalidArgument(`createStream.storage must be 'file' or 'memory'`);
    if (!(
      Array.isArray(subjects) &&
      subjects.length > 0 &&
      subjects.every((s) => typeof s === 'string' && s.length > 0)
    )) {
      throw WalError.invalidArgument('createStream.subjects must be a non-empty array of subjects');
    }
    createStream = { replicas, duplicateWindowMs, storage, subjects };
  } else if (create !== false) {
    throw WalError.invalidArgument('createStream must be a boolean or stream options');
  }
  return {
    topics,
    stream,
    namespace: options.namespace,
    consumer: options.consumer === undefined ? `mirror:${stream}` : options.consumer,
    createStream,
    maxInFlight: positiveInteger(options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, 'maxInFlight'),
    maxBatchBytes: positiveInteger(options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES, 'maxBatchBytes'),
    windowMaxEntries: positiveInteger(options.windowMaxEntries ?? DEFAULT_WINDOW_MAX_ENTRIES, 'windowMaxEntries'),
    windowMaxBytes: positiveInteger(options.windowMaxBytes ?? DEFAULT_WINDOW_MAX_BYTES, 'windowMaxBytes'),
    // Node timers, so at most 2^31 − 1 ms: a longer one fires after 1 ms (a hot retry loop).
    ackTimeoutMs: timerMs(options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS, 'ackTimeoutMs'),
    retry: {
      initialMs: timerMs(options.retryInitialMs ?? DEFAULT_RETRY_INITIAL_MS, 'retryInitialMs'),
      maxMs: timerMs(options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS, 'retryMaxMs'),
    },
  };
}

function timerMs(value: unknown, name: string): number {
  return checkTimerMs(value, name, { minMs: 1, integer: true });
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw WalError.invalidArgument(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}
