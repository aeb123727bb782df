/**
 * Consumer positions and the durable topic table (docs/FORMAT.md §6, §18): a `CURSORS` snapshot of
 * generation g plus `cursors-<g>.log`, fixed 32-byte records appended after it, so persisting a
 * checkpoint costs one small positional write. A snapshot starts a new generation with its own log,
 * so a log is never truncated while it is the live one, and any crash leaves either the old
 * snapshot with its complete log or the new snapshot.
 *
 * Many consumers (§18): consumer 0 is the default one (the WAL's own reads); named consumers have
 * ids 1 … 2^32 − 1 that are never reused. Registration and deletion change the consumer table in
 * memory and become durable only through a snapshot; until the snapshot registering a consumer
 * completed, no record of it is written (so no position can outlive a registration a crash lost).
 * Version-1 files load as the default consumer's positions.
 */
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { describeDiskValue, packControlFile, unpackControlMap } from './disk-codec.js';
import { createFresh, pwriteAll, writeFileAtomic, type FileIo } from './file-io.js';
import { crc32Of, readU32, writeU32 } from './frame.js';
import {
  CURSOR_LOG_SNAPSHOT_BYTES,
  MAX_CONSUMER_ID,
  MAX_SEQ,
  MAX_TOPIC_ID,
  isValidConsumerName,
  isValidTopicName,
} from './limits.js';

export const CURSORS_FILE_NAME = 'CURSORS';
export const CURSORS_FORMAT = 'walrus-ts/cursors';
/** What this build writes; it reads version 1 too (§18.3). */
export const CURSORS_VERSION = 2;
export const CURSOR_RECORD_BYTES = 32;
export const CURSOR_RECORD_MAGIC = 0x53525543; // bytes 43 55 52 53, "CURS"
/** The default consumer: the WAL's own readNext / batchRead / subscribe / count. */
export const DEFAULT_CONSUMER_ID = 0;
/** Record kind 0: a position (the only kind, §18.2). */
const RECORD_KIND_POSITION = 0;
const CURSOR_RECORD_CRC_OFFSET = 28;
const MAX_GENERATION = 0xffff_ffff;
const TWO_POW_32 = 0x1_0000_0000;
const LOG_FILE_NAME = /^cursors-([0-9a-f]{8})\.log$/;

export interface CursorRecord {
  generation: number;
  topicId: number;
  nextSeq: number;
  /** 0 (the default consumer) when absent: a version-1 record is exactly such a record. */
  consumerId?: number;
}

export interface CursorStoreOptions {
  /** false under fsync 'none': snapshots skip their fsyncs and `syncLog` does nothing. */
  durable: boolean;
}

export function cursorLogPath(dir: string, generation: number): string {
  return path.join(dir, `cursors-${generation.toString(16).padStart(8, '0')}.log`);
}

export function encodeCursorRecord(record: CursorRecord): Uint8Array {
  const out = new Uint8Array(CURSOR_RECORD_BYTES);
  writeCursorRecord(
    out,
    0,
    record.generation,
    record.consumerId ?? DEFAULT_CONSUMER_ID,
    record.topicId,
    record.nextSeq,
  );
  return out;
}

/** Writes one record at `at` of `out` (32 bytes: kind 0 and zeroed reserved bytes included). */
export function writeCursorRecord(
  out: Uint8Array,
  at: number,
  generation: number,
  consumerId: number,
  topicId: number,
  nextSeq: number,
): void {
  writeU32(out, at, CURSOR_RECORD_MAGIC);
  writeU32(out, at + 4, generation);
  writeU32(out, at + 8, topicId);
  writeU32(out, at + 12, nextSeq % TWO_POW_32);
  writeU32(out, at + 16, Math.floor(nextSeq / TWO_POW_32));
  writeU32(out, at + 20, consumerId);
  writeU32(out, at + 24, RECORD_KIND_POSITION); // kind (byte 24) and the 3 reserved bytes
  writeU32(out, at + CURSOR_RECORD_CRC_OFFSET, crc32Of(out, at, at + CURSOR_RECORD_CRC_OFFSET));
}

/**
 * The record at `at`, or null when it is not a valid record (torn, garbage, out of range, another
 * kind, reserved bytes set). `consumerId` is present only for a named consumer's record, so a
 * default-consumer record decodes exactly as a version-1 one.
 */
export function decodeCursorRecord(buf: Uint8Array, at: number): CursorRecord | null {
  if (at + CURSOR_RECORD_BYTES > buf.byteLength) return null;
  if (readU32(buf, at) !== CURSOR_RECORD_MAGIC) return null;
  if (readU32(buf, at + CURSOR_RECORD_CRC_OFFSET) !== crc32Of(buf, at, at + CURSOR_RECORD_CRC_OFFSET)) return null;
  if (readU32(buf, at + 24) !== RECORD_KIND_POSITION) return null;
  const topicId = readU32(buf, at + 8);
  const nextSeq = readU32(buf, at + 12) + readU32(buf, at + 16) * TWO_POW_32;
  if (topicId === 0 || nextSeq > MAX_SEQ) return null;
  const consumerId = readU32(buf, at + 20);
  const record: CursorRecord = { generation: readU32(buf, at + 4), topicId, nextSeq };
  if (consumerId !== DEFAULT_CONSUMER_ID) record.consumerId = consumerId;
  return record;
}

