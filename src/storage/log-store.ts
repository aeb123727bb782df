/**
 * The whole log in one thread, synchronously: the reference implementation of the API (README.md)
 * and of the rules of docs/SEMANTICS.md without workers. The semantic test suite runs against it,
 * and the worker engine must behave as it does. One partition (writer 0) owns every topic;
 * cursors and the topic table live in the CursorStore.
 *
 * Named consumers (rules 11–12, D19): `consumer(name)` registers one and returns only once a
 * CURSORS snapshot made the registration durable (the engine's first read waits for the same
 * snapshot; here nothing can run in between, so the call itself waits), `deleteConsumer` likewise.
 * Reads take `consumer` in their options; each consumer has its own CheckpointPolicy, so
 * at-least-once counts its reads per consumer and topic. Reclaim keeps what any consumer has not
 * consumed, unless a retention limit (`retention`, rule D22; log-store-reclaim.ts) takes it: then
 * the seqs given up are durable before any unlink, and a consumer behind continues from the first
 * retained entry.
 *
 * Durability (docs/SEMANTICS.md rules 5–7):
 * - 'each': a write is synced inside the write itself (see `syncingWrites`), so a failed fdatasync
 *   fails the append and the partition rolls it back: nothing reported as failed is visible, and a
 *   retry cannot duplicate it. A persisted cursor record is synced before the read returns; if that
 *   fails the cursor is moved back and the read fails.
 * - { intervalMs }: no timers; each mutating call first syncs everything written before it once
 *   intervalMs passed since the last sync, so a failed sync fails that call before it changes anything.
 * - 'none': never syncs.
 */
import * as path from 'node:path';
import { checkMaxBytes, readCheckpointOption } from '../argument-checks.js';
import { WalError } from '../errors.js';
import { CheckpointPolicy, parseReadConsistency, type ReadConsistency } from './checkpoint-policy.js';
import { checkConsumerOptions, registerConsumerByName, type ConsumerOptions } from './consumer-registration.js';
import { parseFsyncMode, type FsyncMode } from './fsync-mode.js';
import { DEFAULT_CONSUMER_ID, type CursorStore } from './cursor-store.js';
import { nodeFileIo, type FileIo } from './file-io.js';
import { CODEC_MSGPACK, CODEC_RAW, FLAG_BATCH, FLAG_BATCH_END } from './frame.js';
import {
  MAX_TOPIC_ID,
  checkBatch,
  checkConsumerName,
  checkEntrySize,
  encodeTopic,
  toEntryBytes,
  validateSizing,
  type ResolvedSizing,
} from './limits.js';
import { finishRecovery, openNamespace, recordCleanShutdown, type OpenedNamespace } from './namespace-opening.js';
import type { CleanShutdownCheck } from './clean-shutdown.js';
import { Partition, type ReadBatch } from './partition.js';
import { reclaimSegments } from './log-store-reclaim.js';
import { parseRetention, type RetentionPolicy } from './retention.js';
import type { SegmentSummary } from './recover.js';
import { scanSegment, type DamageReport } from './segment-scanner.js';
import { publishSummaries } from './summary-files.js';
import { afterGap, namedGaps, unreadCount, type TopicGaps } from './seq-gaps.js';
import { byteView } from './byte-view.js';
import { ZERO_FILL_AHEAD_BYTES } from './zero-fill-ahead.js';

export type { ConsumerOptions, ReadConsistency };

/** Which consumer a read or count is for: a named one, or (omitted) the default consumer. */
export interface ConsumerSelector {
  consumer?: string;
}
export interface ReadOptions extends ConsumerSelector {
  checkpoint?: boolean;
}
export interface BatchReadOptions extends ReadOptions {
  maxBytes: number;
}
export interface LogStoreOptions {
  dir: string;
  io?: FileIo;
  readConsistency?: ReadConsistency;
  fsync?: FsyncMode;
  segmentBytes?: number;
  blockBytes?: number;
  maxEntryBytes?: number;
  maxBatchEntries?: number;
  /** What reclaim() keeps (docs/SEMANTICS.md rule D22), validated as `Walrus.open`'s. */
  retention?: { maxBytes?: number; maxAgeMs?: number; keepConsumed?: boolean };
}

