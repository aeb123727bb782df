/**
 * `mirror(wal, options)`: copies topics into a JetStream stream, exactly once within the stream's
 * duplicate window, in per-topic order. See docs/SCALE-OUT.md for the guarantees and their limits.
 *
 * One round at a time, for all mirrored topics together:
 *   1. peek each topic from its cursor (`batchRead` with `checkpoint: false`) and cut up to two
 *      windows (each at most `windowMaxEntries` entries and `windowMaxBytes` payload bytes, shared
 *      round-robin between the topics so none starves; publish-windows.ts);
 *   2. publish the windows' entries back to back as one chain, each with its deterministic message
 *      id (message-id.ts), `Nats-Expected-Last-Sequence` = the stream sequence it must follow and,
 *      from the second on, `Nats-Expected-Last-Msg-Id` = its predecessor's id. All but each window's
 *      last go out as core publishes (no reply, nothing to wait for); a window's last one is a
 *      request, and its acknowledgement confirms the window: stored (not a duplicate) at exactly the
 *      predicted sequence means every message before it is stored, in order, right before it (each
 *      one was accepted only on top of its predecessor). Anything else confirms nothing from there;
 *   3. consume from each topic exactly the confirmed prefix (consume-exactly.ts). The cursor never
 *      moves past an entry the broker has not stored.
 * A window that is not confirmed (a stale prediction: duplicates after a restart, another writer; or
 * a broker failure) is followed by one acknowledged round: the same entries again, each publish
 * acknowledged (at most `maxInFlight` outstanding), so duplicates are recognized one by one and
 * exactly the stored prefix is consumed. Then windows resume. Its messages carry the same two
 * expectations (the first one only the sequence), so it too stores a prefix, in order.
 *
 * Why the expected-last-sequence chain: with many publishes in flight, a broker failure can lose
 * one (in transit to a dying stream leader) while later ones reach the new leader. Retrying the lost
 * one would store it after its successors. With every message pinned to the stream position right
 * after its predecessor, a message whose predecessor is missing is rejected instead, so what the
 * stream holds of a round is always a prefix of it: order is kept, and the rest is published again
 * in the next round. The prediction assumes the mirror is the stream's only writer; another writer
 * (or a re-published duplicate, which does not take a position) only costs a rejected tail and a
 * re-read of the stream's last sequence, never order.
 */
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { WalError, toWalError } from '../errors.js';
import type { Entry } from '../engine/main/entry.js';
import { armWait } from '../engine/main/write-waits.js';
import { backoffDelayMs, sleep } from './backoff.js';
import { consumeExactly } from './consume-exactly.js';
import { EncodedHeaders } from './encoded-headers.js';
import { WINDOWS_IN_FLIGHT, cutWindows, publishWindows, type RoundResult } from './publish-windows.js';
import { describeError, isStalePrediction, openConnection, streamInfo, type ConnectionOptions } from './connection.js';
import {
  HEADER_CODEC,
  HEADER_NAMESPACE,
  HEADER_SEQ,
  HEADER_TOPIC,
  encodeHeaderValue,
  messageIdFromDigest,
  topicDigest,
} from './message-id.js';
import {
  resolveOptions,
  type Mirror,
  type MirrorOptions,
  type MirrorReader,
  type MirrorStats,
  type MirrorTopicStats,
  type MirrorWal,
  type Resolved,
} from './mirror-options.js';
import { RateMeter } from './rate-meter.js';

const NANOS_PER_MS = 1_000_000;

/**
 * Starts mirroring `options.topics` of `wal` into `options.stream`. Validates at the call (a bad
 * option throws ERR_INVALID_ARGUMENT); everything after runs in the background.
 */
