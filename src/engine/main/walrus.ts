/**
 * The public facade (SPEC §3). The main thread owns the topic table, the consumer cursors and the
 * pending-promise tables; writer workers own the topics' tails; the flusher owns fsync.
 *
 *   data plane:    append → WriterChannel → SAB ring → writer → progress cells → promises settle
 *   control plane: comlink (reads, stats, reclaim, close) — never per append
 */
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { WalError, toWalError } from '../../errors.js';
import {
  resolveOptions,
  validateCodec,
  type EntryCodec,
  type ResolvedOptions,
  type WalrusOptions,
} from '../../options.js';
import { CheckpointPolicy } from '../../storage/checkpoint-policy.js';
import { nodeFileIo } from '../../storage/file-io.js';
import { CODEC_MSGPACK, CODEC_RAW } from '../../storage/frame.js';
import {
  checkEntrySize,
  checkNewTopicId,
  checkTimerMs,
  encodeTopic,
  isDetached,
  MAX_BATCH_PAYLOAD_BYTES,
} from '../../storage/limits.js';
import { openNamespace, finishRecovery, type OpenedNamespace } from '../../storage/namespace-opening.js';
import { deletableSegments } from '../../storage/reclaim.js';
import { listSegmentSizes } from '../../storage/segment-name.js';
import type { RecoveredTopic, RecoveryResult, SegmentSummary } from '../../storage/recover.js';
import { packValue } from '../../value-codec.js';
import type { FlusherControl, FlusherStats, ReadAnswer, WriterStats } from '../shared/control-protocol.js';
import { LatencyStats, type LatencySummary } from '../shared/latency-stats.js';
import { ControlClient } from '../shared/control-protocol.js';
import { Entry } from './entry.js';
import {
  CURSOR_DURABLE,
  CURSOR_LOG_GENERATION,
  CURSOR_WRITTEN,
  FATAL_CODE,
  FLUSHER_DOORBELL,
  FLUSHER_WAITING,
  SYNC_REQUESTS,
  createProgressCells,
  reached,
  ring,
} from '../shared/progress-cells.js';
import { scanSegmentsInParallel } from './recovery-scan.js';
import { byteLengthOf, type EntryData } from '../shared/ring-ops.js';
import { ProgressWatcher } from './progress-watcher.js';
import { SerialQueue } from './serial-queue.js';
import { TopicReader } from './topic-reader.js';
import { subscribeTopic, type SubscribeOptions } from './subscription.js';
import { WriterChannel } from './writer-channel.js';
import { writerForTopic } from './topic-router.js';
import { startWorkers } from './worker-startup.js';
import { byteView } from '../../storage/byte-view.js';

export { Entry };

const READ_AHEAD_BYTES = 1024 * 1024;
const MAX_FETCH_BYTES = 256 * 1024 * 1024;
const RECLAIM_INTERVAL_MS = 1000;
const RESOLVED: Promise<void> = Promise.resolve();

export interface ReadOptions {
  /** false = peek: the cursor does not move. Default true. */
  checkpoint?: boolean;
}

export interface BatchReadOptions extends ReadOptions {
  /** Payload byte budget (at least one entry is returned even if it is larger). */
  maxBytes: number;
}

export interface AppendOptions {
  /** Override the instance's codec for this call. */
  codec?: EntryCodec;
}

export interface VerifyReport {
  ok: boolean;
  files: number;
  bytes: number;
  damage: RecoveryResult['damage'];
}

export interface TopicStats {
  appended: number;
  consumed: number;
  unread: number;
}

export interface WalrusStats {
  dir: string;
  epoch: number;
  fsync: ResolvedOptions['fsync'];
  readConsistency: ResolvedOptions['readConsistency'];
  writers: Array<WriterStats & { ringUsedBytes: number }>;
  topics: Record<string, TopicStats>;
  recovery: { damage: RecoveryResult['damage']; scannedBytes: number; skippedFiles: string[]; durationMs: number };
  reclaimedSegments: number;
  reclaimedBytes: number;
  bytesRead: number;
  /** Sampled submission → settlement latency of appends (written, or durable under 'each'). */
  appendLatency: LatencySummary;
  /** Flusher rounds, fsyncs and their latency. */
  flusher: FlusherStats;
  segments: { files: number; bytes: number };
  failed: string | null;
}

interface TopicState {
  id: number;
  name: string;
  nameBytes: Uint8Array;
  writer: number;
  definedInWriter: boolean;
  reader: TopicReader;
}

type Lifecycle = 'open' | 'closing' | 'closed';

/**
 * Events (all optional to listen to):
 * - 'recovered' (report): what recovery found at open, emitted on the next tick after open resolves;
 * - 'failed' (WalError): the WAL entered a failed state (worker death, fsync failure);
 * - 'reclaimed' ({ segments, bytes }): consumed segment files were deleted.
 */
export interface WalrusEvents {
  recovered: [WalrusStats['recovery']];
  failed: [WalError];
  reclaimed: [{ segments: number; bytes: number }];
}

