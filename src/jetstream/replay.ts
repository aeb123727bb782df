/**
 * `replay(stream, wal, options)`: rebuilds topics in a local WAL from what `mirror` wrote to a
 * JetStream stream (a new or rebuilt machine). See docs/SCALE-OUT.md.
 *
 * It reads the stream in order (an ordered consumer, up to the stream's last sequence when the
 * replay started) and appends each message's payload to its topic (from the `Walrus-Topic`
 * header) when its `Walrus-Seq` is the topic's next local sequence number:
 *   - seq < the topic's local `appended` count: already there, skipped. This makes a second run a
 *     no-op, and also absorbs copies a mirror re-published after the duplicate window expired;
 *   - seq = that count: appended (in batches of consecutive entries);
 *   - seq > that count: entries are missing, the replay stops with ERR_SEQUENCE_GAP (nothing after
 *     the gap is appended to that topic; what came before stays appended).
 * So the restored sequence numbers equal the originals: a topic restores only from seq 0 into an
 * empty topic, or continues one that already holds the entries before the stream's first one.
 */
import { jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { WalError, toWalError } from '../errors.js';
import type { AppendSurface, ReadSurface } from '../engine/main/read-surface.js';
import { checkSignal, checkTimerMs } from '../argument-checks.js';
import { unpackValue } from '../value-codec.js';
import { encodeTopic } from '../storage/limits.js';
import {
  describeError,
  openConnection,
  streamInfo,
  validateConnectionOptions,
  type ConnectionOptions,
} from './connection.js';
import {
  HEADER_CODEC,
  HEADER_NAMESPACE,
  HEADER_SEQ,
  HEADER_TOPIC,
  decodeHeaderValue,
  isValidStreamName,
  subjectFunction,
} from './message-id.js';

export interface ReplayOptions extends ConnectionOptions {
  /** Restore only these topics (default: every topic found in the stream). */
  topics?: readonly string[];
  /** The subject the mirror used per topic (as in `mirror`); with `topics`, only those subjects are read. */
  subject?: (topic: string) => string;
  /** Restore only messages mirrored from this namespace (default: any; a topic seen from two namespaces fails). */
  namespace?: string;
  /** Stops the replay between batches; it resolves with what was restored so far. */
  signal?: AbortSignal;
  /** Timeout of each request to the broker. Default 10 000 ms. */
  requestTimeoutMs?: number;
}

export interface ReplayTopicReport {
  /** Entries appended to the local topic by this replay. */
  appended: number;
  /** Messages skipped because the local topic already had their sequence number. */
  skipped: number;
  /** The topic's next local sequence number after the replay. */
  nextSeq: number;
}

/** A stream message with mirror headers that could not be read: skipped, the replay goes on. */
export interface ReplayMalformedMessage {
  streamSequence: number;
  reason: string;
}

export interface ReplayReport {
  /** Keyed by topic name; a null-prototype object, so any topic name (even `__proto__`) is an own key. */
  topics: Record<string, ReplayTopicReport>;
  /** Stream messages read. */
  messages: number;
  /**
   * Messages whose mirror headers are malformed (a bad `%` escape, a topic name the WAL refuses,
   * a seq that is not an integer) or whose msgpack payload does not decode: each is skipped, and a
   * topic that needed one then stops at it with ERR_SEQUENCE_GAP, as for any missing entry. The
   * first MAX_MALFORMED_LISTED are listed; `malformedCount` counts them all.
   */
  malformed: ReplayMalformedMessage[];
  malformedCount: number;
  /** False when the signal stopped it early. */
  complete: boolean;
}

export type ReplayWal = Pick<AppendSurface, 'batchAppend'> & Pick<ReadSurface, 'stats'>;

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Consecutive entries appended with one atomic batchAppend; well under the WAL's default maxBatchEntries. */
const APPEND_BATCH_ENTRIES = 1000;
const APPEND_BATCH_BYTES = 4 * 1024 * 1024;
const FETCH_MESSAGES = 1000;
/** Bounds the report whatever the stream holds. */
export const MAX_MALFORMED_LISTED = 100;

interface TopicProgress {
  report: ReplayTopicReport;
  namespace: string;
  codec: 'raw' | 'msgpack';
  buffer: unknown[];
  bufferBytes: number;
}

/** Restores topics of `wal` from `stream`. Rejects with a WalError. */
export async function replay(stream: string, wal: ReplayWal, options: ReplayOptions): Promise<ReplayReport> {
  if (!isValidStreamName(stream))
    throw WalError.invalidArgument(`stream must be a JetStream stream name, got ${String(stream)}`);
  if (typeof options !== 'object' || options === null)
    throw WalError.invalidArgument('replay options must be an object');
  validateConnectionOptions(options);
  checkSignal(options.signal);
  if (options.subject !== undefined && typeof options.subject !== 'function')
    throw WalError.invalidArgument('subject must be a function');
  if (options.topics !== undefined && !Array.isArray(options.topics))
    throw WalError.invalidArgument('topics must be an array');
  const wanted = options.topics ? new Set(options.topics.map((t: unknown) => (encodeTopic(t), t as string))) : null;
  const timeout = checkTimerMs(options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeoutMs', {
    minMs: 1,
    integer: true,
  });
  const signal = options.signal ?? new AbortController().signal;

  const owned = await openConnection(options, 'walrus-replay', signal, false).catch((err: unknown) => {
    throw new WalError('ERR_IO', `cannot reach the NATS servers: ${describeError(err)}`, { stream }, { cause: err });
  });
  // Null prototype: a topic named `__proto__` (or `constructor`) must be an own key like any other.
  const topics = Object.create(null) as Record<string, ReplayTopicReport>;
  const report: ReplayReport = { topics, messages: 0, malformed: [], malformedCount: 0, complete: false };
  if (!owned) return report;
  try {
    const jsm = await jetstreamManager(owned.nc, { timeout });
    const info = await streamInfo(jsm, stream);
    if (!info) throw WalError.invalidArgument(`stream ${stream} does not exist`, { stream });
    const lastSeq = info.state.last_seq;
    const local = (await wal.stats()).topics;
    const progress = new Map<string, TopicProgress>();
    const js = jetstream(owned.nc, { timeout });

    const flush = async (topic: string, p: TopicProgress): Promise<void> => {
      if (p.buffer.length === 0) return;
      await wal.batchAppend(topic, p.buffer, { codec: p.codec });
      p.report.appended += p.buffer.length;
      p.buffer = [];
      p.bufferBytes = 0;
    };
    const flushAll = async (): Promise<void> => {
      for (const [topic, p] of progress) await flush(topic, p);
    };

    const reportMalformed = (msg: JsMsg, reason: string): void => {
      report.malformedCount++;
      if (report.malformed.length < MAX_MALFORMED_LISTED)
        report.malformed.push({ streamSequence: msg.info.streamSequence, reason });
    };

    const accept = async (msg: JsMsg): Promise<void> => {
      report.messages++;
      const h = msg.headers;
      if (!h || !h.has(HEADER_TOPIC) || !h.has(HEADER_SEQ)) return; // not written by a mirror
      const parsed = parseMirrorHeaders(h.get(HEADER_NAMESPACE), h.get(HEADER_TOPIC), h.get(HEADER_SEQ));
      if (typeof parsed === 'string') {
        reportMalformed(msg, parsed);
        return;
      }
      const { namespace, topic, seq } = parsed;
      if (options.namespace !== undefined && namespace !== options.namespace) return;
      if (wanted && !wanted.has(topic)) return;
      const codec = h.get(HEADER_CODEC) === 'msgpack' ? 'msgpack' : 'raw';
      let p = progress.get(topic);
      if (!p) {
        // Own keys only: a WAL whose stats() returns a plain object must not answer `__proto__` with Object.prototype.
        const nextSeq = (Object.hasOwn(local, topic) ? local[topic]?.appended : undefined) ?? 0;
        p = { report: { appended: 0, skipped: 0, nextSeq }, namespace, codec, buffer: [], bufferBytes: 0 };
        progress.set(topic, p);
        report.topics[topic] = p.report;
      }
      if (p.namespace !== namespace) {
        throw new WalError(
          'ERR_CONFLICT',
          `topic ${JSON.stringify(topic)} was mirrored from two namespaces (${p.namespace}, ${namespace}): pass options.namespace`,
          { topic, stream },
        );
      }
      if (seq < p.report.nextSeq) {
        p.report.skipped++;
        return;
      }
      if (seq > p.report.nextSeq) {
        await flushAll();
        throw new WalError(
          'ERR_SEQUENCE_GAP',
          `topic ${JSON.stringify(topic)} needs seq ${p.report.nextSeq} next but stream ${stream} has seq ${seq} (stream sequence ${msg.info.streamSequence}): entries are missing`,
          {
            topic,
            stream,
            expectedSeq: p.report.nextSeq,
            actual: seq,
          },
        );
      }
      // One codec per atomic batch: a batch mixing codecs would store the raw entries packed.
      if (codec !== p.codec) {
        await flush(topic, p);
        p.codec = codec;
      }
      // Copied: the message buffer is reused by the client. Msgpack entries go back in as values.
      let entry: unknown;
      try {
        entry = codec === 'msgpack' ? unpackValue(msg.data) : Uint8Array.from(msg.data);
      } catch (err) {
        reportMalformed(
          msg,
          `msgpack payload of ${JSON.stringify(topic)} seq ${seq} does not decode: ${describeError(err)}`,
        );
        return;
      }
      p.buffer.push(entry);
      p.bufferBytes += msg.data.byteLength;
      p.report.nextSeq++;
      if (p.buffer.length >= APPEND_BATCH_ENTRIES || p.bufferBytes >= APPEND_BATCH_BYTES) await flush(topic, p);
    };

    if (lastSeq > 0 && info.state.messages > 0) {
      const subjectOf = subjectFunction(stream, options.subject);
      const subjects = wanted ? [...new Set([...wanted].map((t) => subjectOf(t)))] : [null];
      for (const subject of subjects) {
        if (signal.aborted) break;
        // Where this read ends, asked of the stream leader. A consumer may be served by a replica
        // still catching up (after a broker restart), whose `pending` says 0 long before the end.
        let endSeq = lastSeq;
        if (subject !== null) {
          const last = await jsm.streams.getMessage(stream, { last_by_subj: subject });
          if (last === null) continue;
          endSeq = Math.min(lastSeq, last.seq);
        }
        // One subject filter per consumer: nats-server 2.9 has no multi-subject filters.
        const consumer = await js.consumers.get(stream, subject === null ? {} : { filter_subjects: subject });
        await readUpTo(consumer, endSeq, signal, accept);
      }
    }
    await flushAll();
    report.complete = !signal.aborted;
    return report;
  } catch (err) {
    throw toWalError(err);
  } finally {
    await owned.release();
  }
}

