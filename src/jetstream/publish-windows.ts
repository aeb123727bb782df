/**
 * The mirror's windows (see mirror.ts for the round and docs/SCALE-OUT.md for what a window may
 * lose or duplicate): cutting peeked entries into windows, and publishing windows back to back as
 * one chain without waiting per message.
 *
 * Why more than one window in flight: with one, the mirror sat idle for the broker's answer to a
 * window's last message while the broker still stored the window's tail, then the broker sat idle
 * while the mirror read and encoded the next one (the acknowledgement wait was a quarter of the
 * mirror's loop at ~100 k messages/s). The second window's core publishes go out while the first
 * is still being stored. Each window's last message is a request: its acknowledgement, at exactly
 * the predicted sequence, confirms that window and every window before it (the chain runs through
 * all of them: one message rejected rejects everything after it, the confirming requests included).
 */
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { WalError } from '../errors.js';
import type { Entry } from '../engine/main/entry.js';
import { isStalePrediction } from './connection.js';
import { EncodedHeaders } from './encoded-headers.js';
import { HEADER_CODEC, HEADER_NAMESPACE, HEADER_SEQ, HEADER_TOPIC, messageIdFromDigest } from './message-id.js';
import type { Resolved } from './mirror-options.js';

/** Windows published before the first one's acknowledgement is awaited. */
export const WINDOWS_IN_FLIGHT = 2;
/** Core publishes between yields to the event loop, so the socket drains (and answers arrive) while we encode. */
const YIELD_EVERY_ENTRIES = 1000;

/** `Nats-Expected-Last-Sequence` / `Nats-Expected-Last-Msg-Id`, set by hand on the core publishes of a window. */
const EXPECTED_LAST_SEQUENCE_HEADER = 'Nats-Expected-Last-Sequence';
const EXPECTED_LAST_MSG_ID_HEADER = 'Nats-Expected-Last-Msg-Id';
const MSG_ID_HEADER = 'Nats-Msg-Id';

/** What one round published: per topic, how many of its peeked entries JetStream has. */
export interface RoundResult {
  storedPrefix: number[];
  /** The highest stream sequence the round stored (not a duplicate), and that message's id. */
  lastStoredSeq: number | null;
  lastStoredId: string | null;
  error: unknown;
  /** Every failure was a rejected expectation (a stale prediction), not a broker problem. */
  onlyStalePredictions: boolean;
}

/**
 * Cuts the peeked batches into at most `count` consecutive windows, each of at most
 * `windowMaxEntries` entries and `windowMaxBytes` payload bytes (but at least one entry), taken
 * round-robin so every topic with entries gets its share. Per topic, the windows together are a
 * prefix of its batch, the first window's part first.
 */
export function cutWindows(batches: Entry[][], opts: Resolved, count: number): Entry[][][] {
  const windows: Entry[][][] = [];
  let rest = batches;
  while (windows.length < count && rest.some((b) => b.length > 0)) {
    const window = cutWindow(rest, opts);
    windows.push(window);
    rest = rest.map((b, t) => b.slice(window[t]!.length));
  }
  return windows;
}

function cutWindow(batches: Entry[][], opts: Resolved): Entry[][] {
  const { windowMaxEntries, windowMaxBytes } = opts;
  let entries = 0;
  let bytes = 0;
  for (const b of batches) {
    entries += b.length;
    for (const e of b) bytes += e.data.byteLength;
  }
  if (entries <= windowMaxEntries && bytes <= windowMaxBytes) return batches;
  const take = batches.map(() => 0);
  entries = 0;
  bytes = 0;
  for (let more = true; more;) {
    more = false;
    for (let t = 0; t < batches.length; t++) {
      const next = batches[t]![take[t]!];
      if (next === undefined) continue;
      if (entries >= windowMaxEntries) return batches.map((b, i) => b.slice(0, take[i]));
      if (entries > 0 && bytes + next.data.byteLength > windowMaxBytes)
        return batches.map((b, i) => b.slice(0, take[i]));
      take[t]!++;
      entries++;
      bytes += next.data.byteLength;
      more = true;
    }
  }
  return batches.map((b, i) => b.slice(0, take[i]));
}

/** A window's confirming publish: its acknowledgement (or failure), and what it must say. */
interface Confirmation {
  answer: Promise<PubAck | { failed: unknown }>;
  predicted: number;
  id: string;
}