export class Walrus extends EventEmitter<WalrusEvents> {
  readonly #options: ResolvedOptions;
  readonly #ns: OpenedNamespace;
  readonly #cells: Int32Array;
  readonly #channels: WriterChannel[];
  readonly #flusherWorker: Worker;
  readonly #flusher: ControlClient<FlusherControl>;
  readonly #policy: CheckpointPolicy;
  readonly #topics = new Map<string, TopicState>();
  readonly #segments: SegmentSummary[];
  readonly #recovery: WalrusStats['recovery'];
  readonly #codec: number;
  #nextTopicId: number;
  #state: Lifecycle = 'open';
  #closePromise: Promise<void> | null = null;
  #failure: WalError | null = null;
  readonly #progress: ProgressWatcher;
  #inflightReads = new Set<Promise<unknown>>();
  #reclaimTimer: NodeJS.Timeout | null = null;
  #reclaiming: Promise<void> | null = null;
  /** verify() and reclaim() take turns: an audit must never open a file a reclaim just deleted. */
  readonly #segmentFileJobs = new SerialQueue();
  #cursorsMovedSinceReclaim = false;
  #reclaimedSegments = 0;
  #reclaimedBytes = 0;
  readonly #appendLatency: LatencyStats;
  #bytesRead = 0;