export interface StoredEntry {
  topic: string;
  seq: number;
  data: Uint8Array;
  codec: number;
  /** Append time, ms since the epoch (docs/FORMAT.md §13.3; MANIFEST.v1TimeMs for a version-1 entry). */
  timeMs: number;
}

export interface RecoveryReport {
  damage: DamageReport[];
  /** Bytes of the segments scanned (those without a trusted summary). */
  scannedBytes: number;
  skippedFiles: string[];
  /** Segments taken from their summaries instead of scanning (docs/FORMAT.md §15.4). */
  summarizedFiles: number;
  distrustedSummaries: Array<{ path: string; why: string }>;
  /** The last close's clean-shutdown record (FORMAT §16, clean-shutdown.ts). */
  cleanShutdown: CleanShutdownCheck;
  /** Every recorded gap (FORMAT §7.3): seqs [fromSeq, toSeq) of `topic` consumed and no longer stored. */
  gaps: Array<{ topic: string; fromSeq: number; toSeq: number }>;
}

const KNOWN_OPTIONS = new Set([
  'dir',
  'io',
  'readConsistency',
  'fsync',
  'segmentBytes',
  'blockBytes',
  'maxEntryBytes',
  'maxBatchEntries',
  'retention',
]);

export class LogStore {
  readonly recovery: RecoveryReport;
  readonly #io: FileIo;
  readonly #ns: OpenedNamespace;
  readonly #cursors: CursorStore;
  readonly #partition: Partition;
  /** Per consumer id (the default consumer's included): each counts its own reads (rule 11). */
  readonly #policies = new Map<number, CheckpointPolicy>();
  readonly #consistency: ReadConsistency;
  readonly #fsync: FsyncMode;
  readonly #sizing: ResolvedSizing;
  readonly #retention: RetentionPolicy;
  readonly #idsByName = new Map<string, number>();
  #nextTopicId: number;
  /** Segments of earlier epochs that still exist: sealed, and reclaimable once consumed. */
  #olderSegments: SegmentSummary[];
  /** Per topic, seqs consumed and lost before this open: reads skip them, counts leave them out. */
  readonly #gaps: ReadonlyMap<number, TopicGaps>;
  /** A segment was created since the last sync: its directory entry is not durable yet. */
  #dirNeedsSync = false;
  #lastSyncMs = Date.now();
  #closed = false;

