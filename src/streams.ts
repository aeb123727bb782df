/**
 * Node stream adapters over a topic (docs/SEMANTICS.md rule D9; README.md, API).
 *
 * - `topicReadable`: an object-mode Readable of `Entry` objects (not Buffers: the sequence number,
 *   codec and decoded `value` stay available; `entry.data` is the payload). It follows the topic
 *   like `wal.subscribe` and pulls a batch only when the stream asks for data (`_read`), so a slow
 *   consumer stops reading from the WAL instead of buffering it.
 * - `topicWritable`: an object-mode Writable that appends every chunk; a write's callback runs when
 *   its append resolved (so `highWaterMark` bounds the appends in flight), and chunks that queued up
 *   meanwhile go out together through `batchAppend` (`_writev`).
 *
 *   import { pipeline } from 'node:stream/promises';
 *   await pipeline(topicReadable(wal, 'in', { signal }), transform, topicWritable(wal, 'out'));
 */
import { Readable, Writable } from 'node:stream';
import { WalError, toWalError } from './errors.js';
import { validateCodec, type EntryCodec } from './options.js';
import { encodeTopic } from './storage/limits.js';
import type { Entry } from './engine/main/entry.js';
import type { SubscribeOptions } from './engine/main/public-types.js';
import type { AppendSurface, ReadSurface } from './engine/main/read-surface.js';
import { checkSignal } from './argument-checks.js';

export interface TopicReadableOptions extends SubscribeOptions {
  /** Entries buffered by the stream before it stops pulling. Default 16. */
  highWaterMark?: number;
}

export interface TopicWritableOptions {
  /** Codec for the appends (default: the WAL's). 'msgpack' lets any JS value be written. */
  codec?: EntryCodec;
  /** Chunks buffered before `write()` returns false. Default 16. */
  highWaterMark?: number;
  /** Destroys the stream (AbortError) when aborted; appends already handed to the WAL still land. */
  signal?: AbortSignal;
}

/**
 * A Readable of the topic's entries. `signal` (or the WAL closing) ends it cleanly with 'end'; with
 * `checkpoint: true` (default) the entries of the batch already read are still pushed first, as
 * with `subscribe`. `destroy()` stops at once: entries already taken from the WAL but not yet read
 * from the stream (its buffer, the rest of the current batch) are consumed and dropped.
 */
export function topicReadable(
  wal: Pick<ReadSurface, 'subscribe'>,
  topic: string,
  options: TopicReadableOptions = {},
): Readable {
  return new TopicReadable(wal, topic, options);
}

/** A Writable that appends each chunk (Buffer, Uint8Array, string; any value with codec 'msgpack') to `topic`. */
export function topicWritable(wal: AppendSurface, topic: string, options: TopicWritableOptions = {}): Writable {
  return new TopicWritable(wal, topic, options);
}

class TopicReadable extends Readable {
  readonly #iterator: AsyncIterator<Entry>;
  /** Ends the subscription: on the user's abort, and on destroy (so a pending wait returns). */
  readonly #stop = new AbortController();
  readonly #userSignal: AbortSignal | undefined;
  readonly #onUserAbort = (): void => this.#stop.abort();
  #pulling = false;