  private constructor(args: {
    options: ResolvedOptions;
    ns: OpenedNamespace;
    recovery: RecoveryResult;
    recoveryMs: number;
    cells: Int32Array;
    channels: WriterChannel[];
    flusherWorker: Worker;
    flusher: ControlClient<FlusherControl>;
    topics: TopicState[];
    appendLatency: LatencyStats;
  }) {
    super();
    this.#options = args.options;
    this.#appendLatency = args.appendLatency;
    this.#ns = args.ns;
    this.#cells = args.cells;
    this.#channels = args.channels;
    this.#progress = new ProgressWatcher(args.cells, args.channels);
    this.#flusherWorker = args.flusherWorker;
    this.#flusher = args.flusher;
    this.#policy = new CheckpointPolicy(args.options.readConsistency);
    this.#codec = args.options.codec === 'msgpack' ? CODEC_MSGPACK : CODEC_RAW;
    this.#segments = args.recovery.segments.slice();
    this.#recovery = {
      damage: args.recovery.damage,
      scannedBytes: args.recovery.scannedBytes,
      skippedFiles: args.recovery.skippedFiles,
      durationMs: args.recoveryMs,
    };
    let maxId = args.recovery.maxTopicId;
    for (const t of args.topics) {
      this.#topics.set(t.name, t);
      maxId = Math.max(maxId, t.id);
    }
    this.#nextTopicId = maxId + 1;
    this.#reclaimTimer = setInterval(() => this.#maybeReclaim(), RECLAIM_INTERVAL_MS);
    this.#reclaimTimer.unref();
  }

  /** Opens (creating if needed) a namespace: locks it, recovers it, starts the workers. */
  static async open(options?: WalrusOptions): Promise<Walrus> {
    const resolved = resolveOptions(options);
    const started = performance.now();
    let ns: OpenedNamespace;
    try {
      ns = openNamespace(
        nodeFileIo,
        resolved.namespaceDir,
        resolved.fsync !== 'none',
        resolved.key,
        resolved.groupAccess,
      );
    } catch (err) {
      // Some fs errors (ENOTDIR, EACCES from a stat) came out raw instead of as a WalError.
      throw toWalError(err);
    }
    const workers: Worker[] = [];
    try {
      const scans = await scanSegmentsInParallel(ns.segmentPaths);
      const recovery = finishRecovery(ns, scans);
      const recoveryMs = performance.now() - started;
      const cells = createProgressCells(resolved.writers);
      Atomics.store(cells, CURSOR_LOG_GENERATION, ns.cursors.generation);

      const topics: TopicState[] = [];
      const perWriter: RecoveredTopic[][] = Array.from({ length: resolved.writers }, () => []);
      for (const t of recovery.topics) {
        const nameBytes = encodeTopic(t.name);
        const writer = writerForTopic(nameBytes, resolved.writers);
        perWriter[writer]!.push(t);
        topics.push({
          id: t.id,
          name: t.name,
          nameBytes,
          writer,
          definedInWriter: true,
          reader: new TopicReader(ns.cursors.cursor(t.id)),
        });
      }

      let instance: Walrus | null = null;
      const { flusherWorker, flusher, channels, appendLatency } = startWorkers({
        options: resolved,
        ns,
        cells,
        topicsByWriter: perWriter,
        onSealed: (summary) => instance?.noteSealed(summary),
        onProgressNeeded: () => instance?.watchProgress(),
        started: workers,
      });
      instance = new Walrus({
        options: resolved,
        ns,
        recovery,
        recoveryMs,
        cells,
        channels,
        flusherWorker,
        flusher,
        topics,
        appendLatency,
      });
      instance.#superviseWorkers();
      // Every worker answers a control call before open resolves, so a worker that cannot start
      // (bad install, missing file) fails open instead of the first append.
      await Promise.all([...channels.map((c) => c.control.call('stats')), flusher.call('deleteFiles', [])]);
      const opened = instance;
      setImmediate(() => opened.emit('recovered', opened.#recovery));
      return instance;
    } catch (err) {
      await Promise.allSettled(workers.map((w) => w.terminate()));
      ns.release();
      throw toWalError(err);
    }
  }

  /** @internal A writer rolled past a segment: it becomes a reclamation candidate. */
  noteSealed(summary: SegmentSummary): void {
    this.#segments.push(summary);
  }

  /** @internal Pending operations exist: make sure someone waits for progress. */
  watchProgress(): void {
    this.#progress.watch();
  }

  #superviseWorkers(): void {
    const onDeath = (who: string) => (reason: unknown) => {
      if (this.#state === 'closed') return;
      const err = new WalError(
        'ERR_WORKER_FAILED',
        `${who} worker failed: ${reason instanceof Error ? reason.message : `exit code ${String(reason)}`}; reopen the WAL to recover`,
      );
      this.#fail(err);
    };
    for (const c of this.#channels) {
      const w = c.worker;
      w.on('error', onDeath(`writer ${c.writerIndex}`));
      w.on('exit', (code) => {
        if (this.#state !== 'closed' && !this.#closingWorkers) onDeath(`writer ${c.writerIndex}`)(code);
      });
      w.unref();
    }
    this.#flusherWorker.on('error', onDeath('flusher'));
    this.#flusherWorker.on('exit', (code) => {
      if (this.#state !== 'closed' && !this.#closingWorkers) onDeath('flusher')(code);
    });
    this.#flusherWorker.unref();
  }

  #closingWorkers = false;

  #fail(err: WalError): void {
    if (this.#failure) return;
    this.#failure = err;
    if (err.code !== 'ERR_CLOSED' && this.listenerCount('failed') > 0) this.emit('failed', err);
    for (const c of this.#channels) c.fail(err);
    this.#flusher.markDead(err);
    this.#progress.rejectAll(err);
  }

  #checkUsable(): void {
    if (this.#state !== 'open') throw WalError.closed();
    if (this.#failure) throw this.#failure;
    if (Atomics.load(this.#cells, FATAL_CODE) !== 0) {
      throw new WalError(
        'ERR_FSYNC_FAILED',
        'an fsync failed earlier: the WAL no longer promises durability; reopen it to recover',
      );
    }
  }

  // ───────────────────────────── writing ─────────────────────────────

  /** Appends one entry. Resolves when written to the OS (when durable with fsync 'each'). */
  append(topic: string, data: unknown, options?: AppendOptions): Promise<void> {
    try {
      this.#checkUsable();
      const known = this.#topics.get(topic);
      if (!known) encodeTopic(topic);
      const payload = this.#payloadOf(data, this.#codecFor(options));
      const bytes = byteLengthOf(payload);
      checkEntrySize(bytes, this.#options.maxEntryBytes);
      // The topic is created only once the whole call is known to be valid.
      const state = this.#topicForWrite(topic);
      return this.#channels[state.writer]!.append(state.id, payload, bytes, codecOf(payload));
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /** Appends entries atomically: after any crash, all of them are visible or none. */
  batchAppend(topic: string, entries: unknown, options?: AppendOptions): Promise<void> {
    try {
      this.#checkUsable();
      if (!Array.isArray(entries)) throw WalError.invalidArgument('entries must be an array');
      if (entries.length > this.#options.maxBatchEntries) {
        throw WalError.tooLarge('batch entry count', entries.length, this.#options.maxBatchEntries, { topic });
      }
      if (!this.#topics.has(topic)) encodeTopic(topic);
      const codec = this.#codecFor(options);
      const payloads: Array<EntryData | PackedValue> = new Array<EntryData>(entries.length);
      let lengths: number[] = new Array<number>(entries.length);
      let total = 0;
      for (let i = 0; i < entries.length; i++) {
        const p = this.#payloadOf(entries[i], codec);
        const bytes = byteLengthOf(p);
        checkEntrySize(bytes, this.#options.maxEntryBytes);
        total += bytes;
        payloads[i] = p;
        lengths[i] = bytes;
      }
      if (total > MAX_BATCH_PAYLOAD_BYTES)
        throw WalError.tooLarge('batch payload bytes', total, MAX_BATCH_PAYLOAD_BYTES, { topic });
      // One codec per batch record: a batch mixing values and raw bytes stores the raw ones packed too.
      const batchCodec = payloads.some((p) => p instanceof PackedValue) ? CODEC_MSGPACK : CODEC_RAW;
      let encoded = payloads;
      if (batchCodec === CODEC_MSGPACK) {
        // Packing adds a header, so the packed form is what must fit (it slipped past the limits).
        let packedTotal = 0;
        encoded = payloads.map((p) => {
          const packed = p instanceof PackedValue ? p : new PackedValue(packValue(p));
          checkEntrySize(packed.byteLength, this.#options.maxEntryBytes);
          packedTotal += packed.byteLength;
          return packed;
        });
        if (packedTotal > MAX_BATCH_PAYLOAD_BYTES)
          throw WalError.tooLarge('batch payload bytes', packedTotal, MAX_BATCH_PAYLOAD_BYTES, { topic });
        lengths = encoded.map(byteLengthOf);
        total = packedTotal;
      }
      // The topic is created only once the whole call is known to be valid.
      const state = this.#topicForWrite(topic);
      if (payloads.length === 0) return Promise.resolve();
      return this.#channels[state.writer]!.batch(state.id, encoded, lengths, total, batchCodec);
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  #codecFor(options: AppendOptions | undefined): number {
    if (options === undefined) return this.#codec;
    if (typeof options !== 'object' || options === null) throw WalError.invalidArgument('options must be an object');
    if (options.codec === undefined) return this.#codec;
    return validateCodec(options.codec, 'options.codec') === 'msgpack' ? CODEC_MSGPACK : CODEC_RAW;
  }

  /** Bytes and strings are stored raw; other values need the msgpack codec. */
  #payloadOf(data: unknown, codec: number): EntryData | PackedValue {
    if (typeof data === 'string') {
      // As the storage core does (toEntryBytes): UTF-8 would silently store a lone surrogate as U+FFFD.
      if (!(data as WellFormedString).isWellFormed())
        throw WalError.invalidArgument('string data must be well-formed Unicode (it holds a lone surrogate)');
      return data;
    }
    if (data instanceof Uint8Array) {
      if (data.byteLength === 0 && isDetached(data))
        throw WalError.invalidArgument('data is a view of a detached ArrayBuffer');
      return data;
    }
    if (codec === CODEC_MSGPACK) return new PackedValue(packValue(data));
    throw WalError.invalidArgument(
      `data must be a Uint8Array, Buffer or string (or use codec 'msgpack' for other values), got ${data === null ? 'null' : typeof data}`,
    );
  }

  #topicForWrite(topic: unknown): TopicState {
    const existing = typeof topic === 'string' ? this.#topics.get(topic) : undefined;
    if (existing) {
      if (!existing.definedInWriter) this.#defineInWriter(existing);
      return existing;
    }
    const nameBytes = encodeTopic(topic);
    const name = topic as string;
    const id = checkNewTopicId(this.#nextTopicId++, name);
    const state: TopicState = {
      id,
      name,
      nameBytes,
      writer: writerForTopic(nameBytes, this.#options.writers),
      definedInWriter: false,
      reader: new TopicReader(0),
    };
    this.#topics.set(name, state);
    this.#ns.cursors.registerTopic(name, id);
    this.#defineInWriter(state);
    return state;
  }

  #defineInWriter(state: TopicState): void {
    this.#channels[state.writer]!.defineTopic(state.id, state.nameBytes);
    state.definedInWriter = true;
  }

  // ───────────────────────────── reading ─────────────────────────────

  /** The next unread entry of `topic`, or null when there is none. */
  readNext(topic: string, options?: ReadOptions): Promise<Entry | null> {
    try {
      this.#checkUsable();
      const checkpoint = readCheckpointOption(options);
      const state = this.#topicForRead(topic);
      if (!state) return Promise.resolve(null);
      const reader = state.reader;
      // Fast path: the next entry is cached and no read of this topic is queued, so it can be
      // handed out now (the cursor write, if any, is a synchronous pwrite).
      if (!reader.busy) {
        const entry = reader.peek();
        if (entry !== undefined)
          return checkpoint ? this.#consume(state, [entry]).then(() => entry) : Promise.resolve(entry);
      }
      return this.#track(
        reader.exclusive(async () => {
          let entry = reader.peek();
          if (!entry) {
            await this.#fetch(state, READ_AHEAD_BYTES);
            entry = reader.peek();
          }
          if (!entry) return null;
          if (checkpoint) await this.#consume(state, [entry]);
          return entry;
        }),
      );
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /** Up to `maxBatchEntries` unread entries within `maxBytes` of payload (at least one if any). */
  batchRead(topic: string, options: BatchReadOptions): Promise<Entry[]> {
    try {
      this.#checkUsable();
      if (typeof options !== 'object' || options === null)
        throw WalError.invalidArgument('batchRead needs options { maxBytes }');
      const { maxBytes } = options;
      if (
        typeof maxBytes !== 'number' ||
        !(maxBytes >= 1) ||
        (!Number.isSafeInteger(maxBytes) && maxBytes !== Infinity)
      ) {
        throw WalError.invalidArgument(`maxBytes must be a positive integer (or Infinity), got ${String(maxBytes)}`);
      }
      const checkpoint = readCheckpointOption(options);
      const state = this.#topicForRead(topic);
      if (!state) return Promise.resolve([]);
      const maxEntries = this.#options.maxBatchEntries;
      return this.#track(
        state.reader.exclusive(async () => {
          const out: Entry[] = [];
          let bytes = 0;
          for (let pass = 0; pass < 2; pass++) {
            while (out.length < maxEntries) {
              const next = state.reader.peek(out.length);
              if (!next) break;
              if (out.length > 0 && bytes + next.data.byteLength > maxBytes)
                return this.#finishBatch(state, out, checkpoint);
              out.push(next);
              bytes += next.data.byteLength;
            }
            if (out.length >= maxEntries || pass === 1) break;
            const budget = Math.min(MAX_FETCH_BYTES, Math.max(READ_AHEAD_BYTES, maxBytes - bytes));
            if (!(await this.#fetch(state, budget))) break;
          }
          return this.#finishBatch(state, out, checkpoint);
        }),
      );
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  async #finishBatch(state: TopicState, out: Entry[], checkpoint: boolean): Promise<Entry[]> {
    if (checkpoint && out.length > 0) await this.#consume(state, out);
    return out;
  }

  #topicForRead(topic: unknown): TopicState | undefined {
    if (typeof topic === 'string') {
      const state = this.#topics.get(topic);
      if (state) return state;
    }
    encodeTopic(topic); // validates: a bad name is an error, an unknown good one just has nothing
    return undefined;
  }

  /**
   * Makes more entries available after the cached ones; returns how many arrived. While the
   * caller works through one batch, the next is already being read by the writer (one prefetch
   * in flight per topic, so a topic caches at most two batches).
   */
  async #fetch(state: TopicState, maxBytes: number): Promise<number> {
    const reader = state.reader;
    if (reader.prefetch) {
      const prefetched = await reader.prefetch;
      if (prefetched > 0) return prefetched;
    }
    return this.#fetchNow(state, maxBytes);
  }

  async #fetchNow(state: TopicState, maxBytes: number): Promise<number> {
    const reader = state.reader;
    const maxEntries = this.#options.maxBatchEntries;
    const { entries, bytes } = await this.#readFromWriter(state, reader.fetchFrom, maxBytes);
    reader.fill(entries);
    const count = entries.length;
    // A full answer means more is probably waiting: start reading it now.
    if (count > 0 && (count >= maxEntries || bytes * 2 >= maxBytes) && this.#state === 'open') {
      const prefetch = this.#fetchNow(state, READ_AHEAD_BYTES).catch(() => 0);
      reader.prefetch = prefetch;
      void this.#track(prefetch).then(() => {
        if (reader.prefetch === prefetch) reader.prefetch = null;
      });
    }
    return count;
  }

  /** Up to `maxBatchEntries` entries from `fromSeq` within `maxBytes` (at least one), straight from the topic's writer. */
  async #readFromWriter(
    state: TopicState,
    fromSeq: number,
    maxBytes: number,
  ): Promise<{ entries: Entry[]; bytes: number }> {
    const answer: ReadAnswer = await this.#channels[state.writer]!.control.call(
      'read',
      state.id,
      fromSeq,
      maxBytes,
      this.#options.maxBatchEntries,
    );
    const { data, refs } = answer;
    this.#bytesRead += data.byteLength;
    const entries: Entry[] = new Array<Entry>(refs.length / 4);
    for (let i = 0, j = 0; i < refs.length; i += 4, j++) {
      const offset = refs[i + 2]!;
      entries[j] = new Entry(state.name, refs[i]!, byteView(data, offset, offset + refs[i + 3]!), refs[i + 1]!);
    }
    return { entries, bytes: data.byteLength };
  }

  /**
   * Entries from `fromSeq` on — or from the cursor, when consumers already moved past it (what
   * they consumed may be reclaimed) — without consuming anything: what a `checkpoint: false`
   * subscription follows the tail with, since a peek at the cursor cannot reach past
   * `maxBatchEntries` unconsumed entries.
   */
  #peekFrom(topic: string, fromSeq: number, maxBytes: number): Promise<Entry[]> {
    try {
      this.#checkUsable();
      const state = this.#topicForRead(topic);
      if (!state) return Promise.resolve([]);
      const reader = state.reader;
      return this.#track(
        reader.exclusive(
          async () => (await this.#readFromWriter(state, Math.max(fromSeq, reader.cursor), maxBytes)).entries,
        ),
      );
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /**
   * Consumes `entries` (the first cached ones): persists the cursor per the read consistency
   * first — a failed cursor write leaves them unconsumed — then drops them from the cache. Under
   * fsync 'each' a persisted advance resolves once the cursor log is durable.
   */
  #consume(state: TopicState, entries: Entry[]): Promise<void> {
    // A read queued behind one that failed must not move the cursor past the entries given back.
    this.#checkUsable();
    const firstSeq = entries[0]!.seq;
    const nextSeq = entries[entries.length - 1]!.seq + 1;
    const persist = this.#policy.recordCheckpoint(state.id, entries.length);
    this.#ns.cursors.advance(state.id, nextSeq, persist);
    state.reader.cursor = nextSeq;
    state.reader.drop(entries.length);
    this.#cursorsMovedSinceReclaim = true;
    if (!persist) return RESOLVED;
    const written = this.#ns.cursors.recordsWritten;
    Atomics.store(this.#cells, CURSOR_WRITTEN, written);
    if (this.#options.fsync !== 'each') return RESOLVED;
    ring(this.#cells, FLUSHER_DOORBELL, FLUSHER_WAITING);
    return this.#waitFor(() => {
      // A failed fsync stops CURSOR_DURABLE for good: without this check the read would hang.
      if (Atomics.load(this.#cells, FATAL_CODE) !== 0) {
        throw new WalError(
          'ERR_FSYNC_FAILED',
          'an fsync failed: this read cannot be made durable; reopen the WAL to recover',
        );
      }
      return reached(Atomics.load(this.#cells, CURSOR_DURABLE), written);
    }).catch((err: unknown) => {
      // The read rejects, so its entries must stay unconsumed, but their cursor record already
      // reached the OS: without a record moving the cursor back (this thread writes the log
      // itself, no flusher needed) a reopen would skip entries no caller ever received.
      state.reader.cursor = Math.min(state.reader.cursor, firstSeq);
      try {
        this.#ns.cursors.clamp(state.id, firstSeq);
      } catch {
        // The cursor store is closed or the disk refuses: nothing more can be done here.
      }
      throw err;
    });
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflightReads.add(p);
    const done = (): void => {
      this.#inflightReads.delete(p);
    };
    p.then(done, done);
    return p;
  }

  // ───────────────────────────── queries ─────────────────────────────

  /** Entries appended to `topic` and not yet consumed (checkpointed). */
  async count(topic: string): Promise<number> {
    this.#checkUsable();
    const state = this.#topicForRead(topic);
    if (!state) return 0;
    const [appended] = await this.#channels[state.writer]!.control.call('nextSeqs', [state.id]);
    return Math.max(0, appended! - state.reader.cursor);
  }

  /** Every topic this namespace knows, sorted. */
  async topics(): Promise<string[]> {
    this.#checkUsable();
    return [...this.#topics.keys()].sort();
  }

  async stats(): Promise<WalrusStats> {
    if (this.#state === 'closed') throw WalError.closed();
    // After a worker died every control call rejects, yet stats() must still answer so `failed`
    // can say why: figures the workers hold fall back to what the shared cells tell.
    const ask = <T>(call: () => Promise<T>, fallback: () => T): Promise<T> =>
      this.#failure ? call().catch(fallback) : call();
    const writers = await Promise.all(
      this.#channels.map(async (c) => ({
        ...(await ask(
          () => c.control.call('stats'),
          () => ({
            writerIndex: c.writerIndex,
            writtenOps: c.writtenOps() >>> 0,
            bytesWritten: 0,
            commits: 0,
            segment: null,
            topics: 0,
          }),
        )),
        ringUsedBytes: c.ringUsedBytes,
      })),
    );
    const byWriter = new Map<number, TopicState[]>();
    for (const t of this.#topics.values()) {
      const list = byWriter.get(t.writer) ?? [];
      list.push(t);
      byWriter.set(t.writer, list);
    }
    const topics: Record<string, TopicStats> = {};
    for (const [w, list] of byWriter) {
      const seqs = await ask(
        () =>
          this.#channels[w]!.control.call(
            'nextSeqs',
            list.map((t) => t.id),
          ),
        () => list.map(() => 0),
      );
      list.forEach((t, i) => {
        const appended = Math.max(seqs[i]!, t.reader.cursor);
        topics[t.name] = { appended, consumed: t.reader.cursor, unread: appended - t.reader.cursor };
      });
    }
    return {
      dir: this.#options.namespaceDir,
      epoch: this.#ns.epoch,
      fsync: this.#options.fsync,
      readConsistency: this.#options.readConsistency,
      writers,
      topics,
      recovery: this.#recovery,
      reclaimedSegments: this.#reclaimedSegments,
      reclaimedBytes: this.#reclaimedBytes,
      bytesRead: this.#bytesRead,
      appendLatency: this.#appendLatency.summary(),
      flusher: await ask(
        () => this.#flusher.call('stats'),
        () => ({
          rounds: 0,
          fsyncs: 0,
          fsyncLatency: { count: 0, p50Us: 0, p99Us: 0, maxUs: 0 },
          failed: Atomics.load(this.#cells, FATAL_CODE) !== 0,
        }),
      ),
      segments: segmentFiles(this.#options.namespaceDir),
      failed: this.#failure?.code ?? (Atomics.load(this.#cells, FATAL_CODE) !== 0 ? 'ERR_FSYNC_FAILED' : null),
    };
  }

  /** Resolves when everything appended (and every cursor persisted) before the call is durable. */
  async sync(): Promise<void> {
    this.#checkUsable();
    await Promise.all(this.#channels.map((c) => c.flushBlocked()));
    await this.#syncTargets();
  }

  async #syncTargets(): Promise<void> {
    const targets = this.#channels.map((c) => c.lastOp);
    const cursorTarget = this.#ns.cursors.recordsWritten;
    Atomics.store(this.#cells, CURSOR_WRITTEN, cursorTarget);
    const none = this.#options.fsync === 'none';
    if (!none) {
      // A round covers only what the writers have written when it runs, and under { intervalMs }
      // nothing else asks for the next one before the interval ends: request it once they have.
      await this.#waitFor(() => this.#channels.every((c, i) => reached(c.writtenOps(), targets[i]!)));
      Atomics.add(this.#cells, SYNC_REQUESTS, 1);
      ring(this.#cells, FLUSHER_DOORBELL, FLUSHER_WAITING);
    }
    await this.#waitFor(() => {
      if (!none && Atomics.load(this.#cells, FATAL_CODE) !== 0) {
        throw new WalError(
          'ERR_FSYNC_FAILED',
          'an fsync failed: durability cannot be promised; reopen the WAL to recover',
        );
      }
      const ops = this.#channels.every((c, i) => reached(none ? c.writtenOps() : c.durableOps(), targets[i]!));
      return ops && (none || reached(Atomics.load(this.#cells, CURSOR_DURABLE), cursorTarget));
    });
  }

  /**
   * Audits every checksum of every segment file (one piscina task per file) and reports damage
   * with file and offset. Appends keep running: bytes written after the audit started are not
   * judged, so a write in flight is never reported as damage.
   */
  async verify(): Promise<VerifyReport> {
    this.#checkUsable();
    await Promise.all(this.#channels.map((c) => c.flushBlocked()));
    const targets = this.#channels.map((c) => c.lastOp);
    await this.#waitFor(() => this.#channels.every((c, i) => reached(c.writtenOps(), targets[i]!)));
    return this.#segmentFileJobs.run(async () => {
      const files = listSegmentSizes(nodeFileIo, this.#options.namespaceDir);
      const sizes = new Map(files.map((f) => [f.path, f.sizeBytes]));
      const scans = await scanSegmentsInParallel(files.map((f) => f.path));
      const damage = scans.flatMap((scan) => scan.damage.filter((d) => d.offset < (sizes.get(scan.path) ?? Infinity)));
      const bytes = scans.reduce((n, scan) => n + Math.min(scan.sizeBytes, sizes.get(scan.path) ?? scan.sizeBytes), 0);
      return { ok: damage.length === 0, files: files.length, bytes, damage };
    });
  }

  /**
   * Resolves once the writer owning `topic` has published writes made after the call (so a reader
   * that found nothing can look again), when `signal` aborts, or after `timeoutMs`. Rejects with
   * ERR_CLOSED when the WAL closes. What `subscribe` waits on instead of polling.
   */
  waitForWrites(topic: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    try {
      this.#checkUsable();
      const state = this.#topicForRead(topic);
      const channels = state ? [this.#channels[state.writer]!] : this.#channels;
      const before = channels.map((c) => c.writtenOps());
      // Validated here: a non-object used to wait forever, a bad signal to reject with a TypeError.
      if (typeof options !== 'object' || options === null) throw WalError.invalidArgument('options must be an object');
      const { signal, timeoutMs } = options;
      if (signal !== undefined && !(signal instanceof AbortSignal))
        throw WalError.invalidArgument('signal must be an AbortSignal');
      if (timeoutMs !== undefined) checkTimerMs(timeoutMs, 'timeoutMs');
      if (signal?.aborted) return Promise.resolve();
      const wait = this.#progress.waitCancelable(() => channels.some((c, i) => c.writtenOps() !== before[i]));
      const timer = timeoutMs === undefined ? undefined : setTimeout(wait.cancel, timeoutMs);
      signal?.addEventListener('abort', wait.cancel, { once: true });
      return wait.promise.finally(() => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', wait.cancel);
      });
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /**
   * Follows `topic`: an AsyncIterable of its entries that waits for new ones, consuming them a batch
   * at a time (unless `checkpoint: false`), and ends on abort or close. See src/engine/main/subscription.ts.
   */
  subscribe(topic: string, options?: SubscribeOptions): AsyncIterable<Entry> {
    return subscribeTopic(
      {
        batchRead: (t, o) => this.batchRead(t, o),
        waitForWrites: (t, o) => this.waitForWrites(t, o),
        peekFrom: (t, fromSeq, maxBytes) => this.#peekFrom(t, fromSeq, maxBytes),
      },
      topic,
      options,
    );
  }

  // ───────────────────────────── progress ─────────────────────────────

  #waitFor(done: () => boolean): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return this.#progress.waitFor(done);
  }

  // ───────────────────────────── space reclamation ─────────────────────────────

  #maybeReclaim(): void {
    if (!this.#cursorsMovedSinceReclaim || this.#reclaiming || this.#state !== 'open' || this.#failure) return;
    this.#reclaiming = this.reclaim()
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.#reclaiming = null;
      });
  }

  /**
   * Deletes sealed segment files whose entries are all consumed: snapshot the cursors durably,
   * make every writer drop the files (closing its handles), then let the flusher unlink them.
   * Runs on its own about once a second while consumers make progress; returns the count deleted.
   */
  async reclaim(): Promise<number> {
    this.#checkUsable();
    return this.#segmentFileJobs.run(() => this.#reclaimConsumed());
  }

  async #reclaimConsumed(): Promise<number> {
    this.#cursorsMovedSinceReclaim = false;
    await this.#persistCursorSnapshot();
    const durable = this.#ns.cursors.snapshotCursors();
    const sealed = (s: SegmentSummary): boolean => s.id.epoch < this.#ns.epoch || this.#segments.includes(s);
    const doomed = deletableSegments(this.#segments, (id) => durable.get(id) ?? 0, sealed);
    if (doomed.length === 0) return 0;
    const paths = doomed.map((s) => s.path);
    await Promise.all(this.#channels.map((c) => c.control.call('forgetSegments', paths)));
    await this.#flusher.call('deleteFiles', paths);
    const gone = new Set(paths);
    for (let i = this.#segments.length - 1; i >= 0; i--)
      if (gone.has(this.#segments[i]!.path)) this.#segments.splice(i, 1);
    this.#reclaimedSegments += paths.length;
    const bytes = doomed.reduce((n, seg) => n + seg.sizeBytes, 0);
    this.#reclaimedBytes += bytes;
    this.emit('reclaimed', { segments: paths.length, bytes });
    return paths.length;
  }

  /** Writes a new CURSORS generation through the flusher (the main thread never fsyncs). */
  async #persistCursorSnapshot(): Promise<void> {
    // A snapshot whose CURSORS never landed is retried as it is (beginSnapshot returns it again).
    const snapshot = this.#ns.cursors.beginSnapshot();
    Atomics.store(this.#cells, CURSOR_LOG_GENERATION, this.#ns.cursors.generation);
    await this.#flusher.call('writeFileAtomic', snapshot.path, snapshot.bytes);
    const stale = this.#ns.cursors.completeSnapshot();
    if (stale.length > 0) await this.#flusher.call('deleteFiles', stale);
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  /**
   * Drains pending appends, writes everything, persists cursors, makes it durable (unless fsync
   * is 'none'), stops every worker and releases the directory lock. Idempotent.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    if (this.#reclaimTimer) clearInterval(this.#reclaimTimer);
    let firstError: unknown = null;
    const attempt = async (step: () => Promise<unknown>): Promise<void> => {
      try {
        await step();
      } catch (err) {
        firstError ??= err;
      }
    };
    if (!this.#failure) {
      await attempt(() => Promise.allSettled([...this.#inflightReads]));
      // Every reclaim and verify queued before close finishes first (none starts after it).
      await attempt(() => this.#segmentFileJobs.run(() => Promise.resolve()));
      await attempt(() => Promise.all(this.#channels.map((c) => c.flushBlocked())));
      const pending = new Set(this.#policy.pending());
      for (const state of this.#topics.values()) {
        if (pending.has(state.id)) this.#ns.cursors.advance(state.id, state.reader.cursor, true);
      }
      await attempt(() => this.#syncTargets());
      await attempt(() => this.#persistCursorSnapshot());
    }
    this.#closingWorkers = true;
    await Promise.allSettled(this.#channels.map((c) => c.control.call('close')));
    await Promise.allSettled([this.#flusher.call('close')]);
    for (const c of this.#channels) c.control.release();
    this.#flusher.release();
    await Promise.allSettled([...this.#channels.map((c) => c.worker.terminate()), this.#flusherWorker.terminate()]);
    this.#state = 'closed';
    this.#fail(WalError.closed());
    this.#ns.close();
    if (firstError) throw toWalError(firstError);
  }
}

/** ES2024 `String.prototype.isWellFormed` (Node ≥ 20), missing from the ES2023 lib this builds with. */
type WellFormedString = string & { isWellFormed(): boolean };

/** msgpack bytes of a JS value: a distinct type so they are flagged with the msgpack codec. */
class PackedValue extends Uint8Array {}

function segmentFiles(dir: string): { files: number; bytes: number } {
  const files = listSegmentSizes(nodeFileIo, dir);
  return { files: files.length, bytes: files.reduce((n, f) => n + f.sizeBytes, 0) };
}

function codecOf(payload: EntryData): number {
  return payload instanceof PackedValue ? CODEC_MSGPACK : CODEC_RAW;
}

function readCheckpointOption(options: ReadOptions | undefined): boolean {
  if (options === undefined) return true;
  if (typeof options !== 'object' || options === null) throw WalError.invalidArgument('options must be an object');
  if (options.checkpoint === undefined) return true;
  if (typeof options.checkpoint !== 'boolean')
    throw WalError.invalidArgument(`checkpoint must be a boolean, got ${typeof options.checkpoint}`);
  return options.checkpoint;
}