  private constructor(
    io: FileIo,
    ns: OpenedNamespace,
    fsync: FsyncMode,
    sizing: ResolvedSizing,
    policy: CheckpointPolicy,
    retention: RetentionPolicy,
  ) {
    this.#io = io;
    this.#ns = ns;
    this.#cursors = ns.cursors;
    this.#fsync = fsync;
    this.#sizing = sizing;
    this.#retention = retention;
    this.#consistency = policy.consistency;
    this.#policies.set(DEFAULT_CONSUMER_ID, policy);
    const recovery = finishRecovery(
      ns,
      ns.segmentsToScan.map((segmentPath) => scanSegment(io, segmentPath)),
    );
    // The segments scanned are sealed (a new epoch began): their summaries spare the next open a scan.
    publishSummaries(io, ns.dir, recovery.summaryDrafts, fsync !== 'none');
    this.recovery = {
      damage: recovery.damage,
      scannedBytes: recovery.scannedBytes,
      skippedFiles: recovery.skippedFiles,
      summarizedFiles: recovery.summarizedPaths.size,
      distrustedSummaries: recovery.distrusted,
      cleanShutdown: recovery.cleanShutdown,
      gaps: namedGaps(recovery.topics, recovery.gaps),
    };
    this.#olderSegments = recovery.segments;
    this.#gaps = recovery.gaps;
    for (const topic of recovery.topics) this.#idsByName.set(topic.name, topic.id);
    this.#nextTopicId = Math.max(recovery.maxTopicId, this.#cursors.maxTopicId) + 1;
    const each = fsync === 'each';
    this.#partition = new Partition(
      {
        dir: ns.dir,
        io: each ? syncingWrites(io) : io,
        epoch: ns.epoch,
        writerIndex: 0,
        segmentBytes: sizing.segmentBytes,
        blockBytes: sizing.blockBytes,
        timeFloorMs: recovery.timeFloorMs,
        v1TimeMs: ns.manifest.v1TimeMs,
        summaryDrafts: fsync === 'none' ? 'unsynced' : 'synced',
        zeroFillAheadBytes: each ? ZERO_FILL_AHEAD_BYTES : 0,
        // Called inside the commit that creates the segment: under 'each' a failed directory
        // fsync fails (and rolls back) that commit.
        onSegmentCreated: () => (each ? this.#fsyncDir() : (this.#dirNeedsSync = true)),
      },
      recovery.topics,
    );
  }

  /**
   * Opens (creating) the namespace directory `dir`: lock, new epoch in MANIFEST, every segment
   * scanned and merged into each topic's longest valid prefix, cursors clamped and snapshotted.
   */
  static open(options: LogStoreOptions): LogStore {
    if (typeof options !== 'object' || options === null) throw WalError.invalidArgument('options must be an object');
    for (const name of Object.keys(options))
      if (!KNOWN_OPTIONS.has(name)) throw WalError.invalidArgument(`unknown option '${name}'`);
    if (typeof options.dir !== 'string' || options.dir.length === 0 || options.dir.includes('\0')) {
      throw WalError.invalidArgument('dir must be a non-empty path string');
    }
    const io = options.io ?? nodeFileIo;
    const policy = new CheckpointPolicy(parseReadConsistency(options.readConsistency));
    const fsync = parseFsyncMode(options.fsync);
    const sizing = validateSizing(options);
    const retention = parseRetention(options.retention);
    const ns = openNamespace(io, path.resolve(options.dir), fsync !== 'none');
    try {
      return new LogStore(io, ns, fsync, sizing, policy, retention);
    } catch (err) {
      ns.close();
      throw err;
    }
  }

  /** Appends one entry; returns its sequence number once written (and synced under 'each'). */
  append(topic: string, data: Uint8Array | string, codec?: number): number {
    this.#ensureOpen();
    encodeTopic(topic);
    const bytes = toEntryBytes(data);
    checkEntrySize(bytes.byteLength, this.#sizing.maxEntryBytes);
    const entryCodec = checkCodec(codec);
    this.#syncIfDue();
    const topicId = this.#topicIdFor(topic);
    return this.#commit(() => this.#partition.stageEntry(topicId, bytes, 0, bytes.byteLength, entryCodec, 0));
  }

  /** Appends all entries or none (one write, committed by its last frame); [] for an empty batch. */
  batchAppend(topic: string, entries: Array<Uint8Array | string>, codec?: number): number[] {
    this.#ensureOpen();
    encodeTopic(topic);
    const list = checkBatch(entries, this.#sizing.maxBatchEntries, this.#sizing.maxEntryBytes);
    const entryCodec = checkCodec(codec);
    if (list.length === 0) return [];
    this.#syncIfDue();
    const topicId = this.#topicIdFor(topic);
    const lastIndex = list.length - 1;
    return this.#commit(() =>
      list.map((bytes, i) =>
        this.#partition.stageEntry(
          topicId,
          bytes,
          0,
          bytes.byteLength,
          entryCodec,
          i === lastIndex ? FLAG_BATCH | FLAG_BATCH_END : FLAG_BATCH,
        ),
      ),
    );
  }