  constructor(wal: Pick<ReadSurface, 'subscribe'>, topic: string, options: TopicReadableOptions) {
    if (typeof options !== 'object' || options === null)
      throw WalError.invalidArgument('topicReadable options must be an object');
    const { highWaterMark = 16, signal, ...subscribeOptions } = options;
    super({ objectMode: true, highWaterMark });
    // The user's signal goes to the subscription (not to Readable, which would destroy the stream
    // with an AbortError): an abort is a clean end of the topic, as for subscribe.
    const subscription = wal.subscribe(topic, { ...subscribeOptions, signal: this.#stop.signal });
    const userSignal = checkSignal(signal);
    if (userSignal?.aborted) this.#stop.abort();
    else userSignal?.addEventListener('abort', this.#onUserAbort, { once: true });
    this.#userSignal = userSignal;
    this.#iterator = subscription[Symbol.asyncIterator]();
  }

  override _read(): void {
    if (this.#pulling) return;
    this.#pulling = true;
    void this.#pull();
  }

  /** Pushes until the stream's buffer is full (push returns false); `_read` resumes it. */
  async #pull(): Promise<void> {
    try {
      for (;;) {
        const next = await this.#iterator.next();
        if (this.destroyed) return;
        if (next.done) {
          this.push(null);
          return;
        }
        if (!this.push(next.value)) return;
      }
    } catch (err) {
      this.destroy(toWalError(err));
    } finally {
      this.#pulling = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#userSignal?.removeEventListener('abort', this.#onUserAbort);
    this.#stop.abort();
    // return() runs after a pending next() (which the abort just woke) and lets the subscription
    // remove its listeners; the stream does not wait for it.
    this.#iterator.return?.().catch(() => undefined);
    callback(error);
  }
}

class TopicWritable extends Writable {
  readonly #wal: AppendSurface;
  readonly #topic: string;
  readonly #appendOptions: { codec?: EntryCodec };
  /** The WAL's maxBatchEntries once a batch was refused for its count (not public otherwise). */
  #batchLimit = Infinity;

  constructor(wal: AppendSurface, topic: string, options: TopicWritableOptions) {
    if (typeof options !== 'object' || options === null)
      throw WalError.invalidArgument('topicWritable options must be an object');
    encodeTopic(topic);
    const { codec, highWaterMark = 16, signal } = options;
    checkSignal(signal);
    super({ objectMode: true, highWaterMark, ...(signal !== undefined ? { signal } : {}) });
    this.#wal = wal;
    this.#topic = topic;
    this.#appendOptions = codec === undefined ? {} : { codec: validateCodec(codec, 'codec') };
  }

  override _write(chunk: unknown, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#wal.append(this.#topic, payloadOf(chunk, encoding), this.#appendOptions).then(() => callback(), callback);
  }

  override _writev(
    chunks: Array<{ chunk: unknown; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void,
  ): void {
    this.#appendAll(chunks.map((c) => payloadOf(c.chunk, c.encoding))).then(() => callback(), callback);
  }

  /**
   * Appends queued chunks as few atomic batches as possible, in order. A batch holds only raw
   * chunks or only values: batchAppend stores a mixed batch all msgpack, which would change how
   * a raw chunk reads back compared with a single write.
   */
  async #appendAll(payloads: unknown[]): Promise<void> {
    let start = 0;
    while (start < payloads.length) {
      const raw = isRaw(payloads[start]);
      let end = start + 1;
      while (end < payloads.length && end - start < this.#batchLimit && isRaw(payloads[end]) === raw) end++;
      const run = payloads.slice(start, end);
      try {
        await this.#wal.batchAppend(this.#topic, run, this.#appendOptions);
      } catch (err) {
        // The count is checked before anything is written: learn the limit and split instead.
        const limit = countLimitOf(err, run.length);
        if (limit === null || this.#batchLimit !== Infinity) throw err;
        this.#batchLimit = limit;
        continue;
      }
      start = end;
    }
  }
}

/** A string written with an explicit non-UTF-8 encoding ('hex', 'base64', …) is decoded as such. */
function payloadOf(chunk: unknown, encoding: BufferEncoding | 'buffer'): unknown {
  if (
    typeof chunk === 'string' &&
    encoding !== 'utf8' &&
    encoding !== 'utf-8' &&
    encoding !== 'buffer' &&
    Buffer.isEncoding(encoding)
  ) {
    return Buffer.from(chunk, encoding);
  }
  return chunk;
}

function isRaw(payload: unknown): boolean {
  return typeof payload === 'string' || payload instanceof Uint8Array;
}

/** The batch-entry-count limit if `err` refused a batch of `count` entries for its count. */
function countLimitOf(err: unknown, count: number): number | null {
  if (!(err instanceof WalError) || err.code !== 'ERR_TOO_LARGE') return null;
  const { actual, limit } = err.details;
  if (actual !== count || limit === undefined || limit < 1 || limit >= count) return null;
  return limit;
}
