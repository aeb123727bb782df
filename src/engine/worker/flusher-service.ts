/**
 * The body of the flusher worker: the only thread that fsyncs. Each round it reads every writer's
 * written-ops counter, fdatasyncs every segment that can hold those ops (deduplicated: one fsync
 * per file per round, however many appends it covers — group commit), fsyncs the directory when
 * new segments appeared, then publishes the counter as durable. It does the same for the cursor
 * log, writes atomic snapshots, and unlinks reclaimed segments.
 *
 * Rounds: 'each' runs one as soon as a writer rings (appends wait for it); { intervalMs } runs one
 * every intervalMs (and at once on sync()); 'none' never fsyncs.
 *
 * Waiting under 'each' blocks the thread (`Atomics.wait`, blockOnDoorbell): the writer's ring is
 * then a futex wake instead of an event-loop task, the largest hand-off of a durable round saved.
 * Control calls (snapshots, deletions, stats, close) still arrive as messages: the main thread bumps
 * FLUSHER_CONTROL_CALLS and rings after posting one, and the loop yields to its event loop whenever
 * that cell moved (and at least every CONTROL_YIELD_MS), so they are served between rounds.
 *
 * An fsync failure is final: the page cache may have dropped the dirty pages, so retrying could
 * report a false success. The fatal cell is set, durability is no longer published, and the main
 * thread rejects every durable wait until the WAL is reopened (and recovered).
 */
import * as path from 'node:path';
import { toWalError } from '../../errors.js';
import { writeFileAtomic, type FileIo } from '../../storage/file-io.js';
import { cursorLogPath } from '../../storage/cursor-store.js';
import { parseSegmentFileName, segmentFileName } from '../../storage/segment-name.js';
import { publishSummaries, removeSummaryFiles } from '../../storage/summary-files.js';
import type { FlusherControl, FlusherInit, FlusherStats } from '../shared/control-protocol.js';
import { LatencyStats } from '../shared/latency-stats.js';
import {
  CURSOR_DURABLE,
  CURSOR_LOG_GENERATION,
  CURSOR_WRITTEN,
  FATAL_CODE,
  FATAL_FSYNC_FAILED,
  FLUSHER_DOORBELL,
  FLUSHER_ROUNDS,
  MAIN_DOORBELL,
  MAIN_WAITING,
  FLUSHER_WAITING,
  FLUSHER_CONTROL_CALLS,
  blockOnDoorbell,
  parkOnDoorbell,
  SYNC_REQUESTS,
  W_DURABLE_OPS,
  W_SEGMENT_NO,
  W_WRITTEN_OPS,
  ring,
  writerBase,
} from '../shared/progress-cells.js';

