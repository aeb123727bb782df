/**
 * Consumer cursors and the durable topic table (docs/FORMAT.md §6): a `CURSORS` snapshot of
 * generation g plus `cursors-<g>.log`, fixed 32-byte records appended after it, so persisting a
 * checkpoint costs one small positional write. A snapshot starts a new generation with its own log,
 * so a log is never truncated while it is the live one, and any crash leaves either the old
 * snapshot with its complete log or the new snapshot.
 */
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { describeDiskValue, packControlFile, unpackControlMap } from './disk-codec.js';
import { createFresh, pwriteAll, writeFileAtomic, type FileIo } from './file-io.js';
import { crc32Of, readU32, writeU32 } from './frame.js';
import { CURSOR_LOG_SNAPSHOT_BYTES, MAX_SEQ, MAX_TOPIC_ID, isValidTopicName } from './limits.js';

export const CURSORS_FILE_NAME = 'CURSORS';
export const CURSORS_FORMAT = 'walrus-ts/cursors';
export const CURSORS_VERSION = 1;
export const CURSOR_RECORD_BYTES = 32;
export const CURSOR_RECORD_MAGIC = 0x53525543; // bytes 43 55 52 53, "CURS"
const CURSOR_RECORD_CRC_OFFSET = 28;
const MAX_GENERATION = 0xffff_ffff;
const TWO_POW_32 = 0x1_0000_0000;
const LOG_FILE_NAME = /^cursors-([0-9a-f]{8})\.log$/;

export interface CursorRecord {
  generation: number;
  topicId: number;
  nextSeq: number;
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
  writeCursorRecord(out, 0, record.generation, record.topicId, record.nextSeq);
  return out;
}

/** Writes one record at `at` of `out` (32 bytes, zeroed padding included). */
export function writeCursorRecord(
  out: Uint8Array,
  at: number,
  generation: number,
  topicId: number,
  nextSeq: number,
): void {
  writeU32(out, at, CURSOR_RECORD_MAGIC);
  writeU32(out, at + 4, generation);
  writeU32(out, at + 8, topicId);
  writeU32(out, at + 12, nextSeq % TWO_POW_32);
  writeU32(out, at + 16, Math.floor(nextSeq / TWO_POW_32));
  writeU32(out, at + 20, 0);
  writeU32(out, at + 24, 0);
  writeU32(out, at + CURSOR_RECORD_CRC_OFFSET, crc32Of(out, at, at + CURSOR_RECORD_CRC_OFFSET));
}

/** The record at `at`, or null when it is not a valid record (torn, garbage, out of range). */
export function decodeCursorRecord(buf: Uint8Array, at: number): CursorRecord | null {
  if (at + CURSOR_RECORD_BYTES > buf.byteLength) return null;
  if (readU32(buf, at) !== CURSOR_RECORD_MAGIC) return null;
  if (readU32(buf, at + CURSOR_RECORD_CRC_OFFSET) !== crc32Of(buf, at, at + CURSOR_RECORD_CRC_OFFSET)) return null;
  if (readU32(buf, at + 20) !== 0 || readU32(buf, at + 24) !== 0) return null;
  const topicId = readU32(buf, at + 8);
  const nextSeq = readU32(buf, at + 12) + readU32(buf, at + 16) * TWO_POW_32;
  if (topicId === 0 || nextSeq > MAX_SEQ) return null;
  return { generation: readU32(buf, at + 4), topicId, nextSeq };
}

export interface CursorSnapshot {
  generation: number;
  topics: Array<[name: string, id: number, nextSeq: number]>;
}

/** A CURSORS file to write atomically (tmp, fsync, rename, directory fsync). */
export interface SnapshotFile {
  path: string;
  bytes: Uint8Array;
  generation: number;
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
  readonly #cursors = new Map<number, number>();
  /** Per topic, the value a reopen would load: the last record written, else the snapshot's. */
  readonly #persisted = new Map<number, number>();
  #snapshotCursors = new Map<number, number>();
  #pendingSnapshot: { staleLog: string; cursors: Map<number, number>; file: SnapshotFile } | null = null;
  /** Where advanceAll encodes its records (grown as needed, never shrunk). */
  #recordScratch = new Uint8Array(4 * CURSOR_RECORD_BYTES);