export function mirror(wal: MirrorWal, options: MirrorOptions): Mirror {
  const resolved = resolveOptions(options);
  const stopper = new AbortController();
  const outer = options.signal;
  if (outer) {
    if (outer.aborted) stopper.abort();
    else outer.addEventListener('abort', () => stopper.abort(), { once: true });
  }
  const reader = resolved.consumer === null ? wal : wal.consumer(resolved.consumer);
  const run = new MirrorRun(wal, reader, resolved, options, stopper.signal);
  const done = run.start();
  // A caller that only watches stats() must not crash the process with an unhandled rejection.
  done.catch(() => {});
  return {
    done,
    stats: () => run.stats(),
    stop: async () => {
      stopper.abort();
      await done;
    },
  };
}

class MirrorRun {
  /** Waited on for new writes (armWait); entries are read through #reader only. */
  readonly #wal: MirrorWal;
  readonly #reader: MirrorReader;
  readonly #opts: Resolved;
  readonly #connection: ConnectionOptions;
  readonly #stop: AbortSignal;
  readonly #rate = new RateMeter();
  #failedRounds = 0;
  #unconfirmedWindows = 0;
  #reconnects = 0;
  #connected = false;
  #lastError: MirrorStats['lastError'] = null;
  #duplicateWindowMs: number | null = null;

  constructor(wal: MirrorWal, reader: MirrorReader, opts: Resolved, connection: ConnectionOptions, stop: AbortSignal) {
    this.#wal = wal;
    this.#reader = reader;
    this.#opts = opts;
    this.#connection = { servers: connection.servers, connection: connection.connection };
    this.#stop = stop;
  }