/** One consumer as CURSORS holds it. */
export interface ConsumerRow {
  id: number;
  name: string;
  flags: number;
  positions: Array<[topicId: number, nextSeq: number]>;
}

/** A loaded CURSORS file, version 1 normalized to version 2 (§18.3). */
export interface CursorSnapshot {
  generation: number;
  /** [name, id, firstSeq]: every seq below firstSeq was given up by a retention limit. */
  topics: Array<[name: string, id: number, firstSeq: number]>;
  /** Consumer 0 (the default, name '') first, always present. */
  consumers: ConsumerRow[];
  nextConsumerId: number;
}

/** A CURSORS file to write atomically (tmp, fsync, rename, directory fsync). */
export interface SnapshotFile {
  path: string;
  bytes: Uint8Array;
  generation: number;
}

interface ConsumerState {
  readonly id: number;
  readonly name: string;
  readonly flags: number;
  /** Next seq to deliver per topic id (a topic without one reads from its firstSeq). */
  readonly positions: Map<number, number>;
  /** Per topic, the value a reopen would load: the last record written, else the snapshot's. */
  readonly persisted: Map<number, number>;
}

/** What a completed snapshot made durable: what reclamation may rely on. */
interface DurableView {
  readonly consumers: ReadonlyMap<number, ReadonlyMap<number, number>>;
  readonly firstSeqs: ReadonlyMap<number, number>;
}

export class CursorStore {
  readonly dir: string;
  readonly #io: FileIo;
  readonly #durable: boolean;
  #generation: number;
  #logFd: number | null;
  #logBytes: number;
  #recordsWritten = 0;
  readonly #idsByName = new Map<string, number>();
  readonly #namesById = new Map<number, string>();
  readonly #firstSeqs = new Map<number, number>();
  readonly #consumers = new Map<number, ConsumerState>();
  readonly #consumerIdsByName = new Map<string, number>();
  #nextConsumerId: number;
  #durableView: DurableView;
  #pendingSnapshot: { staleLog: string; view: DurableView; file: SnapshotFile } | null = null;
  /** Where advanceAll / advanceMany encode their records (grown as needed, never shrunk), and whose each is. */
  #recordScratch = new Uint8Array(4 * CURSOR_RECORD_BYTES);
  readonly #scratchOwners: ConsumerState[] = [];

  private constructor(io: FileIo, dir: string, durable: boolean, loaded: CursorSnapshot) {
    this.#io = io;
    this.dir = dir;
    this.#durable = durable;
    this.#generation = loaded.generation;
    for (const [name, id, firstSeq] of loaded.topics) {
      this.#idsByName.set(name, id);
      this.#namesById.set(id, name);
      if (firstSeq > 0) this.#firstSeqs.set(id, firstSeq);
    }
    for (const row of loaded.consumers) this.#addConsumer(row.id, row.name, row.flags, new Map(row.positions));
    this.#nextConsumerId = loaded.nextConsumerId;
    this.#durableView = this.#captureView();
    const snapshotGeneration = loaded.generation;
    this.#logBytes = this.#replayLog();
    // A snapshot that began (its log exists) but whose CURSORS never landed: its records are newer
    // than everything in this generation's log, so they are applied too and it stays the live log.
    const next = nextGeneration(snapshotGeneration);
    if (this.#io.kind(cursorLogPath(dir, next)) === 'file') {
      this.#generation = next;
      this.#logBytes = this.#replayLog();
    }
    this.#deleteStaleLogs(snapshotGeneration);
    this.#logFd = this.#openLog();
  }

  /** Loads CURSORS and its log (no CURSORS: generation 0, no topics), deleting stale logs. */
  static open(io: FileIo, dir: string, options: CursorStoreOptions): CursorStore {
    return new CursorStore(io, dir, options.durable, readSnapshot(io, path.join(dir, CURSORS_FILE_NAME)));
  }

  get generation(): number {
    return this.#generation;
  }