  /**
   * The next entry the consumer (`options.consumer`, else the default one) has not read, or null;
   * with `checkpoint` (default) its position moves past it.
   */
  readNext(topic: string, options?: ReadOptions): StoredEntry | null {
    this.#ensureOpen();
    encodeTopic(topic);
    const checkpoint = readCheckpointOption(options);
    const consumerId = this.#consumerOf(options);
    return this.#read(topic, 1, 1, checkpoint, consumerId)[0] ?? null;
  }

  /**
   * Unread entries in order: at least one if any (even one larger than `maxBytes`), at most
   * `maxBatchEntries`, otherwise within `maxBytes` of payload.
   */
  batchRead(topic: string, options: BatchReadOptions): StoredEntry[] {
    this.#ensureOpen();
    encodeTopic(topic);
    if (typeof options !== 'object' || options === null)
      throw WalError.invalidArgument('batchRead needs options { maxBytes }');
    // The engine's check, Infinity included (see argument-checks.ts): a program valid on one is valid on the other.
    const maxBytes = checkMaxBytes(options.maxBytes);
    const checkpoint = readCheckpointOption(options);
    const consumerId = this.#consumerOf(options);
    return this.#read(topic, maxBytes, this.#sizing.maxBatchEntries, checkpoint, consumerId);
  }

  /** The consumer's next seq to read on `topic` (0 for an unknown topic); seqs in a recorded gap are skipped when read. */
  position(topic: string, options?: ConsumerSelector): number {
    this.#ensureOpen();
    encodeTopic(topic);
    const consumerId = this.#consumerOf(options);
    const topicId = this.#idsByName.get(topic);
    return topicId === undefined ? 0 : this.#cursors.position(consumerId, topicId);
  }

  /** Entries appended and not yet consumed (checkpointed) on `topic` by the consumer; gaps are not entries. */
  count(topic: string, options?: ConsumerSelector): number {
    this.#ensureOpen();
    encodeTopic(topic);
    const consumerId = this.#consumerOf(options);
    const topicId = this.#idsByName.get(topic);
    if (topicId === undefined) return 0;
    return unreadCount(
      this.#gaps.get(topicId),
      this.#cursors.position(consumerId, topicId),
      this.#partition.nextSeq(topicId),
    );
  }

  /**
   * Registers the named consumer unless it exists (then nothing changes: `startAt` applies only at
   * registration) and returns once the registration is durable (a CURSORS snapshot, in every fsync
   * mode): a crash after this returned keeps it. `startAt` 'earliest' (default) starts it at each
   * existing topic's first retained entry, 'latest' at its next seq; a topic created later it reads
   * from its start.
   */
  consumer(name: string, options?: ConsumerOptions): void {
    this.#ensureOpen();
    // Checked before the interval sync, so a rejected call changes nothing (rule F1).
    const checked = checkConsumerName(name);
    checkConsumerOptions(options);
    if (this.#cursors.consumerId(checked) !== undefined) return;
    this.#syncIfDue();
    const { id } = registerConsumerByName(this.#cursors, checked, options, this.#idsByName.values(), {
      firstRetained: (topicId) => this.#firstRetained(topicId),
      end: (topicId) => this.#partition.nextSeq(topicId),
    });
    try {
      this.#cursors.snapshot();
    } catch (err) {
      // Not registered after all (in memory; on disk it is if the rename landed: a crash decides).
      this.#cursors.deleteConsumer(id);
      throw err;
    }
  }

  /**
   * Unregisters a named consumer (ERR_INVALID_ARGUMENT when it is not registered) and returns once
   * that is durable; from the next reclaim on it holds nothing. Its name may be registered afresh.
   */
  deleteConsumer(name: string): void {
    this.#ensureOpen();
    const id = this.#consumerOf({ consumer: name });
    this.#syncIfDue();
    this.#cursors.deleteConsumer(id);
    this.#policies.delete(id);
    // If this fails the deletion stays in memory and the next snapshot (reclaim, close) carries it.
    this.#cursors.snapshot();
  }

