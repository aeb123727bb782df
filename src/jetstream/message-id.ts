/**
 * What a mirrored message carries so that JetStream can deduplicate it and `replay` can rebuild
 * the topic: a deterministic message id and four headers. This is a wire format: changing it
 * breaks deduplication against messages already in a stream (bump MESSAGE_ID_VERSION if it must).
 *
 * Message id: `w1.<digest>.<seq>`
 *   - `digest` = the first 16 bytes of SHA-256 over (u32be byte length of the namespace, the
 *     namespace's UTF-8 bytes, the topic's UTF-8 bytes), base64url without padding (22 chars).
 *     Length-prefixing the namespace makes the pair unambiguous (`"ab"+"c"` ≠ `"a"+"bc"`); hashing
 *     keeps the id short and ASCII however long or strange the topic is (up to 4096 UTF-8 bytes,
 *     any characters, including `.` and newlines).
 *   - `seq` = the entry's per-topic sequence number in decimal.
 *   So the id is a pure function of (namespace, topic, seq): the same entry published again after
 *   a crash gets the same id, which is what JetStream's duplicate window detects.
 *
 * Headers (values percent-encoded with encodeURIComponent, because NATS header values cannot hold
 * CR/LF and topics can):
 *   - `Walrus-Namespace`, `Walrus-Topic`, `Walrus-Seq` (decimal), `Walrus-Codec` (`raw`/`msgpack`).
 */
import { createHash } from 'node:crypto';

export const MESSAGE_ID_VERSION = 'w1';
export const HEADER_NAMESPACE = 'Walrus-Namespace';
export const HEADER_TOPIC = 'Walrus-Topic';
export const HEADER_SEQ = 'Walrus-Seq';
export const HEADER_CODEC = 'Walrus-Codec';

/** 128 bits: collisions between distinct (namespace, topic) pairs are not a practical concern. */
const DIGEST_BYTES = 16;

/** The first DIGEST_BYTES of the SHA-256 of `parts` (concatenated), in base64url. */
function digestOf(...parts: Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest().subarray(0, DIGEST_BYTES).toString('base64url');
}

/** The per-(namespace, topic) part of the id, computed once per topic by the mirror. */
export function topicDigest(namespace: string, topic: string): string {
  const ns = Buffer.from(namespace, 'utf8');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(ns.byteLength);
  return digestOf(prefix, ns, Buffer.from(topic, 'utf8'));
}

export function messageIdFromDigest(digest: string, seq: number): string {
  return `${MESSAGE_ID_VERSION}.${digest}.${seq}`;
}

/** The JetStream message id of entry `seq` of `topic` in `namespace`. */
export function messageId(namespace: string, topic: string, seq: number): string {
  return messageIdFromDigest(topicDigest(namespace, topic), seq);
}

export function encodeHeaderValue(value: string): string {
  return encodeURIComponent(value);
}

export function decodeHeaderValue(value: string): string {
  return decodeURIComponent(value);
}

/** Characters a subject token may hold verbatim; anything else is hashed (NATS forbids `.`, `*`, `>` and whitespace). */
const PLAIN_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The default subject of a topic: `<stream>.<token>`, where the token is the topic itself when it
 * is short and plain (`orders` → `WALRUS.orders`), else `~` + a digest of it (`~` cannot occur in
 * a plain token, so the two forms never collide). Replay never relies on the subject: the headers
 * carry the topic.
 */
export function defaultSubject(stream: string, topic: string): string {
  if (PLAIN_TOKEN.test(topic)) return `${stream}.${topic}`;
  return `${stream}.~${digestOf(Buffer.from(topic, 'utf8'))}`;
}

/** The subject function of a mirror or replay: the caller's, else `defaultSubject` in `stream`. */
export function subjectFunction(stream: string, subject?: (topic: string) => string): (topic: string) => string {
  return subject ?? ((topic) => defaultSubject(stream, topic));
}

/** JetStream stream names: no `.`, `*`, `>`, path separators or whitespace. */
const STREAM_NAME = /^[^.*>/\\\s]{1,255}$/;

export function isValidStreamName(name: unknown): name is string {
  return typeof name === 'string' && STREAM_NAME.test(name);
}