  async stats(): Promise<MirrorStats> {
    // A closed WAL has no lag to report (0); the counters still are the truth.
    const lags = await Promise.all(this.#opts.topics.map((plan) => this.#reader.count(plan.topic).catch(() => 0)));
    // Null prototype: a topic named `__proto__` (or `constructor`) must be an own key like any other.
    const topics = Object.create(null) as Record<string, MirrorTopicStats>;
    this.#opts.topics.forEach((plan, i) => {
      topics[plan.topic] = { lag: lags[i]!, published: plan.published, duplicates: plan.duplicates };
    });
    return {
      topics,
      published: this.#totalOf('published'),
      duplicates: this.#totalOf('duplicates'),
      publishedPerSec: this.#rate.perSecond(),
      lastError: this.#lastError,
      failedRounds: this.#failedRounds,
      unconfirmedWindows: this.#unconfirmedWindows,
      reconnects: this.#reconnects,
      connected: this.#connected,
      duplicateWindowMs: this.#duplicateWindowMs,
    };
  }

  async start(): Promise<void> {
    const { namespace } = this.#opts;
    for (const plan of this.#opts.topics) plan.digest = topicDigest(namespace, plan.topic);
    const owned = await openConnection(this.#connection, `walrus-mirror:${namespace}`, this.#stop, true);
    if (!owned) return;
    this.#connected = true;
    void this.#watchStatus(owned.nc);
    try {
      await this.#loop(owned.nc, encodeHeaderValue(namespace));
    } catch (err) {
      throw toWalError(err);
    } finally {
      await owned.release();
    }
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    try {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.#connected = false;
        else if (s.type === 'reconnect') {
          this.#connected = true;
          this.#reconnects++;
        }
      }
    } catch {
      // The status stream ends with the connection; nothing to report.
    }
  }

  #noteError(err: unknown): void {
    this.#lastError = { message: describeError(err), atMs: Date.now() };
  }

  async #loop(nc: NatsConnection, namespaceHeader: string): Promise<void> {
    const js = jetstream(nc, { timeout: this.#opts.ackTimeoutMs });
    let jsm: JetStreamManager | null = null;
    /** The stream's last sequence as far as the mirror knows; null = ask the stream. */
    let lastSeq: number | null = null;
    /** The id of the message at `lastSeq` when this mirror stored it; null = unknown (not expected). */
    let lastMsgId: string | null = null;
    /** false after a window that did not confirm: the next round is acknowledged message by message. */
    let windowed = true;
    let failures = 0;
    while (!this.#stop.aborted) {
      if (lastSeq === null) {
        lastMsgId = null;
        try {
          jsm ??= await jetstreamManager(nc, { timeout: this.#opts.ackTimeoutMs });
          lastSeq = await this.#prepareStream(jsm);
        } catch (err) {
          this.#noteError(err);
          jsm = null;
          await sleep(backoffDelayMs(failures++, this.#opts.retry), this.#stop);
          continue;
        }
        if (lastSeq === null) {
          await sleep(backoffDelayMs(failures++, this.#opts.retry), this.#stop);
          continue;
        }
      }
      const peeked = await this.#peekOrWait();
      if (peeked === null) continue;
      // After a window that did not confirm, one window's worth goes in the acknowledged round.
      const windows = cutWindows(peeked, this.#opts, windowed ? WINDOWS_IN_FLIGHT : 1);
      // Per topic, the windows together are a prefix of what was peeked: consumed from the same start.
      const batches = peeked.map((b, t) =>
        b.slice(
          0,
          windows.reduce((n, w) => n + w[t]!.length, 0),
        ),
      );
      const round: RoundResult = windowed
        ? await publishWindows(nc, js, this.#opts, namespaceHeader, windows, lastSeq, lastMsgId)
        : await this.#publishRound(js, namespaceHeader, batches, lastSeq);
      let progress = 0;
      for (let t = 0; t < batches.length; t++) {
        const stored = batches[t]!.slice(0, round.storedPrefix[t]);
        if (stored.length === 0) continue;
        // Only after the confirmation: a crash before this line re-publishes, and the ids deduplicate.
        await consumeExactly(this.#reader, this.#opts.topics[t]!.topic, stored);
        this.#count(t, stored.length);
        progress += stored.length;
      }
      if (round.error === undefined) {
        failures = 0;
        windowed = true;
        if (round.lastStoredSeq !== null) {
          lastSeq = round.lastStoredSeq;
          lastMsgId = round.lastStoredId;
        }
        continue;
      }
      // Some publish failed: re-read where the stream stands, then go again from the cursors.
      lastSeq = null;
      if (windowed) {
        this.#unconfirmedWindows++;
        windowed = false;
        // A stale prediction (duplicates after a restart, another writer) is no broker problem:
        // straight to the acknowledged round, which tells duplicates from new entries one by one.
        if (round.onlyStalePredictions) continue;
      } else if (round.onlyStalePredictions && progress > 0) continue;
      this.#failedRounds++;
      this.#noteError(round.error);
      await sleep(backoffDelayMs(failures++, this.#opts.retry), this.#stop);
    }
  }

  #count(topicIndex: number, published: number): void {
    this.#opts.topics[topicIndex]!.published += published;
    this.#rate.record(this.#totalOf('published'));
  }

  #totalOf(counter: 'published' | 'duplicates'): number {
    return this.#opts.topics.reduce((n, plan) => n + plan[counter], 0);
  }

  /** Creates the stream if needed; returns its last sequence, or null if it is missing and may not be created. */
  async #prepareStream(jsm: JetStreamManager): Promise<number | null> {
    let info = await streamInfo(jsm, this.#opts.stream);
    if (!info) {
      const create = this.#opts.createStream;
      if (!create) {
        this.#noteError(new Error(`stream ${this.#opts.stream} does not exist (createStream: false)`));
        return null;
      }
      info = await jsm.streams.add({
        name: this.#opts.stream,
        subjects: create.subjects,
        num_replicas: create.replicas,
        duplicate_window: nanos(create.duplicateWindowMs),
        storage: create.storage,
      } as Parameters<JetStreamManager['streams']['add']>[0]);
    }
    this.#duplicateWindowMs = Math.round(info.config.duplicate_window / NANOS_PER_MS);
    return info.state.last_seq;
  }

  /**
   * Peeks every topic; when all are empty, sleeps until a writer publishes (armed before a second
   * look, so a write between the look and the wait is not missed). Returns null to loop again.
   */
  async #peekOrWait(): Promise<Entry[][] | null> {
    const peek = (): Promise<Entry[][]> =>
      Promise.all(
        this.#opts.topics.map((p) =>
          this.#reader.batchRead(p.topic, { maxBytes: this.#opts.maxBatchBytes, checkpoint: false }),
        ),
      );
    let batches = await peek();
    if (batches.some((b) => b.length > 0)) return batches;
    const wait = armWait(
      this.#wal,
      this.#opts.topics.map((p) => p.topic),
      this.#stop,
    );
    batches = await peek().catch((err: unknown) => {
      wait.cancel();
      throw err;
    });
    if (batches.some((b) => b.length > 0)) {
      wait.cancel();
      return batches;
    }
    const outcome = await wait.done;
    if (outcome === 'closed') throw WalError.closed();
    if (outcome !== 'woke') throw outcome.error;
    return null;
  }

  async #publishRound(
    js: JetStreamClient,
    namespaceHeader: string,
    batches: Entry[][],
    lastSeq: number,
  ): Promise<RoundResult> {
    /** Per topic, per peeked entry: undefined = not sent or failed, else the ack. */
    const acks: Array<Array<PubAck | undefined>> = batches.map((b) => new Array<PubAck | undefined>(b.length));
    let error: unknown;
    let onlyStalePredictions = true;
    const inFlight = new Set<Promise<void>>();
    let expectedLast = lastSeq;
    let previousId: string | null = null;
    const opts = this.#opts;
    outer: for (let t = 0; t < batches.length; t++) {
      const plan = opts.topics[t]!;
      const batch = batches[t]!;
      for (let i = 0; i < batch.length; i++) {
        while (inFlight.size >= opts.maxInFlight) await Promise.race(inFlight);
        // After a failure the rest would be rejected anyway (their predecessor is missing).
        if (error !== undefined) break outer;
        const entry = batch[i]!;
        const h = new EncodedHeaders();
        h.append(HEADER_NAMESPACE, namespaceHeader);
        h.append(HEADER_TOPIC, plan.topicHeader);
        h.append(HEADER_SEQ, String(entry.seq));
        h.append(HEADER_CODEC, entry.codec);
        const id = messageIdFromDigest(plan.digest, entry.seq);
        // 0 = empty stream: the client sends no expectation then (JetStream treats 0 as unset). The
        // round's first message expects no id (the round follows a re-read of the stream's state).
        const expect: { streamName: string; lastSequence?: number; lastMsgID?: string } = { streamName: opts.stream };
        if (expectedLast > 0) expect.lastSequence = expectedLast;
        if (previousId !== null) expect.lastMsgID = previousId;
        expectedLast++;
        previousId = id;
        const p = js
          .publish(plan.subject, entry.data, {
            msgID: id,
            headers: h,
            expect,
            timeout: opts.ackTimeoutMs,
          })
          .then(
            (ack: PubAck) => {
              acks[t]![i] = ack;
            },
            (err: unknown) => {
              const stale = isStalePrediction(err);
              if (!stale) onlyStalePredictions = false;
              // Keep the most telling failure: a broker problem over the rejections it caused.
              if (error === undefined || !stale) error = err;
            },
          )
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    }
    await Promise.all(inFlight);
    const storedPrefix: number[] = [];
    let lastStoredSeq: number | null = null;
    let lastStoredId: string | null = null;
    for (let t = 0; t < batches.length; t++) {
      // An entry counts only if every entry before it in the topic is stored too.
      let n = 0;
      for (const ack of acks[t]!) {
        if (ack === undefined) break;
        if (ack.duplicate) {
          this.#opts.topics[t]!.duplicates++;
        } else if (lastStoredSeq === null || ack.seq > lastStoredSeq) {
          lastStoredSeq = ack.seq;
          lastStoredId = messageIdFromDigest(this.#opts.topics[t]!.digest, batches[t]![n]!.seq);
        }
        n++;
      }
      storedPrefix.push(n);
    }
    return { storedPrefix, lastStoredSeq, lastStoredId, error, onlyStalePredictions };
  }
}
