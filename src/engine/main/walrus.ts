/**
 * The public facade (README.md, API). The main thread owns the topic table, the consumer cursors
 * and the pending-promise tables; writer workers own the topics' tails; the flusher owns fsync.
 *
 *   data plane:    append → WriterChannel → SAB ring → writer → progress cells → promises settle
 *   control plane: comlink (stats, reclaim, close) — never per append; reads: segment-reads.ts
 *
 * Lifecycle and public methods that delegate to the parts main-thread-parts.ts builds and wires;
 * open's steps are in open-sequence.ts, close's in close-sequence.ts.
 */
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { checkMaxBytes, checkSignal, checkTimeoutMs, readCheckpointOption } from '../../argument-checks.js';
import { WalError, toWalError } from '../../errors.js';
import { resolveOptions, type WalrusOptions } from '../../options.js';
import { checkEntrySize, encodeTopic } from '../../storage/limits.js';
import { byteLengthOf } from '../shared/ring-ops.js';
import { codecFor, codecNumber, codecOf, encodeBatch, payloadOf } from './append-payload.js';
import { closeWalrus } from './close-sequence.js';
import { Consumer } from './consumer.js';
import type { ConsumerOptions } from './consumer-registry.js';
import { RandomAccess } from './random-access.js';
import { Entry } from './entry.js';
import { releaseFailedOpen, superviseWorkers } from './lifecycle.js';
import { assembleParts, type MainThreadParts, type Started } from './main-thread-parts.js';
import type * as T from './public-types.js';
import { auditSegmentFiles } from './segment-audit.js';
import { assembleStats, recoveryReport } from './stats-report.js';
import { subscribeTopic } from './subscription.js';
import { recoverNamespace } from './open-sequence.js';
import { startWorkers, type StartedWorkers } from './worker-startup.js';
import { waitForNewWrites } from './write-waits.js';
import { WriteFailures } from './write-failures.js';

export { Entry, Consumer };
export type * from './public-types.js';

/** A public call's checks and start run inside: whatever they throw is the returned promise's rejection. */
function rejecting<R>(run: () => Promise<R>): Promise<R> {
  try {
    return run();
  } catch (err) {
    return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
  }
}

export class Walrus extends EventEmitter<T.WalrusEvents> {
  readonly #s: Started;
  readonly #p: MainThreadParts;
  readonly #recovery: T.RecoveryReport;
  readonly #codec: number;
  readonly #writeFailures = new WriteFailures(this);
  #closePromise: Promise<void> | null = null;