const EACH_IDLE_WAIT_MS = 1000;
const EACH_SPIN_MS = 0.05;
/** Under 'each' the loop yields to its event loop at least this often, even with no control call announced. */
const CONTROL_YIELD_MS = 50;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class FlusherService implements FlusherControl {
  readonly #init: FlusherInit;
  readonly #io: FileIo;
  readonly #cells: Int32Array;
  readonly #durable: boolean;
  readonly #intervalMs: number;
  /** Last segment number fsynced per writer (-1: none yet). */
  readonly #syncedSegment: number[];
  /**
   * Read descriptors for fdatasync, of files still being written: each writer's current segment and
   * the current cursor log (a sealed segment or an older log is closed once synced).
   */
  readonly #fds = new Map<string, number>();
  /**
   * Segment files reclaimed before any round fsynced their last writes. The next round skips them:
   * their entries are consumed and the cursors durable, so nothing in them is owed to anyone, and
   * opening them would fail (ENOENT) and be taken for a failed fsync.
   */
  readonly #reclaimedUnsynced = new Set<string>();
  /**
   * Segments whose summary draft may be published: sealed (rolled past, or every writer's last one
   * at close) and fdatasynced by a round, or scanned by open (FORMAT §15.3).
   */
  readonly #summaryDrafts: Set<string>;
  #syncedCursorGeneration = -1;
  #closing = false;
  #stopped: Promise<void> | null = null;
  #failed = false;
  #rounds = 0;
  #fsyncs = 0;
  readonly #fsyncLatency = new LatencyStats();

  constructor(init: FlusherInit, io: FileIo) {
    this.#init = init;
    this.#io = io;
    this.#cells = new Int32Array(init.cells);
    this.#durable = init.fsync !== 'none';
    this.#intervalMs = typeof init.fsync === 'object' ? init.fsync.intervalMs : EACH_IDLE_WAIT_MS;
    this.#syncedSegment = Array.from({ length: init.writers }, () => -1);
    this.#summaryDrafts = new Set(init.summaryDrafts);
  }

  run(): Promise<void> {
    this.#stopped ??= this.#loop();
    return this.#stopped;
  }

  async #loop(): Promise<void> {
    const each = this.#init.fsync === 'each';
    let roundDoorbell = Atomics.load(this.#cells, FLUSHER_DOORBELL);
    let roundSyncRequests = Atomics.load(this.#cells, SYNC_REQUESTS);
    let nextIntervalRoundMs = Date.now() + this.#intervalMs;
    let seenControlCalls = Atomics.load(this.#cells, FLUSHER_CONTROL_CALLS);
    let lastYieldMs = performance.now();
    while (!this.#closing) {
      if (each) {
        // Blocking waits and back-to-back rounds never return to the event loop on their own.
        const controlCalls = Atomics.load(this.#cells, FLUSHER_CONTROL_CALLS);
        if (controlCalls !== seenControlCalls || performance.now() - lastYieldMs >= CONTROL_YIELD_MS) {
          seenControlCalls = controlCalls;
          await yieldToEventLoop();
          lastYieldMs = performance.now();
          if (this.#closing) break;
        }
      }
      const doorbell = Atomics.load(this.#cells, FLUSHER_DOORBELL);
      const syncRequests = Atomics.load(this.#cells, SYNC_REQUESTS);
      const now = Date.now();
      // 'each': a writer rang, so someone waits for durability now; appends written while this
      // round's fsyncs run are picked up by the next round (group commit). { intervalMs }: a
      // writer rings once it wrote FLUSH_AHEAD_BYTES, for an early, shorter round.
      const due = doorbell !== roundDoorbell || syncRequests !== roundSyncRequests || now >= nextIntervalRoundMs;
      if (due) {
        roundDoorbell = doorbell;
        roundSyncRequests = syncRequests;
        this.#round();
        nextIntervalRoundMs = Date.now() + this.#intervalMs;
        continue;
      }
      // Group commit under 'each' is latency-bound: appends arrive right after the previous round
      // settled them, so a short spin saves a park/notify round trip per round.
      if (each) {
        if (this.#spinUntilRang(doorbell)) continue;
        blockOnDoorbell(this.#cells, FLUSHER_DOORBELL, FLUSHER_WAITING, doorbell, CONTROL_YIELD_MS);
        continue;
      }
      await parkOnDoorbell(
        this.#cells,
        FLUSHER_DOORBELL,
        FLUSHER_WAITING,
        doorbell,
        Math.max(1, nextIntervalRoundMs - now),
      );
    }
    this.#round();
    for (const fd of this.#fds.values()) this.#io.close(fd);
    this.#fds.clear();
  }

  #spinUntilRang(doorbell: number): boolean {
    const untilMs = performance.now() + EACH_SPIN_MS;
    do {
      for (let i = 0; i < 256; i++) if (Atomics.load(this.#cells, FLUSHER_DOORBELL) !== doorbell) return true;
    } while (performance.now() < untilMs);
    return false;
  }

  /** One group commit: fsync what the counters cover, then publish them. */
  #round(): void {
    if (this.#failed) return;
    try {
      for (let w = 0; w < this.#init.writers; w++) this.#syncWriter(w);
      this.#syncCursorLog();
      if (this.#closing) for (let w = 0; w < this.#init.writers; w++) this.#noteLastSegment(w);
      if (this.#summaryDrafts.size > 0) {
        // After the round's directory fsync: a segment created and sealed within one round is named durably first.
        publishSummaries(this.#io, this.#init.dir, this.#summaryDrafts, this.#durable);
        this.#summaryDrafts.clear();
      }
    } catch (err) {
      this.#failed = true;
      Atomics.store(this.#cells, FATAL_CODE, FATAL_FSYNC_FAILED);
      console.error(`walrus-ts: ${toWalError(err).message}`);
    }
    Atomics.add(this.#cells, FLUSHER_ROUNDS, 1);
    this.#rounds++;
    ring(this.#cells, MAIN_DOORBELL, MAIN_WAITING);
  }

  #syncWriter(w: number): void {
    const base = writerBase(w);
    // Counter first, segment number second: the writer stores them in the opposite order, so every
    // op counted here lives in a segment numbered at most `segmentNo`.
    const written = Atomics.load(this.#cells, base + W_WRITTEN_OPS);
    const segmentNo = Atomics.load(this.#cells, base + W_SEGMENT_NO);
    if (written === Atomics.load(this.#cells, base + W_DURABLE_OPS) && segmentNo === this.#syncedSegment[w]) return;
    if (segmentNo >= 0) {
      const first = Math.max(0, this.#syncedSegment[w]!);
      for (let s = first; s <= segmentNo; s++) {
        const file = this.#segmentPath(w, s);
        if (this.#reclaimedUnsynced.delete(file)) continue;
        if (this.#durable) this.#fdatasync(file);
        // The writer moved past it before publishing segmentNo (its summary drafted first): sealed
        // and now synced, it is never fsynced again, so its descriptor goes (one per segment ever
        // written reached EMFILE).
        if (s < segmentNo) {
          this.#closeSynced(file);
          this.#summaryDrafts.add(file);
        }
      }
      // New segment files: their directory entries must be durable too.
      if (this.#durable && segmentNo !== this.#syncedSegment[w]) this.#io.fsyncDir(this.#init.dir);
    }
    this.#syncedSegment[w] = segmentNo;
    Atomics.store(this.#cells, base + W_DURABLE_OPS, written);
  }

  /** At close every writer sealed its last segment (drafting its summary): publish it with the rest. */
  #noteLastSegment(w: number): void {
    const segmentNo = Atomics.load(this.#cells, writerBase(w) + W_SEGMENT_NO);
    if (segmentNo >= 0) this.#summaryDrafts.add(this.#segmentPath(w, segmentNo));
  }

  #segmentPath(w: number, segmentNo: number): string {
    return path.join(this.#init.dir, segmentFileName({ epoch: this.#init.epoch, writerIndex: w, segmentNo }));
  }

  #syncCursorLog(): void {
    const written = Atomics.load(this.#cells, CURSOR_WRITTEN);
    const generation = Atomics.load(this.#cells, CURSOR_LOG_GENERATION);
    if (written === Atomics.load(this.#cells, CURSOR_DURABLE) && generation === this.#syncedCursorGeneration) return;
    if (this.#durable) {
      const first = this.#syncedCursorGeneration < 0 ? generation : this.#syncedCursorGeneration;
      for (let g = first; g <= generation; g++) {
        const file = cursorLogPath(this.#init.dir, g);
        if (this.#io.kind(file) === 'file') this.#fdatasync(file);
        // An older generation is no longer written once the generation cell moved past it.
        if (g < generation) this.#closeSynced(file);
      }
      if (generation !== this.#syncedCursorGeneration) this.#io.fsyncDir(this.#init.dir);
    }
    this.#syncedCursorGeneration = generation;
    Atomics.store(this.#cells, CURSOR_DURABLE, written);
  }

  #fdatasync(file: string): void {
    let fd = this.#fds.get(file);
    if (fd === undefined) {
      fd = this.#io.open(file, 'read');
      this.#fds.set(file, fd);
    }
    const startedMs = performance.now();
    this.#io.fdatasync(fd);
    this.#fsyncLatency.recordMs(performance.now() - startedMs);
    this.#fsyncs++;
  }

  stats(): FlusherStats {
    return {
      rounds: this.#rounds,
      fsyncs: this.#fsyncs,
      fsyncLatency: this.#fsyncLatency.summary(),
      failed: this.#failed,
    };
  }

  #closeFd(file: string): void {
    const fd = this.#fds.get(file);
    if (fd === undefined) return;
    this.#fds.delete(file);
    this.#io.close(fd);
  }

  /** Closes a file whose fdatasync just succeeded: its data is on disk, so a failed close loses nothing. */
  #closeSynced(file: string): void {
    try {
      this.#closeFd(file);
    } catch {
      // the descriptor is gone either way, and the sync it served already succeeded
    }
  }

  writeFileAtomic(target: string, bytes: Uint8Array): void {
    writeFileAtomic(this.#io, target, bytes);
  }

  deleteFiles(paths: string[]): number {
    let deleted = 0;
    for (const file of paths) {
      this.#closeFd(file);
      this.#summaryDrafts.delete(file);
      try {
        this.#io.unlink(file);
        deleted++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      const id = parseSegmentFileName(path.basename(file));
      if (id !== null) removeSummaryFiles(this.#io, file);
      // A round fsyncs from the last segment it synced up: a file in that range is now skipped.
      if (id !== null && id.epoch === this.#init.epoch && id.segmentNo >= this.#syncedSegment[id.writerIndex]!) {
        this.#reclaimedUnsynced.add(file);
      }
    }
    if (deleted > 0 && this.#durable) this.#io.fsyncDir(this.#init.dir);
    return deleted;
  }

  async close(): Promise<void> {
    this.#closing = true;
    ring(this.#cells, FLUSHER_DOORBELL, FLUSHER_WAITING);
    await this.run();
  }
}
