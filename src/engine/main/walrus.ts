/**
 * The public facade (README.md, API). The main thread owns the topic table, the consumer cursors
 * and the pending-promise tables; writer workers own the topics' tails; the flusher owns fsync.
 *
 *   data plane:    append → WriterChannel → SAB ring → writer → progress cells → promises settle
 *   control plane: comlink (reads, stats, reclaim, close) — never per append
 *
 * Lifecycle and public methods that delegate: payload encoding to append-payload.ts, topics to
 * topic-table.ts, reads to topic-reader.ts, durability waits to durability-barrier.ts, reclamation
 * to reclaimer.ts, stats to stats-report.ts, the state machine to lifecycle.ts, the steps of open
 * to open-sequence.ts and of close to close-sequence.ts, failed write() entries to write-failures.ts.
 */
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { checkMaxBytes, checkSignal, checkTimeoutMs, readCheckpointOption } from '../../argument-checks.js';
import { WalError, toWalError } from '../../errors.js';
import { resolveOptions, type ResolvedOptions, type WalrusOptions } from '../../options.js';
import { checkEntrySize, encodeTopic } from '../../storage/limits.js';
import { byteLengthOf } from '../shared/ring-ops.js';
import { codecFor, codecNumber, codecOf, encodeBatch, payloadOf } from './append-payload.js';
import { closeWalrus } from './close-sequence.js';
import { Consumer, type ConsumerHost } from './consumer.js';
import { ConsumerRegistry, type ConsumerOptions } from './consumer-registry.js';
import { RandomAccess } from './random-access.js';
import { DurabilityBarrier } from './durability-barrier.js';
import { Entry } from './entry.js';
import { Lifecycle, releaseFailedOpen, superviseWorkers } from './lifecycle.js';
import { ProgressWatcher } from './progress-watcher.js';
import type * as T from './public-types.js';
import { Reclaimer } from './reclaimer.js';
import { auditSegmentFiles } from './segment-audit.js';
import { assembleStats } from './stats-report.js';
import { subscribeTopic } from './subscription.js';
import { SegmentReads } from './segment-reads.js';
import { ReadPath } from './topic-reader.js';
import { recoverNamespace, type RecoveredNamespace } from './open-sequence.js';
import { TopicTable } from './topic-table.js';
import { startWorkers, type StartedWorkers } from './worker-startup.js';
import { waitForNewWrites } from './write-waits.js';
import { WriteFailures } from './write-failures.js';

export { Entry, Consumer };
export type * from './public-types.js';

/** What open() hands the constructor: the recovered namespace and the started workers. */
interface Started extends StartedWorkers, RecoveredNamespace {
  options: ResolvedOptions;
}

export class Walrus extends EventEmitter<T.WalrusEvents> {
  readonly #s: Started;
  readonly #recovery: T.RecoveryReport;
  readonly #codec: number;
  readonly #lifecycle: Lifecycle;
  readonly #progress: ProgressWatcher;
  readonly #reads: ReadPath;
  readonly #topics: TopicTable;
  readonly #barrier: DurabilityBarrier;
  readonly #reclaimer: Reclaimer;
  readonly #segments: SegmentReads;
  readonly #writeFailures = new WriteFailures(this);
  readonly #registry: ConsumerRegistry;
  readonly #consumerHost: ConsumerHost;
  readonly #random: RandomAccess;
  /** Entries lost to retention limits, per consumer name ('' = the default consumer). */
  readonly #skipped = new Map<string, number>();
  #closePromise: Promise<void> | null = null;