  /** The named consumers, sorted. */
  consumers(): string[] {
    this.#ensureOpen();
    return this.#cursors
      .namedConsumers()
      .map(([, name]) => name)
      .sort();
  }

  topics(): string[] {
    this.#ensureOpen();
    return [...this.#idsByName.keys()];
  }

  /** Makes everything written so far durable (segments, their directory entries, cursor log); nothing under 'none'. */
  sync(): void {
    this.#ensureOpen();
    if (this.#fsync === 'none') {
      publishSummaries(this.#io, this.#ns.dir, this.#partition.takeSummaryDrafts(), false);
      return;
    }
    this.#partition.fdatasyncCurrent();
    if (this.#dirNeedsSync) {
      this.#fsyncDir();
      this.#dirNeedsSync = false;
    }
    // Sealed segments are durable now: their summaries may be published (FORMAT §15.3).
    this.#publishSummaries();
    this.#cursors.syncLog();
    this.#lastSyncMs = Date.now();
  }

  /**
   * One reclaim round (log-store-reclaim.ts, FORMAT §9 and §19.2): snapshots the cursors, then
   * deletes every sealed segment consumed according to that snapshot (unless `retention.keepConsumed`)
   * and those a retention limit takes, consumed or not, after making the seqs they give up durable.
   * A consumer behind continues from the first retained entry. Returns the deleted paths.
   */
  reclaim(): string[] {
    this.#ensureOpen();
    const current = this.#partition.currentSegment?.path;
    const doomed = reclaimSegments({
      ...{ io: this.#io, dir: this.#ns.dir, cursors: this.#cursors, policy: this.#retention },
      segments: [...this.#olderSegments, ...this.#partition.segmentSummaries()],
      isSealed: (s) => s.path !== current,
      forget: (paths) => {
        this.#partition.forgetSegments(paths);
        this.#olderSegments = this.#olderSegments.filter((s) => !paths.includes(s.path));
      },
      fsyncDir: this.#fsync === 'none' ? null : () => this.#fsyncDir(),
    });
    return doomed.map((s) => s.path);
  }

  /** Persists pending at-least-once cursors, snapshots, syncs (unless 'none') and unlocks. Idempotent. */
  close(): void {
    if (this.#closed) return;
    try {
      for (const [consumerId, policy] of this.#policies)
        for (const topicId of policy.pending())
          this.#cursors.advance(topicId, this.#cursors.position(consumerId, topicId), true, consumerId);
      this.#cursors.snapshot();
      this.#partition.sealCurrent();
      this.sync();
      // The last write of a clean close (FORMAT §16): reached only when everything before succeeded.
      recordCleanShutdown(this.#ns);
    } finally {
      this.#closed = true;
      try {
        this.#partition.close();
      } finally {
        this.#ns.close();
      }
    }
  }

  /** A failed fdatasync of a segment is final like any other; a summary that cannot be written is only a cache. */
  #publishSummaries(): void {
    try {
      publishSummaries(this.#io, this.#ns.dir, this.#partition.takeSummaryDrafts(), true);
    } catch (err) {
      throw WalError.fromSystem(err, 'publishing segment summaries', this.#ns.dir);
    }
  }

  #ensureOpen(): void {
    if (this.#closed) throw WalError.closed();
  }

  #topicIdFor(topic: string): number {
    const known = this.#idsByName.get(topic);
    if (known !== undefined) return known;
    const topicId = this.#nextTopicId;
    if (topicId > MAX_TOPIC_ID) throw WalError.tooLarge('topic count', topicId, MAX_TOPIC_ID, { topic });
    this.#cursors.registerTopic(topic, topicId);
    this.#partition.defineTopic(topicId, topic);
    this.#idsByName.set(topic, topicId);
    this.#nextTopicId = topicId + 1;
    return topicId;
  }

  /** Stages entries and commits them as one write; on any failure nothing staged stays behind. */
  #commit<T>(stageEntries: () => T): T {
    let result: T;
    try {
      result = stageEntries();
    } catch (err) {
      this.#partition.discardStaged();
      throw err;
    }
    this.#partition.commit();
    // Under 'each' the write was synced, so a segment it sealed is durable: publish its summary now.
    if (this.#fsync === 'each') this.#publishSummaries();
    return result;
  }

  /** The consumer id a read or count names (the default consumer's when it names none). */
  #consumerOf(options: ConsumerSelector | undefined): number {
    const name = options?.consumer;
    if (name === undefined) return DEFAULT_CONSUMER_ID;
    const id = this.#cursors.consumerId(checkConsumerName(name));
    if (id === undefined) throw WalError.invalidArgument(`consumer ${JSON.stringify(name)} is not registered`);
    return id;
  }

  #policyOf(consumerId: number): CheckpointPolicy {
    let policy = this.#policies.get(consumerId);
    if (policy === undefined) this.#policies.set(consumerId, (policy = new CheckpointPolicy(this.#consistency)));
    return policy;
  }

  /** A topic's first seq still stored (its next seq when none is), and never below its firstSeq. */
  #firstRetained(topicId: number): number {
    return Math.max(this.#cursors.firstSeq(topicId), this.#partition.firstStored(topicId, this.#gaps.get(topicId)));
  }

  #read(topic: string, maxBytes: number, maxEntries: number, checkpoint: boolean, consumerId: number): StoredEntry[] {
    const topicId = this.#idsByName.get(topic);
    if (topicId === undefined) return [];
    // Seqs in a recorded gap are gone: reading goes on after it (the checkpoint then moves past it).
    const fromSeq = afterGap(this.#gaps.get(topicId), this.#cursors.position(consumerId, topicId));
    if (fromSeq >= this.#partition.nextSeq(topicId)) return [];
    if (checkpoint) {
      this.#syncIfDue();
      // Before reading, never after: a failed snapshot must not fail a read that consumed entries.
      if (this.#cursors.wantsSnapshot()) this.#cursors.snapshot();
    }
    const entries = this.#readAcrossGaps(topic, topicId, fromSeq, maxBytes, maxEntries);
    if (checkpoint && entries.length > 0)
      this.#checkpoint(consumerId, topicId, fromSeq, entries.at(-1)!.seq + 1, entries.length);
    return entries;
  }

  /**
   * The partition's read, going on past a recorded gap while the budget lasts: here a checkpoint
   * moves the position to the last entry read plus one, so a batch may hold entries on both sides.
   * An entry after a gap is taken only within the budget (the first entry of a batch always is).
   */
  #readAcrossGaps(
    topic: string,
    topicId: number,
    fromSeq: number,
    maxBytes: number,
    maxEntries: number,
  ): StoredEntry[] {
    const gaps = this.#gaps.get(topicId);
    const end = this.#partition.nextSeq(topicId);
    const entries: StoredEntry[] = [];
    let bytes = 0;
    for (let seq = fromSeq; ;) {
      const part = toStoredEntries(
        topic,
        this.#partition.read(topicId, seq, Math.max(0, maxBytes - bytes), maxEntries - entries.length),
      );
      if (part.length === 0 || (entries.length > 0 && part[0]!.data.byteLength > maxBytes - bytes)) break;
      for (const entry of part) {
        entries.push(entry);
        bytes += entry.data.byteLength;
      }
      const next = part.at(-1)!.seq + 1;
      const after = afterGap(gaps, next);
      if (after === next || after >= end || entries.length >= maxEntries) break;
      seq = after;
    }
    return entries;
  }

  #checkpoint(consumerId: number, topicId: number, fromSeq: number, nextSeq: number, consumed: number): void {
    const persist = this.#policyOf(consumerId).recordCheckpoint(topicId, consumed);
    this.#cursors.advance(topicId, nextSeq, persist, consumerId);
    if (!persist || this.#fsync !== 'each') return;
    try {
      this.#cursors.syncLog();
    } catch (err) {
      // The read fails, so its entries must stay unread: in memory at once, on disk by a record
      // that supersedes the one whose sync failed (best effort: the sync error is what to report).
      try {
        this.#cursors.clamp(topicId, fromSeq, consumerId);
      } catch {
        // the cursor is already back in memory; the record is retried by the next persist
      }
      throw err;
    }
  }

  #syncIfDue(): void {
    if (typeof this.#fsync !== 'object') return;
    if (Date.now() - this.#lastSyncMs >= this.#fsync.intervalMs) this.sync();
  }

  #fsyncDir(): void {
    try {
      this.#io.fsyncDir(this.#ns.dir);
    } catch (err) {
      throw fsyncFailed(err, this.#ns.dir);
    }
  }
}

/**
 * The FileIo a partition writes through under 'each': every write is fdatasynced before it counts
 * as done, so a failed sync is a failed write, which the partition rolls back (truncate, seqs).
 */
function syncingWrites(io: FileIo): FileIo {
  const pathsByFd = new Map<number, string>();
  return {
    open: (filePath, mode) => {
      const fd = io.open(filePath, mode);
      pathsByFd.set(fd, filePath);
      return fd;
    },
    close: (fd) => {
      pathsByFd.delete(fd);
      io.close(fd);
    },
    pwrite: (fd, data, offset, length, position) => {
      const written = io.pwrite(fd, data, offset, length, position);
      try {
        io.fdatasync(fd);
      } catch (err) {
        throw fsyncFailed(err, pathsByFd.get(fd) ?? `descriptor ${fd}`);
      }
      return written;
    },
    pread: (fd, into, offset, length, position) => io.pread(fd, into, offset, length, position),
    fdatasync: (fd) => io.fdatasync(fd),
    fsync: (fd) => io.fsync(fd),
    ftruncate: (fd, lengthBytes) => io.ftruncate(fd, lengthBytes),
    fileSize: (fd) => io.fileSize(fd),
    fsyncDir: (dirPath) => io.fsyncDir(dirPath),
    rename: (from, to) => io.rename(from, to),
    unlink: (filePath) => io.unlink(filePath),
    readdir: (dirPath) => io.readdir(dirPath),
    mkdirp: (dirPath, modeBits) => io.mkdirp(dirPath, modeBits),
    kind: (filePath) => io.kind(filePath),
    readFile: (filePath) => io.readFile(filePath),
    tryLock: (fd) => io.tryLock(fd),
    bootId: () => io.bootId(),
    changeStamp: (fd) => io.changeStamp(fd),
  };
}

function fsyncFailed(err: unknown, filePath: string): WalError {
  const sys = err as NodeJS.ErrnoException;
  const message = `fsync of ${filePath} failed: ${sys?.message ?? String(err)}`;
  return new WalError(
    'ERR_FSYNC_FAILED',
    message,
    { path: filePath, errno: sys?.code, syscall: sys?.syscall },
    { cause: err },
  );
}

function toStoredEntries(topic: string, batch: ReadBatch): StoredEntry[] {
  return batch.entries.map((ref) => ({
    topic,
    seq: ref.seq,
    codec: ref.codec,
    timeMs: ref.timeMs,
    data: byteView(batch.data, ref.offset, ref.offset + ref.length),
  }));
}

function checkCodec(codec: unknown): number {
  if (codec === undefined) return CODEC_RAW;
  if (codec === CODEC_RAW || codec === CODEC_MSGPACK) return codec;
  throw WalError.invalidArgument(`codec must be ${CODEC_RAW} (raw) or ${CODEC_MSGPACK} (msgpack)`);
}