  get logPath(): string {
    return cursorLogPath(this.dir, this.#generation);
  }

  /** Records appended since open, across generations: a change means the log needs an fdatasync. */
  get recordsWritten(): number {
    return this.#recordsWritten;
  }

  /** Topic name → id, as known to the store. */
  topicTable(): Map<string, number> {
    return new Map(this.#idsByName);
  }

  /** The largest topic id seen in the table or in any position (0 if none), so new ids never collide. */
  get maxTopicId(): number {
    let max = 0;
    for (const id of this.#namesById.keys()) max = Math.max(max, id);
    for (const c of this.#consumers.values()) for (const id of c.positions.keys()) max = Math.max(max, id);
    return max;
  }

  /** The default consumer's next seq to deliver on `topicId`. */
  cursor(topicId: number): number {
    return this.position(DEFAULT_CONSUMER_ID, topicId);
  }

  /** A consumer's next seq to deliver on `topicId` (the topic's firstSeq when it has none). */
  position(consumerId: number, topicId: number): number {
    const own = this.#consumers.get(consumerId)?.positions.get(topicId);
    return own === undefined ? this.firstSeq(topicId) : Math.max(own, this.firstSeq(topicId));
  }

  /** Every seq of `topicId` below this was given up by a retention limit (§18.1); 0 if none. */
  firstSeq(topicId: number): number {
    return this.#firstSeqs.get(topicId) ?? 0;
  }

  /**
   * Raises a topic's firstSeq (never lowers it), in memory: durable with the next snapshot, which
   * must complete before any segment holding entries below it is unlinked (§19.2).
   */
  raiseFirstSeq(topicId: number, firstSeq: number): void {
    this.#ensureOpen();
    checkTopicId(topicId);
    checkSeq(firstSeq);
    const old = this.firstSeq(topicId);
    if (firstSeq <= old) return;
    // A consumer without a position held the topic from the old firstSeq: it gets that position
    // explicitly, so what it loses now is reported from there, not silently skipped.
    for (const c of this.#consumers.values()) if (!c.positions.has(topicId)) c.positions.set(topicId, old);
    this.#firstSeqs.set(topicId, firstSeq);
  }

  /** A consumer's own stored position on `topicId`, even below firstSeq; undefined if it has none. */
  ownPosition(consumerId: number, topicId: number): number | undefined {
    return this.#consumers.get(consumerId)?.positions.get(topicId);
  }

  /** Adds a topic to the table; it becomes durable with the next snapshot. */
  registerTopic(name: string, topicId: number): void {
    this.#ensureOpen();
    checkTopicId(topicId);
    const knownId = this.#idsByName.get(name);
    const knownName = this.#namesById.get(topicId);
    if (knownId === topicId && knownName === name) return;
    if (knownId !== undefined || knownName !== undefined) {
      throw WalError.corrupt(
        `topic table conflict: id ${topicId} / ${JSON.stringify(name)} vs ${knownId} / ${JSON.stringify(knownName)}`,
      );
    }
    this.#idsByName.set(name, topicId);
    this.#namesById.set(topicId, name);
  }

  /** The id of the named consumer, or undefined when it is not registered. */
  consumerId(name: string): number | undefined {
    return this.#consumerIdsByName.get(name);
  }

  /** Named consumers (id ≥ 1) in registration order: [id, name]. */
  namedConsumers(): Array<[id: number, name: string]> {
    const out: Array<[number, string]> = [];
    for (const c of this.#consumers.values()) if (c.id !== DEFAULT_CONSUMER_ID) out.push([c.id, c.name]);
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Every registered consumer id, the default one (0) first. */
  consumerIds(): number[] {
    return [...this.#consumers.keys()].sort((a, b) => a - b);
  }

  /** The explicit positions of a consumer: [topicId, nextSeq]. */
  positionsOf(consumerId: number): Array<[number, number]> {
    return [...(this.#consumers.get(consumerId)?.positions ?? [])];
  }

  /**
   * Registers a named consumer in memory with its starting positions and returns its id (never one
   * used before). It becomes durable with the next snapshot; until then `isDurable` is false and no
   * record of it may be written.
   */
  registerConsumer(name: string, positions: ReadonlyMap<number, number>): number {
    this.#ensureOpen();
    if (!isValidConsumerName(name)) throw WalError.invalidArgument(`invalid consumer name ${JSON.stringify(name)}`);
    if (this.#consumerIdsByName.has(name)) throw WalError.invalidArgument(`consumer ${JSON.stringify(name)} exists`);
    const id = this.#nextConsumerId;
    if (id > MAX_CONSUMER_ID) throw WalError.tooLarge('consumer count', id, MAX_CONSUMER_ID);
    for (const [topicId, seq] of positions) {
      checkTopicId(topicId);
      checkSeq(seq);
    }
    this.#nextConsumerId = id + 1;
    this.#addConsumer(id, name, 0, new Map(positions));
    return id;
  }

  /** Unregisters a named consumer in memory (durable with the next snapshot); its id is never reused. */
  deleteConsumer(consumerId: number): void {
    this.#ensureOpen();
    const c = this.#consumers.get(consumerId);
    if (c === undefined || consumerId === DEFAULT_CONSUMER_ID) return;
    this.#consumers.delete(consumerId);
    this.#consumerIdsByName.delete(c.name);
  }

  /** Whether the last completed snapshot holds this consumer's registration (so its records may be written). */
  isDurable(consumerId: number): boolean {
    return this.#durableView.consumers.has(consumerId);
  }

  /** Whether the consumer table in memory differs from the last completed snapshot's (a snapshot is owed). */
  consumersChanged(): boolean {
    const durable = this.#durableView.consumers;
    if (durable.size !== this.#consumers.size) return true;
    for (const id of this.#consumers.keys()) if (!durable.has(id)) return true;
    return false;
  }

  /**
   * Moves the default consumer's position forward (never back) in memory; with `persist`, also
   * appends a log record so the new value reaches the OS before this returns (made durable by
   * `syncLog` or a snapshot).
   */
  advance(topicId: number, nextSeq: number, persist: boolean, consumerId = DEFAULT_CONSUMER_ID): void {
    this.#ensureOpen();
    checkTopicId(topicId);
    checkSeq(nextSeq);
    const c = this.#consumer(consumerId);
    const value = Math.max(this.position(consumerId, topicId), nextSeq);
    // Recorded first: a record that cannot be written leaves the position where it was.
    if (persist && value !== (c.persisted.get(topicId) ?? 0)) this.#appendRecord(c, topicId, value);
    if (value !== c.positions.get(topicId)) c.positions.set(topicId, value);
  }

  /** `advanceMany` of the default consumer alone (the common case: no named consumer read this turn). */
  advanceAll(advances: ReadonlyMap<number, number>): void {
    this.#ensureOpen();
    this.#writeEncoded(this.#encodeAdvances(this.#consumer(DEFAULT_CONSUMER_ID), advances, 0));
  }

  /**
   * `advance(topicId, nextSeq, true, consumerId)` for every entry of `advances` (consumer id →
   * topic id → next seq), with one positional write of all their records: what the main thread's
   * reads settled in one event-loop turn persist with. A write that fails moves no position (and,
   * best effort, records the previous values again, so a record that did reach the OS is undone).
   * A consumer deleted meanwhile is skipped: its records would be ignored anyway.
   */
  advanceMany(advances: ReadonlyMap<number, ReadonlyMap<number, number>>): void {
    this.#ensureOpen();
    let count = 0;
    for (const [consumerId, byTopic] of advances) {
      const c = this.#consumers.get(consumerId);
      if (c !== undefined) count = this.#encodeAdvances(c, byTopic, count);
    }
    this.#writeEncoded(count);
  }

  /**
   * Encodes the records `byTopic` needs into the scratch buffer after the `count` already there
   * (straight into a buffer kept for the next call: this runs once per event-loop turn of a
   * strictly-at-once reader, often for one record); returns the new count.
   */
  #encodeAdvances(c: ConsumerState, byTopic: ReadonlyMap<number, number>, count: number): number {
    for (const [topicId, nextSeq] of byTopic) {
      checkTopicId(topicId);
      checkSeq(nextSeq);
      const value = Math.max(this.position(c.id, topicId), nextSeq);
      if (value === (c.persisted.get(topicId) ?? 0)) {
        if (value !== c.positions.get(topicId)) c.positions.set(topicId, value);
        continue;
      }
      this.#checkMayRecord(c);
      let bytes = this.#recordScratch;
      if ((count + 1) * CURSOR_RECORD_BYTES > bytes.byteLength) {
        const grown = new Uint8Array(bytes.byteLength * 2);
        grown.set(bytes);
        this.#recordScratch = bytes = grown;
      }
      writeCursorRecord(bytes, count * CURSOR_RECORD_BYTES, this.#generation, c.id, topicId, value);
      this.#scratchOwners[count] = c;
      count++;
    }
    return count;
  }

  /** Writes the `count` records encoded in the scratch buffer with one pwrite, then moves their positions. */
  #writeEncoded(count: number): void {
    if (count === 0) return;
    const bytes = this.#recordScratch;
    const owners = this.#scratchOwners;
    const length = count * CURSOR_RECORD_BYTES;
    try {
      pwriteAll(this.#io, this.#logFd!, bytes, this.#logBytes, length);
    } catch (err) {
      try {
        for (let i = 0; i < count; i++) {
          const topicId = readU32(bytes, i * CURSOR_RECORD_BYTES + 8);
          this.#appendRecord(owners[i]!, topicId, owners[i]!.persisted.get(topicId) ?? 0);
        }
      } catch {
        // The log refuses writes: the records of the failed write, if any landed, stay torn or whole.
      }
      throw WalError.fromSystem(err, 'appending cursor records', this.logPath);
    } finally {
      owners.length = count; // the owners of the next call are written over; nothing else is kept
    }
    this.#logBytes += length;
    this.#recordsWritten += count;
    for (let i = 0; i < count; i++) {
      const at = i * CURSOR_RECORD_BYTES;
      const topicId = readU32(bytes, at + 8);
      const value = readU32(bytes, at + 12) + readU32(bytes, at + 16) * TWO_POW_32;
      owners[i]!.persisted.set(topicId, value);
      owners[i]!.positions.set(topicId, value);
    }
  }

  /**
   * Moves a position back to `maxNextSeq` if it is past it, persisted: for recovery (a position past
   * its topic's recovered end) and for undoing an advance whose read failed.
   */
  clamp(topicId: number, maxNextSeq: number, consumerId = DEFAULT_CONSUMER_ID): void {
    this.#ensureOpen();
    checkSeq(maxNextSeq);
    const c = this.#consumers.get(consumerId);
    if (c === undefined || this.position(consumerId, topicId) <= maxNextSeq) return;
    c.positions.set(topicId, maxNextSeq);
    if (this.isDurable(consumerId)) this.#appendRecord(c, topicId, maxNextSeq);
  }

  /**
   * Sets a position anywhere (`seek`), persisted when `persist` and the consumer's registration is
   * durable (otherwise the registering snapshot carries it).
   */
  setPosition(consumerId: number, topicId: number, nextSeq: number, persist: boolean): void {
    this.#ensureOpen();
    checkTopicId(topicId);
    checkSeq(nextSeq);
    const c = this.#consumer(consumerId);
    if (persist && this.isDurable(consumerId) && nextSeq !== (c.persisted.get(topicId) ?? 0))
      this.#appendRecord(c, topicId, nextSeq);
    c.positions.set(topicId, nextSeq);
  }

  /** True once the log outgrew its bound: the owner should snapshot at its next safe point. */
  wantsSnapshot(): boolean {
    return this.#logBytes >= CURSOR_LOG_SNAPSHOT_BYTES;
  }

  /** fdatasync of the cursor log; nothing when the store is not durable. */
  syncLog(): void {
    this.#ensureOpen();
    if (!this.#durable) return;
    try {
      this.#io.fdatasync(this.#logFd!);
    } catch (err) {
      const sys = err as NodeJS.ErrnoException;
      throw new WalError(
        'ERR_FSYNC_FAILED',
        `fdatasync of ${this.logPath} failed: ${sys?.message ?? String(err)}`,
        {
          path: this.logPath,
          errno: sys?.code,
          syscall: 'fdatasync',
        },
        { cause: err },
      );
    }
  }

  /**
   * Writes every position of every consumer into a new CURSORS generation and switches to its
   * empty log. The new log is created before CURSORS is renamed, so the directory fsync of the
   * rename also makes the log's creation durable.
   */
  snapshot(): void {
    this.#ensureOpen();
    const next = nextGeneration(this.#generation);
    const nextLogPath = cursorLogPath(this.dir, next);
    const view = this.#captureView();
    const nextFd = this.#createEmptyLog(nextLogPath);
    const cursorsPath = path.join(this.dir, CURSORS_FILE_NAME);
    try {
      writeFileAtomic(this.#io, cursorsPath, this.#encodeSnapshot(next));
    } catch (err) {
      this.#io.close(nextFd);
      removeIfPresent(this.#io, nextLogPath);
      throw WalError.fromSystem(err, 'writing CURSORS', cursorsPath);
    }
    const oldLogPath = this.logPath;
    this.#io.close(this.#logFd!);
    this.#generation = next;
    this.#logFd = nextFd;
    this.#logBytes = 0;
    this.#completeView(view);
    // The old log is already superseded; if removing it fails, the next open deletes it as stale.
    removeIfPresent(this.#io, oldLogPath);
  }

  /**
   * The first half of a snapshot whose file another thread writes (the engine's flusher, so the
   * main thread never fsyncs): switches new records to the next generation's log at once and
   * returns what CURSORS must become. Until `completeSnapshot`, a reopen applies both logs.
   *
   * While one is pending (its CURSORS write failed or is still in flight) the same one is returned:
   * beginning another would move new records to generation g + 2, which a reopen after a crash
   * (it applies only logs g and g + 1) would delete unread — consumed entries delivered again.
   * A registration made meanwhile is therefore not in it (`isDurable` stays false): the caller
   * snapshots again once it completed.
   */
  beginSnapshot(): SnapshotFile {
    this.#ensureOpen();
    if (this.#pendingSnapshot !== null) return this.#pendingSnapshot.file;
    const next = nextGeneration(this.#generation);
    const view = this.#captureView();
    const nextFd = this.#createEmptyLog(cursorLogPath(this.dir, next));
    const bytes = this.#encodeSnapshot(next);
    const file: SnapshotFile = { path: path.join(this.dir, CURSORS_FILE_NAME), bytes, generation: next };
    this.#pendingSnapshot = { staleLog: this.logPath, view, file };
    this.#io.close(this.#logFd!);
    this.#generation = next;
    this.#logFd = nextFd;
    this.#logBytes = 0;
    return file;
  }

  /** The second half, once CURSORS is durable: returns the superseded log to delete. */
  completeSnapshot(): string[] {
    const pending = this.#pendingSnapshot;
    if (!pending) return [];
    this.#pendingSnapshot = null;
    this.#completeView(pending.view);
    return [pending.staleLog];
  }

  /** The default consumer's positions in the last CURSORS snapshot. */
  snapshotCursors(): Map<number, number> {
    return new Map(this.#durableView.consumers.get(DEFAULT_CONSUMER_ID) ?? []);
  }

  /**
   * Per the last completed snapshot, the smallest next seq of `topicId` over every consumer that
   * holds space (a consumer without a position holds the topic from its firstSeq): below it every
   * consumer consumed everything (§9 with many consumers, §19.2).
   */
  durableConsumedBelow(topicId: number): number {
    const firstSeq = this.#durableView.firstSeqs.get(topicId) ?? 0;
    let min = Infinity;
    for (const positions of this.#durableView.consumers.values())
      min = Math.min(min, Math.max(firstSeq, positions.get(topicId) ?? firstSeq));
    return min === Infinity ? firstSeq : min;
  }

  /** The smallest position on `topicId` over every consumer in memory (what recovery may treat as consumed). */
  minPosition(topicId: number): number {
    let min = Infinity;
    for (const id of this.#consumers.keys()) min = Math.min(min, this.position(id, topicId));
    return min === Infinity ? this.firstSeq(topicId) : min;
  }

  /** The largest position on `topicId` over every consumer: a topic's next seq is never below it. */
  maxPosition(topicId: number): number {
    let max = this.firstSeq(topicId);
    for (const id of this.#consumers.keys()) max = Math.max(max, this.position(id, topicId));
    return max;
  }

  close(): void {
    if (this.#logFd === null) return;
    const fd = this.#logFd;
    this.#logFd = null;
    this.#io.close(fd);
  }

  #ensureOpen(): void {
    if (this.#logFd === null) throw WalError.closed();
  }

  #consumer(consumerId: number): ConsumerState {
    const c = this.#consumers.get(consumerId);
    if (c === undefined) throw WalError.invalidArgument(`consumer id ${consumerId} is not registered`);
    return c;
  }

  #addConsumer(id: number, name: string, flags: number, positions: Map<number, number>): void {
    this.#consumers.set(id, { id, name, flags, positions, persisted: new Map(positions) });
    if (id !== DEFAULT_CONSUMER_ID) this.#consumerIdsByName.set(name, id);
  }

  /** A record of a consumer whose registration is not durable could outlive it (§18.2): never written. */
  #checkMayRecord(c: ConsumerState): void {
    if (!this.isDurable(c.id))
      throw WalError.invalidArgument(`consumer ${JSON.stringify(c.name)} is not durably registered yet`);
  }

  #captureView(): DurableView {
    const consumers = new Map<number, ReadonlyMap<number, number>>();
    for (const c of this.#consumers.values())
      consumers.set(c.id, new Map([...c.positions].filter(([id]) => this.#namesById.has(id))));
    return { consumers, firstSeqs: new Map(this.#firstSeqs) };
  }

  #completeView(view: DurableView): void {
    this.#durableView = view;
    for (const [id, positions] of view.consumers) {
      const c = this.#consumers.get(id);
      if (c === undefined) continue;
      for (const [topicId, nextSeq] of positions)
        if ((c.persisted.get(topicId) ?? 0) < nextSeq) c.persisted.set(topicId, nextSeq);
    }
  }

  #encodeSnapshot(generation: number): Uint8Array {
    const topics = [...this.#idsByName].map(([name, id]): [string, number, number] => [name, id, this.firstSeq(id)]);
    const consumers = [...this.#consumers.values()]
      .sort((a, b) => a.id - b.id)
      // Positions on a topic the table does not name (a record written before its registration
      // was snapshotted, then never recovered) are dropped, as version 1 did.
      .map((c) => [c.id, c.name, c.flags, [...c.positions].filter(([id]) => this.#namesById.has(id)).sort(byId)]);
    return packControlFile({
      format: CURSORS_FORMAT,
      version: CURSORS_VERSION,
      generation,
      topics,
      consumers,
      nextConsumerId: this.#nextConsumerId,
    });
  }

  #appendRecord(c: ConsumerState, topicId: number, nextSeq: number): void {
    this.#checkMayRecord(c);
    const record = new Uint8Array(CURSOR_RECORD_BYTES);
    writeCursorRecord(record, 0, this.#generation, c.id, topicId, nextSeq);
    try {
      pwriteAll(this.#io, this.#logFd!, record, this.#logBytes);
    } catch (err) {
      throw WalError.fromSystem(err, 'appending a cursor record', this.logPath);
    }
    this.#logBytes += CURSOR_RECORD_BYTES;
    this.#recordsWritten++;
    c.persisted.set(topicId, nextSeq);
  }

  /**
   * Applies the valid prefix of the current generation's log; returns its length in bytes. A record
   * of a consumer not in the table is ignored (deleted, or never durably registered), but its id
   * still raises nextConsumerId, so it can never move a consumer registered later.
   */
  #replayLog(): number {
    const logPath = this.logPath;
    if (this.#io.kind(logPath) !== 'file') return 0;
    let bytes: Uint8Array;
    try {
      bytes = this.#io.readFile(logPath);
    } catch (err) {
      throw WalError.fromSystem(err, 'reading the cursor log', logPath);
    }
    let at = 0;
    for (; at + CURSOR_RECORD_BYTES <= bytes.byteLength; at += CURSOR_RECORD_BYTES) {
      const record = decodeCursorRecord(bytes, at);
      if (record === null || record.generation !== this.#generation) break;
      const consumerId = record.consumerId ?? DEFAULT_CONSUMER_ID;
      if (consumerId >= this.#nextConsumerId) this.#nextConsumerId = Math.min(consumerId + 1, MAX_CONSUMER_ID + 1);
      const c = this.#consumers.get(consumerId);
      if (c === undefined) continue;
      c.positions.set(record.topicId, record.nextSeq);
      c.persisted.set(record.topicId, record.nextSeq);
    }
    return at;
  }

  /** Logs other than the snapshot's own and the one a begun snapshot switched to are stale. */
  #deleteStaleLogs(snapshotGeneration: number): void {
    const keep = new Set([
      cursorLogPath(this.dir, snapshotGeneration),
      cursorLogPath(this.dir, nextGeneration(snapshotGeneration)),
    ]);
    for (const name of this.#io.readdir(this.dir)) {
      const filePath = path.join(this.dir, name);
      if (LOG_FILE_NAME.test(name) && !keep.has(filePath)) removeIfPresent(this.#io, filePath);
    }
  }

  /** Opens the live log for appending after its valid prefix, cutting off a torn or damaged tail. */
  #openLog(): number {
    const logPath = this.logPath;
    try {
      const fd = this.#io.open(logPath, 'write');
      if (this.#io.fileSize(fd) > this.#logBytes) this.#io.ftruncate(fd, this.#logBytes);
      return fd;
    } catch (err) {
      throw WalError.fromSystem(err, 'opening the cursor log', logPath);
    }
  }

  /** A leftover of a snapshot that failed before its rename may exist: it is replaced, never followed. */
  #createEmptyLog(logPath: string): number {
    try {
      return createFresh(this.#io, logPath);
    } catch (err) {
      throw WalError.fromSystem(err, 'creating a cursor log', logPath);
    }
  }
}

function readSnapshot(io: FileIo, filePath: string): CursorSnapshot {
  if (io.kind(filePath) === null) return emptySnapshot();
  let bytes: Uint8Array;
  try {
    bytes = io.readFile(filePath);
  } catch (err) {
    throw WalError.fromSystem(err, 'reading CURSORS', filePath);
  }
  return decodeCursorSnapshot(bytes, filePath);
}

function emptySnapshot(): CursorSnapshot {
  return {
    generation: 0,
    topics: [],
    consumers: [{ id: DEFAULT_CONSUMER_ID, name: '', flags: 0, positions: [] }],
    nextConsumerId: 1,
  };
}

/** Decodes and validates CURSORS bytes, either version (also used by the read-only CLI). */
export function decodeCursorSnapshot(bytes: Uint8Array, filePath: string): CursorSnapshot {
  let fields: Record<string, unknown>;
  try {
    fields = unpackControlMap(bytes);
  } catch (err) {
    throw WalError.corrupt(`${filePath} is not a readable CURSORS file: ${(err as Error).message}`, { path: filePath });
  }
  return validateSnapshot(fields, filePath);
}

function validateSnapshot(fields: Record<string, unknown>, filePath: string): CursorSnapshot {
  const corrupt = (why: string) => WalError.corrupt(`${filePath} ${why}`, { path: filePath });
  if (fields.format !== CURSORS_FORMAT || (fields.version !== 1 && fields.version !== CURSORS_VERSION)) {
    throw new WalError(
      'ERR_UNSUPPORTED_FORMAT',
      `${filePath} has format ${describeDiskValue(fields.format)} version ${describeDiskValue(fields.version)}; ` +
        `this build reads ${CURSORS_FORMAT} versions 1 and ${CURSORS_VERSION}`,
      { path: filePath },
    );
  }
  const { generation, topics } = fields;
  if (!isIntegerIn(generation, 0, MAX_GENERATION))
    throw corrupt(`has an invalid generation ${describeDiskValue(generation)}`);
  if (!Array.isArray(topics)) throw corrupt('has no topic table');
  const names = new Set<string>();
  const ids = new Set<number>();
  for (const row of topics as unknown[]) {
    if (!Array.isArray(row) || row.length !== 3) throw corrupt('has a malformed topic row');
    const [name, id, seq] = row as unknown[];
    if (typeof name !== 'string' || name.length === 0) throw corrupt('has a topic without a name');
    // Names are held to the same rule as at the door (1 … 4096 bytes of well-formed UTF-8): one that
    // is not could never have been registered, and would be written into every new segment.
    if (!isValidTopicName(name)) throw corrupt(`has an invalid topic name ${JSON.stringify(name.slice(0, 64))}`);
    if (!isIntegerIn(id, 1, MAX_TOPIC_ID) || !isIntegerIn(seq, 0, MAX_SEQ))
      throw corrupt(`has an invalid row for topic ${JSON.stringify(name)}`);
    if (names.has(name) || ids.has(id)) throw corrupt(`lists topic ${JSON.stringify(name)} / id ${id} twice`);
    names.add(name);
    ids.add(id);
  }
  const rows = topics as Array<[string, number, number]>;
  if (fields.version === 1) {
    // §18.3: the third column was the default consumer's cursor; nothing was given up.
    return {
      generation,
      topics: rows.map(([name, id]) => [name, id, 0]),
      consumers: [{ id: DEFAULT_CONSUMER_ID, name: '', flags: 0, positions: rows.map(([, id, seq]) => [id, seq]) }],
      nextConsumerId: 1,
    };
  }
  return { generation, topics: rows, ...validateConsumers(fields, ids, corrupt) };
}

function validateConsumers(
  fields: Record<string, unknown>,
  topicIds: ReadonlySet<number>,
  corrupt: (why: string) => WalError,
): Pick<CursorSnapshot, 'consumers' | 'nextConsumerId'> {
  const { consumers, nextConsumerId } = fields;
  if (!Array.isArray(consumers)) throw corrupt('has no consumer table');
  if (!isIntegerIn(nextConsumerId, 1, MAX_CONSUMER_ID + 1))
    throw corrupt(`has an invalid nextConsumerId ${describeDiskValue(nextConsumerId)}`);
  const out: ConsumerRow[] = [];
  const ids = new Set<number>();
  const names = new Set<string>();
  for (const row of consumers as unknown[]) {
    if (!Array.isArray(row) || row.length !== 4) throw corrupt('has a malformed consumer row');
    const [id, name, flags, positions] = row as unknown[];
    if (!isIntegerIn(id, 0, MAX_CONSUMER_ID) || id >= nextConsumerId) throw corrupt('has an invalid consumer id');
    const isDefault = id === DEFAULT_CONSUMER_ID;
    if (isDefault ? name !== '' : !isValidConsumerName(name)) throw corrupt(`has an invalid name for consumer ${id}`);
    if (flags !== 0) throw corrupt(`has unknown flags for consumer ${id}`);
    if (ids.has(id) || names.has(name as string)) throw corrupt(`lists consumer ${id} twice`);
    if (!Array.isArray(positions)) throw corrupt(`has no positions for consumer ${id}`);
    const seen = new Set<number>();
    for (const p of positions as unknown[]) {
      if (!Array.isArray(p) || p.length !== 2) throw corrupt(`has a malformed position of consumer ${id}`);
      const [topicId, seq] = p as unknown[];
      if (!isIntegerIn(topicId, 1, MAX_TOPIC_ID) || !isIntegerIn(seq, 0, MAX_SEQ))
        throw corrupt(`has an invalid position of consumer ${id}`);
      if (!topicIds.has(topicId) || seen.has(topicId))
        throw corrupt(`has a position of consumer ${id} on an unknown or repeated topic ${topicId}`);
      seen.add(topicId);
    }
    ids.add(id);
    if (!isDefault) names.add(name as string);
    out.push({ id, name: name as string, flags: 0, positions: positions as Array<[number, number]> });
  }
  if (!ids.has(DEFAULT_CONSUMER_ID)) out.unshift({ id: DEFAULT_CONSUMER_ID, name: '', flags: 0, positions: [] });
  return { consumers: out, nextConsumerId };
}

function byId(a: [number, number], b: [number, number]): number {
  return a[0] - b[0];
}

function nextGeneration(generation: number): number {
  return generation === MAX_GENERATION ? 0 : generation + 1;
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function checkTopicId(topicId: number): void {
  if (!isIntegerIn(topicId, 1, MAX_TOPIC_ID))
    throw WalError.invalidArgument(`topic id must be an integer in 1…${MAX_TOPIC_ID}, got ${topicId}`);
}

function checkSeq(seq: number): void {
  if (!isIntegerIn(seq, 0, MAX_SEQ))
    throw WalError.invalidArgument(`sequence number must be an integer in 0…${MAX_SEQ}, got ${seq}`);
}

function removeIfPresent(io: FileIo, filePath: string): void {
  try {
    io.unlink(filePath);
  } catch {
    // Only stale cursor logs are removed here; one that stays is deleted by the next open.
  }
}