  private constructor(s: Started) {
    super();
    this.#s = s;
    const { cells, channels, options } = s;
    const { epoch, cursors } = s.ns;
    const { damage, scannedBytes, skippedFiles } = s.recovery;
    this.#recovery = { damage, scannedBytes, skippedFiles, durationMs: s.recoveryMs };
    this.#codec = codecNumber(options.codec);
    const lifecycle = (this.#lifecycle = new Lifecycle(cells));
    this.#progress = new ProgressWatcher(cells, channels);
    const waitFor = (done: () => boolean): Promise<void> => {
      const failure = lifecycle.failure;
      return failure ? Promise.reject(failure) : this.#progress.waitFor(done);
    };
    const segments = (this.#segments = new SegmentReads({
      ...{ dir: options.namespaceDir, epoch, blockBytes: options.blockBytes, channels },
      recovered: s.recovery.topics,
    }));
    this.#reclaimer = new Reclaimer({
      ...{ epoch, cursors, cells, channels, lifecycle, flusher: s.flusher, segments: s.recovery.segments },
      forgetSegments: (paths) => segments.forgetSegments(paths),
      onReclaimed: (report) => this.emit('reclaimed', report),
      retention: options.retention,
      dir: options.namespaceDir,
      onFirstSeqRaised: (topicId, firstSeq) => this.#raiseFloor(topicId, firstSeq),
    });
    this.#reads = new ReadPath({
      ...{ cursors, segments, cells, lifecycle, waitFor, fsync: options.fsync },
      readConsistency: options.readConsistency,
      maxBatchEntries: options.maxBatchEntries,
      onCursorMoved: () => this.#reclaimer.noteCursorMoved(),
      onSkipped: (consumerId, topic, fromSeq, toSeq) => this.#noteSkipped(consumerId, topic, fromSeq, toSeq),
    });
    const { topics: recovered, maxTopicId } = s.recovery;
    this.#topics = new TopicTable({ channels, cursors, reads: this.#reads, recovered, maxTopicId });
    const registry = (this.#registry = new ConsumerRegistry({
      ...{ cursors, segments, reads: this.#reads, topics: this.#topics },
      persistSnapshot: () => this.#reclaimer.persistCursorSnapshot(),
    }));
    this.#random = new RandomAccess({ segments, registry, channels });
    this.#consumerHost = {
      registry,
      checkUsable: () => this.#lifecycle.checkUsable(),
      forRead: (topic) => this.#topics.forRead(topic),
      nextSeq: (state) => this.#random.nextSeq(state),
      seqAtTime: (state, timeMs) => this.#random.seqAtTime(state, timeMs),
      waitForWrites: (topic, o) => this.waitForWrites(topic, o),
    };
    this.#barrier = new DurabilityBarrier({ channels, cells, cursors, lifecycle, waitFor, fsync: options.fsync });
    const workers: Array<[string, Worker]> = channels.map((c) => [`writer ${c.writerIndex}`, c.worker]);
    superviseWorkers([...workers, ['flusher', s.flusherWorker]], lifecycle, (err) => this.#fail(err));
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
        onSealed: (summary) => instance && instance.#reclaimer.noteSealed(summary),
        onProgressNeeded: () => instance && instance.#progress.watch(),
        onWriteFailed: (err) => instance && instance.#writeFailures.failed(err),
        onDrain: () => instance && process.nextTick(() => instance!.emit('drain')),
      }));
      const opened = new Walrus({ ...recovered, options: resolved, ...workersStarted });
      instance = opened;
      // Every worker answers a control call before open resolves, so a worker that cannot start
      // (bad install, missing file) fails open instead of the first append.
      await Promise.all([...channels.map((c) => c.control.call('stats')), flusher.call('deleteFiles', [])]);
      // Started only now: a failed open must leave no interval behind (it held the instance and its rings).
      opened.#reclaimer.start();
      setImmediate(() => opened.emit('recovered', opened.#recovery));
      return opened;
    } catch (err) {
      await releaseFailedOpen(recovered.ns, workers, workersStarted);
      throw toWalError(err);
    }
  }

  #fail(err: WalError): void {
    if (!this.#lifecycle.fail(err)) return;
    if (err.code !== 'ERR_CLOSED' && this.listenerCount('failed') > 0) this.emit('failed', err);
    this.#rejectEverything(err);
  }

  #rejectEverything(err: WalError): void {
    for (const c of this.#s.channels) c.fail(err);
    this.#s.flusher.markDead(err);
    this.#progress.rejectAll(err);
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
    this.#lifecycle.checkUsable();
    if (!this.#topics.has(topic)) encodeTopic(topic);
    const payload = payloadOf(data, codecFor(options, this.#codec));
    const bytes = byteLengthOf(payload);
    checkEntrySize(bytes, this.#s.options.maxEntryBytes);
    // The topic is created only once the whole call is known to be valid.
    const state = this.#topics.forWrite(topic);
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
      this.#lifecycle.checkUsable();
      await this.#barrier.submittedSettled();
    } catch (err) {
      this.#writeFailures.take();
      throw toWalError(err);
    }
    const held = this.#writeFailures.take();
    if (held) throw held;
  }

  /** Appends entries atomically: after any crash, all of them are visible or none. */
  batchAppend(topic: string, entries: unknown, options?: T.AppendOptions): Promise<void> {
    try {
      this.#lifecycle.checkUsable();
      const { maxBatchEntries, maxEntryBytes } = this.#s.options;
      if (!Array.isArray(entries)) throw WalError.invalidArgument('entries must be an array');
      if (entries.length > maxBatchEntries)
        throw WalError.tooLarge('batch entry count', entries.length, maxBatchEntries, { topic });
      if (!this.#topics.has(topic)) encodeTopic(topic);
      const batch = encodeBatch(entries, codecFor(options, this.#codec), maxEntryBytes, topic);
      // The topic is created only once the whole call is known to be valid.
      const state = this.#topics.forWrite(topic);
      if (entries.length === 0) return Promise.resolve();
      const channel = this.#s.channels[state.writer]!;
      return channel.batch(state.id, batch.payloads, batch.lengths, batch.totalBytes, batch.codec);
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /** The next unread entry of `topic`, or null when there is none. */
  readNext(topic: string, options?: T.ReadOptions): Promise<Entry | null> {
    try {
      this.#lifecycle.checkUsable();
      const checkpoint = readCheckpointOption(options);
      const state = this.#topics.forRead(topic);
      return state ? state.reader.readNext(checkpoint) : Promise.resolve(null);
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /** Up to `maxBatchEntries` unread entries within `maxBytes` of payload (at least one if any). */
  batchRead(topic: string, options: T.BatchReadOptions): Promise<Entry[]> {
    try {
      this.#lifecycle.checkUsable();
      if (typeof options !== 'object' || options === null)
        throw WalError.invalidArgument('batchRead needs options { maxBytes }');
      const maxBytes = checkMaxBytes(options.maxBytes);
      const checkpoint = readCheckpointOption(options);
      const state = this.#topics.forRead(topic);
      return state ? state.reader.batchRead(maxBytes, checkpoint) : Promise.resolve([]);
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /** What a `checkpoint: false` subscription follows the tail with (see TopicReader.peekFrom). */
  #peekFrom(topic: string, fromSeq: number, maxBytes: number): Promise<Entry[]> {
    try {
      this.#lifecycle.checkUsable();
      const state = this.#topics.forRead(topic);
      return state ? state.reader.peekFrom(fromSeq, maxBytes) : Promise.resolve([]);
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /**
   * Resolves once the writer owning `topic` has published writes made after the call (so a reader
   * that found nothing can look again), when `signal` aborts, or after `timeoutMs`. Rejects with
   * ERR_CLOSED when the WAL closes. What `subscribe` waits on instead of polling.
   */
  waitForWrites(topic: string, options: T.WaitForWritesOptions = {}): Promise<void> {
    try {
      this.#lifecycle.checkUsable();
      const state = this.#topics.forRead(topic);
      const channels = state ? [this.#s.channels[state.writer]!] : this.#s.channels;
      // Validated here: a non-object used to wait forever, a bad signal to reject with a TypeError.
      if (typeof options !== 'object' || options === null) throw WalError.invalidArgument('options must be an object');
      return waitForNewWrites(this.#progress, channels, checkSignal(options.signal), checkTimeoutMs(options.timeoutMs));
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
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
   * The named consumer `name` (SPEC §3.5), registered if new with `startAt` ('earliest', the
   * default: the first retained entry of every topic; 'latest': only what is appended from now on).
   * Its registration is durable once a later `sync()` resolved; its reads wait for that themselves.
   */
  consumer(name: string, options?: ConsumerOptions): Consumer {
    try {
      this.#lifecycle.checkUsable();
      this.#registry.open(name, options);
      return new Consumer(this.#consumerHost, name);
    } catch (err) {
      throw toWalError(err, 'ERR_INVALID_ARGUMENT');
    }
  }

  /** The named consumers, sorted (the default consumer is not listed). */
  async consumers(): Promise<string[]> {
    this.#lifecycle.checkUsable();
    return this.#registry.names();
  }

  /** One entry by sequence number, moving no position; null when never appended or no longer retained. */
  async get(topic: string, seq: number): Promise<Entry | null> {
    this.#lifecycle.checkUsable();
    const state = this.#topics.forRead(topic);
    const checked = RandomAccess.checkSeq(seq);
    return state ? this.#random.get(state, checked) : null;
  }

  /** The first retained sequence number of `topic` and the next one to be assigned. */
  async offsets(topic: string): Promise<T.Offsets> {
    this.#lifecycle.checkUsable();
    const state = this.#topics.forRead(topic);
    return state ? this.#random.offsets(state) : { first: 0, next: 0 };
  }

  #noteSkipped(consumerId: number, topic: string, fromSeq: number, toSeq: number): void {
    const consumer = this.#registry.nameOf(consumerId);
    if (consumer === undefined) return;
    this.#skipped.set(consumer, (this.#skipped.get(consumer) ?? 0) + (toSeq - fromSeq + 1));
    this.emit('skipped', { consumer, topic, fromSeq, toSeq });
  }

  #raiseFloor(topicId: number, firstSeq: number): void {
    const state = this.#topics.byId(topicId);
    if (state === undefined) return;
    for (const reader of this.#registry.readersOf(state)) reader.raiseFloor(firstSeq);
  }

  /** Entries appended to `topic` and not yet consumed (checkpointed). */
  async count(topic: string): Promise<number> {
    this.#lifecycle.checkUsable();
    const state = this.#topics.forRead(topic);
    if (!state) return 0;
    const [appended] = await this.#s.channels[state.writer]!.control.call('nextSeqs', [state.id]);
    return Math.max(0, appended! - state.reader.cursor);
  }

  /** Every topic this namespace knows, sorted. */
  async topics(): Promise<string[]> {
    this.#lifecycle.checkUsable();
    return this.#topics.names();
  }

  async stats(): Promise<T.WalrusStats> {
    if (this.#lifecycle.phase === 'closed') throw WalError.closed();
    return assembleStats({
      ...this.#s,
      epoch: this.#s.ns.epoch,
      lifecycle: this.#lifecycle,
      recovery: this.#recovery,
      reclaimer: this.#reclaimer,
      reads: this.#reads,
      topics: this.#topics.values(),
      consumers: this.#registry.statsSources(this.#skipped),
    });
  }

  /** Audits every checksum of every segment file and reports damage with file and offset (segment-audit.ts). */
  async verify(): Promise<T.VerifyReport> {
    this.#lifecycle.checkUsable();
    await this.#barrier.writersCaughtUp();
    return this.#reclaimer.runSegmentFileJob(() => auditSegmentFiles(this.#s.options.namespaceDir));
  }

  /** Resolves when everything appended (and every cursor persisted) before the call is durable. */
  async sync(): Promise<void> {
    this.#lifecycle.checkUsable();
    // A registration or deletion is durable through its CURSORS snapshot (FORMAT §18.2).
    await this.#registry.settled();
    await this.#barrier.flushBlocked();
    await this.#barrier.syncEncoded();
  }

  /** Deletes sealed segment files whose entries are all consumed (reclaimer.ts); returns how many. */
  async reclaim(): Promise<number> {
    this.#lifecycle.checkUsable();
    return this.#reclaimer.reclaim();
  }

  /**
   * Drains pending appends, writes everything, persists cursors, makes it durable (unless fsync
   * is 'none'), stops every worker and releases the directory lock. Idempotent.
   */
  close(): Promise<void> {
    this.#closePromise ??= closeWalrus({
      ...this.#s,
      ...{ lifecycle: this.#lifecycle, reads: this.#reads, reclaimer: this.#reclaimer, barrier: this.#barrier },
      ...{ topics: this.#topics, segments: this.#segments, writeFailures: this.#writeFailures },
      registry: this.#registry,
      rejectEverything: (err) => this.#rejectEverything(err),
    });
    return this.#closePromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