/**
 * Publishes `windows` as one chain: every entry as a core publish except each window's last, a
 * request whose acknowledgement confirms the window. Each message carries the expectations that make
 * the stream hold a prefix of the chain, in order, whatever is lost on the way:
 * `Nats-Expected-Last-Sequence` (its predicted predecessor's stream sequence) and
 * `Nats-Expected-Last-Msg-Id` (its predecessor's id; for the first one, the id of the message the
 * last confirmed round ended with, when known). A message whose predecessor is missing, a duplicate
 * (it takes no position) or another writer's message breaks the chain: every later message is
 * rejected by the stream, confirming requests included. The result counts the windows confirmed in
 * order, up to the first that is not; it is returned once every confirming request has an answer,
 * so nothing of this round is still on its way when the next one starts.
 */
export async function publishWindows(
  nc: NatsConnection,
  js: JetStreamClient,
  opts: Resolved,
  namespaceHeader: string,
  windows: Entry[][][],
  lastSeq: number,
  lastMsgId: string | null,
): Promise<RoundResult> {
  let expectedLast = lastSeq;
  let previousId = lastMsgId;
  let sent = 0;
  const confirmations: Confirmation[] = [];
  let publishError: unknown;
  publishing: for (const window of windows) {
    let lastTopic = -1;
    for (let t = 0; t < window.length; t++) if (window[t]!.length > 0) lastTopic = t;
    for (let t = 0; t < window.length; t++) {
      const plan = opts.topics[t]!;
      const batch = window[t]!;
      for (let i = 0; i < batch.length; i++) {
        const entry = batch[i]!;
        const id = messageIdFromDigest(plan.digest, entry.seq);
        const h = new EncodedHeaders();
        h.append(HEADER_NAMESPACE, namespaceHeader);
        h.append(HEADER_TOPIC, plan.topicHeader);
        h.append(HEADER_SEQ, String(entry.seq));
        h.append(HEADER_CODEC, entry.codec);
        if (t === lastTopic && i === batch.length - 1) {
          // The confirming publish: the client sets the same headers from these options.
          const expect: { streamName: string; lastSequence?: number; lastMsgID?: string } = { streamName: opts.stream };
          // 0 = empty stream: no expectation then (JetStream treats 0 as unset).
          if (expectedLast > 0) expect.lastSequence = expectedLast;
          if (previousId !== null) expect.lastMsgID = previousId;
          const answer = js
            .publish(plan.subject, entry.data, { msgID: id, headers: h, expect, timeout: opts.ackTimeoutMs })
            .catch((failed: unknown) => ({ failed }));
          confirmations.push({ answer, predicted: expectedLast + 1, id });
        } else {
          h.append(MSG_ID_HEADER, id);
          if (expectedLast > 0) h.append(EXPECTED_LAST_SEQUENCE_HEADER, String(expectedLast));
          if (previousId !== null) h.append(EXPECTED_LAST_MSG_ID_HEADER, previousId);
          try {
            nc.publish(plan.subject, entry.data, { headers: h });
          } catch (err) {
            // The connection closed (the client buffers while it reconnects): nothing more is sent.
            publishError = err;
            break publishing;
          }
        }
        expectedLast++;
        previousId = id;
        if (++sent % YIELD_EVERY_ENTRIES === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }
  const answers = await Promise.all(confirmations.map((c) => c.answer));
  const storedPrefix = windows[0]!.map(() => 0);
  let lastStoredSeq: number | null = null;
  let lastStoredId: string | null = null;
  for (let w = 0; w < answers.length; w++) {
    const answer = answers[w]!;
    const { predicted, id } = confirmations[w]!;
    let error: unknown;
    if ('failed' in answer) error = answer.failed;
    else if (answer.duplicate || answer.seq !== predicted) {
      error = new WalError(
        'ERR_IO',
        `window not confirmed: its last message was ${answer.duplicate ? `a duplicate (of stream seq ${answer.seq})` : `stored at stream seq ${answer.seq}, predicted ${predicted}`}`,
        { stream: opts.stream },
      );
    }
    if (error !== undefined) {
      const stale = !('failed' in answer) || isStalePrediction(error);
      return { storedPrefix, lastStoredSeq, lastStoredId, error, onlyStalePredictions: stale };
    }
    windows[w]!.forEach((batch, t) => (storedPrefix[t]! += batch.length));
    lastStoredSeq = predicted;
    lastStoredId = id;
  }
  if (publishError !== undefined) {
    return { storedPrefix, lastStoredSeq, lastStoredId, error: publishError, onlyStalePredictions: false };
  }
  return { storedPrefix, lastStoredSeq, lastStoredId, error: undefined, onlyStalePredictions: true };
}