/**
 * The namespace, topic and seq a mirror wrote in a message's headers, or why they cannot be read.
 * Anyone can publish to the stream, so each is checked as the WAL would check it: `%` escapes that
 * decode (decodeURIComponent throws a URIError on a malformed one), a topic name the WAL accepts
 * (a lone surrogate or an over-long name would fail the whole batchAppend), a safe-integer seq.
 */
export function parseMirrorHeaders(
  namespaceHeader: string,
  topicHeader: string,
  seqHeader: string,
): { namespace: string; topic: string; seq: number } | string {
  let namespace: string;
  let topic: string;
  try {
    namespace = decodeHeaderValue(namespaceHeader);
    topic = decodeHeaderValue(topicHeader);
  } catch (err) {
    return `malformed ${HEADER_NAMESPACE} or ${HEADER_TOPIC} header: ${describeError(err)}`;
  }
  try {
    encodeTopic(topic);
  } catch (err) {
    return `${HEADER_TOPIC} is not a valid topic name: ${describeError(err)}`;
  }
  const seq = /^(0|[1-9][0-9]*)$/.test(seqHeader) ? Number(seqHeader) : Number.NaN;
  if (!Number.isSafeInteger(seq))
    return `${HEADER_SEQ} ${JSON.stringify(seqHeader.slice(0, 40))} is not a sequence number`;
  return { namespace, topic, seq };
}

/** Feeds messages in stream order to `accept` up to stream sequence `endSeq`. */
async function readUpTo(
  consumer: Consumer,
  endSeq: number,
  signal: AbortSignal,
  accept: (msg: JsMsg) => Promise<void>,
): Promise<void> {
  const messages = await consumer.consume({ max_messages: FETCH_MESSAGES });
  const onAbort = (): void => void messages.stop();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const msg of messages) {
      if (msg.info.streamSequence > endSeq) break;
      await accept(msg);
      if (msg.info.streamSequence >= endSeq || signal.aborted) break;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await messages.close().catch(() => {});
  }
}