  private constructor(s: Started) {
    super();
    this.#s = s;
    this.#recovery = recoveryReport(s.recovery, s.recoveryMs);
    this.#codec = codecNumber(s.options.codec);
    this.#p = assembleParts(s, {
      reclaimed: (report) => this.emit('reclaimed', report),
      skipped: (event) => this.emit('skipped', event),
      waitForWrites: (topic, o) => this.waitForWrites(topic, o),
    });
    const workers: Array<[string, Worker]> = s.channels.map((c) => [`writer ${c.writerIndex}`, c.worker]);
    superviseWorkers([...workers, ['flusher', s.flusherWorker]], this.#p.lifecycle, (err) => this.#fail(err));
  }

  /** Opens (creating if needed) a namespace: locks it, recovers it, starts the workers. */
  static async open(options?: WalrusOptions): Promise<Walrus> {
    const resolved = resolveOptions(options);
    const recovered = await recoverNamespace(resolved);
    const workers: Worker[] = [];
    let workersStarted: StartedWorkers | null = null;
    try {
      let instance: Walrus | null = null;
      const { channels, flusher } = (workersStarted = startWorkers({
        ...{ options: resolved, ns: recovered.ns, cells: recovered.cells, started: workers },
        topicsByWriter: recovered.topicsByWriter,
        summaryDrafts: recovered.recovery.summaryDrafts,
        onSealed: (summary) => instance && instance.#p.reclaimer.noteSealed(summary),
        onProgressNeeded: () => instance && instance.#p.progress.watch(),
        onWriteFailed: (err) => instance && instance.#writeFailures.failed(err),
        onDrain: () => instance && process.nextTick(() => instance!.emit('drain')),
      }));
      const opened = new Walrus({ ...recovered, options: resolved, ...workersStarted });
      instance = opened;
      // Every worker answers a control call before open resolves, so a worker that cannot start
      // (bad install, missing file) fails open instead of the first append.
      await Promise.all([...channels.map((c) => c.control.call('stats')), flusher.call('deleteFiles', [])]);
      // Started only now: a failed open must leave no interval behind (it held the instance and its rings).
      opened.#p.reclaimer.start();
      setImmediate(() => opened.emit('recovered', opened.#recovery));
      return opened;
    } catch (err) {
      await releaseFailedOpen(recovered.ns, workers, workersStarted);
      throw toWalError(err);
    }
  }

  #fail(err: WalError): void {
    if (!this.#p.lifecycle.fail(err)) return;
    if (err.code !== 'ERR_CLOSED' && this.listenerCount('failed') > 0) this.emit('failed', err);
    this.#rejectEverything(err);
  }

  #rejectEverything(err: WalError): void {
    for (const c of this.#s.channels) c.fail(err);
    this.#s.flusher.markDead(err);
    this.#p.progress.rejectAll(err);
  }

  /** Appends one entry. Resolves when written to the OS (when durable with fsync 'each'). */
  append(topic: string, data: unknown, options?: T.AppendOptions): Promise<void> {
    try {
      return this.#submit(topic, data, options, false) as Promise<void>;
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /**
   * Appends one entry without a promise (the `fs.WriteStream` convention): queued exactly like
   * `append`, in call order with the topic's appends. Returns false once the topic's writer ring is
   * full: wait for 'drain' before writing more. A failure of the entry is emitted as 'error' and
   * rejects the next `flush()`. Bad input throws the error `append` would reject with.
   */
  write(topic: string, data: unknown, options?: T.AppendOptions): boolean {
    try {
      return this.#submit(topic, data, options, true) as boolean;
    } catch (err) {
      throw toWalError(err, 'ERR_INVALID_ARGUMENT');
    }
  }

  /** The one path of append and write: every check, then the topic's channel. */
  #submit(topic: string, data: unknown, options: T.AppendOptions | undefined, write: boolean): Promise<void> | boolean {
    this.#p.lifecycle.checkUsable();
    if (!this.#p.topics.has(topic)) encodeTopic(topic);
    const payload = payloadOf(data, codecFor(options, this.#codec));
    const bytes = byteLengthOf(payload);
    checkEntrySize(bytes, this.#s.options.maxEntryBytes);
    // The topic is created only once the whole call is known to be valid.
    const state = this.#p.topics.forWrite(topic);
    const channel = this.#s.channels[state.writer]!;
    return write
      ? channel.write(state.id, payload, bytes, codecOf(payload))
      : channel.append(state.id, payload, bytes, codecOf(payload));
  }

  /**
   * Resolves once everything written or appended before the call was handed to the OS (and is
   * durable under 'each'). Rejects with the first failure of a write() entry since the last
   * flush() (taking it), or when the WAL failed.
   */
  async flush(): Promise<void> {
    try {
      this.#p.lifecycle.checkUsable();
      await this.#p.barrier.submittedSettled();
    } catch (err) {
      this.#writeFailures.take();
      throw toWalError(err);
    }
    const held = this.#writeFailures.take();
    if (held) throw held;
  }

  /** Appends entries atomically: after any crash, all of them are visible or none. */
  batchAppend(topic: string, entries: unknown, options?: T.AppendOptions): Promise<void> {
    return rejecting(() => {
      this.#p.lifecycle.checkUsable();
      const { maxBatchEntries, maxEntryBytes } = this.#s.options;
      if (!Array.isArray(entries)) throw WalError.invalidArgument('entries must be an array');
      if (entries.length > maxBatchEntries)
        throw WalError.tooLarge('batch entry count', entries.length, maxBatchEntries, { topic });
      if (!this.#p.topics.has(topic)) encodeTopic(topic);
      const batch = encodeBatch(entries, codecFor(options, this.#codec), maxEntryBytes, topic);
      // The topic is created only once the whole call is known to be valid.
      const state = this.#p.topics.forWrite(topic);
      if (entries.length === 0) return Promise.resolve();
      const channel = this.#s.channels[state.writer]!;
      return channel.batch(state.id, batch.payloads, batch.lengths, batch.totalBytes, batch.codec);
    });
  }

  /** The next unread entry of `topic`, or null when there is none. */
  readNext(topic: string, options?: T.ReadOptions): Promise<Entry | null> {
    return rejecting(() => {
      this.#p.lifecycle.checkUsable();
      const checkpoint = readCheckpointOption(options);
      const state = this.#p.topics.forRead(topic);
      return state ? state.reader.readNext(checkpoint) : Promise.resolve(null);
    });
  }

  /** Up to `maxBatchEntries` unread entries within `maxBytes` of payload (at least one if any). */
  batchRead(topic: string, options: T.BatchReadOptions): Promise<Entry[]> {
    return rejecting(() => {
      this.#p.lifecycle.checkUsable();
      if (typeof options !== 'object' || options === null)
        throw WalError.invalidArgument('batchRead needs options { maxBytes }');
      const maxBytes = checkMaxBytes(options.maxBytes);
      const checkpoint = readCheckpointOption(options);
      const state = this.#p.topics.forRead(topic);
      return state ? state.reader.batchRead(maxBytes, checkpoint) : Promise.resolve([]);
    });
  }

  /** What a `checkpoint: false` subscription follows the tail with (see TopicReader.peekFrom). */
  #peekFrom(topic: string, fromSeq: number, maxBytes: number): Promise<Entry[]> {
    return rejecting(() => {
      this.#p.lifecycle.checkUsable();
      const state = this.#p.topics.forRead(topic);
      return state ? state.reader.peekFrom(fromSeq, maxBytes) : Promise.resolve([]);
    });
  }

  /**
   * Resolves once the writer owning `topic` has published writes made after the call (so a reader
   * that found nothing can look again), when `signal` aborts, or after `timeoutMs`. Rejects with
   * ERR_CLOSED when the WAL closes. What `subscribe` waits on instead of polling.
   */
  waitForWrites(topic: string, options: T.WaitForWritesOptions = {}): Promise<void> {
    return rejecting(() => {
      this.#p.lifecycle.checkUsable();
      const state = this.#p.topics.forRead(topic);
      const channels = state ? [this.#s.channels[state.writer]!] : this.#s.channels;
      // Validated here: a non-object used to wait forever, a bad signal to reject with a TypeError.
      if (typeof options !== 'object' || options === null) throw WalError.invalidArgument('options must be an object');
      return waitForNewWrites(
        this.#p.progress,
        channels,
        checkSignal(options.signal),
        checkTimeoutMs(options.timeoutMs),
      );
    });
  }

  /**
   * Follows `topic`: an AsyncIterable of its entries that waits for new ones, consuming them a batch
   * at a time (unless `checkpoint: false`), and ends on abort or close (subscription.ts).
   */
  subscribe(topic: string, options?: T.SubscribeOptions): AsyncIterable<Entry> {
    const source = {
      batchRead: (t: string, o: T.BatchReadOptions) => this.batchRead(t, o),
      waitForWrites: (t: string, o?: T.WaitForWritesOptions) => this.waitForWrites(t, o),
      peekFrom: (t: string, fromSeq: number, maxBytes: number) => this.#peekFrom(t, fromSeq, maxBytes),
    };
    return subscribeTopic(source, topic, options);
  }

  /**
   * The named consumer `name` (docs/SEMANTICS.md rule D19), registered if new with `startAt`
   * ('earliest', the default: the first retained entry of every topic; 'latest': only what is
   * appended from now on). Durable once a later `sync()` resolved; its reads wait for that.
   */
  consumer(name: string, options?: ConsumerOptions): Consumer {
    try {
      this.#p.lifecycle.checkUsable();
      this.#p.registry.open(name, options);
      return new Consumer(this.#p.consumerHost, name);
    } catch (err) {
      throw toWalError(err, 'ERR_INVALID_ARGUMENT');
    }
  }

  /** The named consumers, sorted (the default consumer is not listed). */
  async consumers(): Promise<string[]> {
    this.#p.lifecycle.checkUsable();
    return this.#p.registry.names();
  }

  /** One entry by sequence number, moving no position; null when never appended or no longer retained. */
  async get(topic: string, seq: number): Promise<Entry | null> {
    this.#p.lifecycle.checkUsable();
    const [state, checked] = [this.#p.topics.forRead(topic), RandomAccess.checkSeq(seq)];
    return state ? this.#p.random.get(state, checked) : null;
  }

  /** The first retained sequence number of `topic` and the next one to be assigned. */
  async offsets(topic: string): Promise<T.Offsets> {
    this.#p.lifecycle.checkUsable();
    const state = this.#p.topics.forRead(topic);
    return state ? this.#p.random.offsets(state) : { first: 0, next: 0 };
  }

  /** Entries appended to `topic` and not yet consumed (checkpointed). */
  async count(topic: string): Promise<number> {
    this.#p.lifecycle.checkUsable();
    const state = this.#p.topics.forRead(topic);
    if (!state) return 0;
    const [appended] = await this.#s.channels[state.writer]!.control.call('nextSeqs', [state.id]);
    return state.reader.unreadBefore(appended!);
  }

  /** Every topic this namespace knows, sorted. */
  async topics(): Promise<string[]> {
    this.#p.lifecycle.checkUsable();
    return this.#p.topics.names();
  }

  async stats(): Promise<T.WalrusStats> {
    if (this.#p.lifecycle.phase === 'closed') throw WalError.closed();
    const { lifecycle, reclaimer, reads, topics, registry, skipped } = this.#p;
    const parts = { lifecycle, recovery: this.#recovery, reclaimer, reads, topics: topics.values() };
    return assembleStats({ ...this.#s, epoch: this.#s.ns.epoch, ...parts, consumers: registry.statsSources(skipped) });
  }

  /** Audits every checksum of every segment file and reports damage with file and offset (segment-audit.ts). */
  async verify(): Promise<T.VerifyReport> {
    this.#p.lifecycle.checkUsable();
    await this.#p.barrier.writersCaughtUp();
    return this.#p.reclaimer.runSegmentFileJob(() => auditSegmentFiles(this.#s.options.namespaceDir));
  }

  /** Resolves when everything appended (and every cursor persisted) before the call is durable. */
  async sync(): Promise<void> {
    this.#p.lifecycle.checkUsable();
    // A registration or deletion is durable through its CURSORS snapshot (FORMAT §18.2).
    await this.#p.registry.settled();
    await this.#p.barrier.flushBlocked();
    await this.#p.barrier.syncEncoded();
  }

  /** Deletes sealed segment files whose entries are all consumed (reclaimer.ts); returns how many. */
  async reclaim(): Promise<number> {
    this.#p.lifecycle.checkUsable();
    return this.#p.reclaimer.reclaim();
  }

  /**
   * Drains pending appends, writes everything, persists cursors, makes it durable (unless fsync
   * is 'none'), stops every worker and releases the directory lock. Idempotent.
   */
  close(): Promise<void> {
    this.#closePromise ??= closeWalrus({
      ...this.#s,
      ...{ lifecycle: this.#p.lifecycle, reads: this.#p.reads, reclaimer: this.#p.reclaimer, barrier: this.#p.barrier },
      ...{ topics: this.#p.topics, segments: this.#p.segments, writeFailures: this.#writeFailures },
      registry: this.#p.registry,
      rejectEverything: (err) => this.#rejectEverything(err),
    });
    return this.#closePromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