  private constructor(io: FileIo, dir: string, durable: boolean, loaded: CursorSnapshot) {
    this.#io = io;
    this.dir = dir;
    this.#durable = durable;
    this.#generation = loaded.generation;
    for (const [name, id, nextSeq] of loaded.topics) {
      this.#idsByName.set(name, id);
      this.#namesById.set(id, name);
      this.#cursors.set(id, nextSeq);
    }
    this.#snapshotCursors = new Map(this.#cursors);
    for (const [id, nextSeq] of this.#cursors) this.#persisted.set(id, nextSeq);
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

  /** The largest topic id seen in the table or in any cursor (0 if none), so new ids never collide. */
  get maxTopicId(): number {
    let max = 0;
    for (const id of this.#namesById.keys()) max = Math.max(max, id);
    for (const id of this.#cursors.keys()) max = Math.max(max, id);
    return max;
  }

  cursor(topicId: number): number {
    return this.#cursors.get(topicId) ?? 0;
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

  /**
   * Moves a cursor forward (never back) in memory; with `persist`, also appends a log record so
   * the new value reaches the OS before this returns (made durable by `syncLog` or a snapshot).
   */
  advance(topicId: number, nextSeq: number, persist: boolean): void {
    this.#ensureOpen();
    checkTopicId(topicId);
    checkSeq(nextSeq);
    const value = Math.max(this.cursor(topicId), nextSeq);
    // Recorded first: a record that cannot be written leaves the cursor where it was.
    if (persist && value !== (this.#persisted.get(topicId) ?? 0)) this.#appendRecord(topicId, value);
    if (value !== this.cursor(topicId)) this.#cursors.set(topicId, value);
  }

  /**
   * `advance(topicId, nextSeq, true)` for every entry of `advances`, with one positional write of
   * all their records: what the main thread's reads settled in one event-loop turn persist with.
   * A write that fails moves no cursor (and, best effort, records the previous values again, so
   * a record that did reach the OS is undone).
   */
  advanceAll(advances: ReadonlyMap<number, number>): void {
    this.#ensureOpen();
    // Encoded straight into a buffer kept for the next call: this runs once per event-loop turn
    // of a strictly-at-once reader, often for one record.
    let bytes = this.#recordScratch;
    let count = 0;
    for (const [topicId, nextSeq] of advances) {
      checkTopicId(topicId);
      checkSeq(nextSeq);
      const value = Math.max(this.cursor(topicId), nextSeq);
      if (value === (this.#persisted.get(topicId) ?? 0)) {
        if (value !== this.cursor(topicId)) this.#cursors.set(topicId, value);
        continue;
      }
      if ((count + 1) * CURSOR_RECORD_BYTES > bytes.byteLength) {
        const grown = new Uint8Array(bytes.byteLength * 2);
        grown.set(bytes);
        this.#recordScratch = bytes = grown;
      }
      writeCursorRecord(bytes, count * CURSOR_RECORD_BYTES, this.#generation, topicId, value);
      count++;
    }
    if (count === 0) return;
    const length = count * CURSOR_RECORD_BYTES;
    try {
      pwriteAll(this.#io, this.#logFd!, bytes, this.#logBytes, length);
    } catch (err) {
      try {
        for (let i = 0; i < count; i++) {
          const topicId = readU32(bytes, i * CURSOR_RECORD_BYTES + 8);
          this.#appendRecord(topicId, this.#persisted.get(topicId) ?? 0);
        }
      } catch {
        // The log refuses writes: the records of the failed write, if any landed, stay torn or whole.
      }
      throw WalError.fromSystem(err, 'appending cursor records', this.logPath);
    }
    this.#logBytes += length;
    this.#recordsWritten += count;
    for (const [topicId, nextSeq] of advances) {
      const value = Math.max(this.cursor(topicId), nextSeq);
      this.#persisted.set(topicId, value);
      this.#cursors.set(topicId, value);
    }
  }

  /**
   * Moves a cursor back to `maxNextSeq` if it is past it, persisted: for recovery (a cursor past its
   * topic's recovered end) and for undoing an advance whose read failed.
   */
  clamp(topicId: number, maxNextSeq: number): void {
    this.#ensureOpen();
    checkSeq(maxNextSeq);
    if (this.cursor(topicId) <= maxNextSeq) return;
    this.#cursors.set(topicId, maxNextSeq);
    this.#appendRecord(topicId, maxNextSeq);
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
   * Writes every cursor of a named topic into a new CURSORS generation and switches to its empty
   * log. The new log is created before CURSORS is renamed, so the directory fsync of the rename
   * also makes the log's creation durable.
   */
  snapshot(): void {
    this.#ensureOpen();
    const next = nextGeneration(this.#generation);
    const nextLogPath = cursorLogPath(this.dir, next);
    const topics = [...this.#idsByName].map(([name, id]): [string, number, number] => [name, id, this.cursor(id)]);
    const nextFd = this.#createEmptyLog(nextLogPath);
    const cursorsPath = path.join(this.dir, CURSORS_FILE_NAME);
    try {
      const body = packControlFile({ format: CURSORS_FORMAT, version: CURSORS_VERSION, generation: next, topics });
      writeFileAtomic(this.#io, cursorsPath, body, this.#durable);
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
    this.#snapshotCursors = new Map(topics.map(([, id, nextSeq]) => [id, nextSeq]));
    for (const [, id, nextSeq] of topics) this.#persisted.set(id, nextSeq);
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
   */
  beginSnapshot(): SnapshotFile {
    this.#ensureOpen();
    if (this.#pendingSnapshot !== null) return this.#pendingSnapshot.file;
    const next = nextGeneration(this.#generation);
    const topics = [...this.#idsByName].map(([name, id]): [string, number, number] => [name, id, this.cursor(id)]);
    const nextFd = this.#createEmptyLog(cursorLogPath(this.dir, next));
    const bytes = packControlFile({ format: CURSORS_FORMAT, version: CURSORS_VERSION, generation: next, topics });
    const file: SnapshotFile = { path: path.join(this.dir, CURSORS_FILE_NAME), bytes, generation: next };
    this.#pendingSnapshot = {
      staleLog: this.logPath,
      cursors: new Map(topics.map(([, id, nextSeq]) => [id, nextSeq])),
      file,
    };
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
    this.#snapshotCursors = pending.cursors;
    for (const [id, nextSeq] of pending.cursors)
      if ((this.#persisted.get(id) ?? 0) < nextSeq) this.#persisted.set(id, nextSeq);
    return [pending.staleLog];
  }

  /** Cursor values in the last CURSORS snapshot: what reclamation may rely on. */
  snapshotCursors(): Map<number, number> {
    return new Map(this.#snapshotCursors);
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

  #appendRecord(topicId: number, nextSeq: number): void {
    const record = encodeCursorRecord({ generation: this.#generation, topicId, nextSeq });
    try {
      pwriteAll(this.#io, this.#logFd!, record, this.#logBytes);
    } catch (err) {
      throw WalError.fromSystem(err, 'appending a cursor record', this.logPath);
    }
    this.#logBytes += CURSOR_RECORD_BYTES;
    this.#recordsWritten++;
    this.#persisted.set(topicId, nextSeq);
  }

  /** Applies the valid prefix of the current generation's log; returns its length in bytes. */
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
      this.#cursors.set(record.topicId, record.nextSeq);
      this.#persisted.set(record.topicId, record.nextSeq);
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
  if (io.kind(filePath) === null) return { generation: 0, topics: [] };
  let bytes: Uint8Array;
  try {
    bytes = io.readFile(filePath);
  } catch (err) {
    throw WalError.fromSystem(err, 'reading CURSORS', filePath);
  }
  return decodeCursorSnapshot(bytes, filePath);
}

/** Decodes and validates CURSORS bytes (also used by the read-only CLI). */
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
  if (fields.format !== CURSORS_FORMAT || fields.version !== CURSORS_VERSION) {
    throw new WalError(
      'ERR_UNSUPPORTED_FORMAT',
      `${filePath} has format ${describeDiskValue(fields.format)} version ${describeDiskValue(fields.version)}; ` +
        `this build reads ${CURSORS_FORMAT} version ${CURSORS_VERSION}`,
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
    const [name, id, nextSeq] = row as unknown[];
    if (typeof name !== 'string' || name.length === 0) throw corrupt('has a topic without a name');
    // Names are held to the same rule as at the door (1 … 4096 bytes of well-formed UTF-8): one that
    // is not could never have been registered, and would be written into every new segment.
    if (!isValidTopicName(name)) throw corrupt(`has an invalid topic name ${JSON.stringify(name.slice(0, 64))}`);
    if (!isIntegerIn(id, 1, MAX_TOPIC_ID) || !isIntegerIn(nextSeq, 0, MAX_SEQ))
      throw corrupt(`has an invalid row for topic ${JSON.stringify(name)}`);
    if (names.has(name) || ids.has(id)) throw corrupt(`lists topic ${JSON.stringify(name)} / id ${id} twice`);
    names.add(name);
    ids.add(id);
  }
  return { generation, topics: topics as CursorSnapshot['topics'] };
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
