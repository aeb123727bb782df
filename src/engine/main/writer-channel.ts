/**
 * The main thread's side of one writer worker: it encodes operations into the writer's ring,
 * numbers them (op sequence, a wrapping uint32), and settles their promises in batches when the
 * writer (or the flusher) publishes progress. Data plane only; control calls use `control`.
 *
 * Backpressure: when the ring is full, operations wait in order in `#blocked` (holding the
 * caller's data by reference, as `fs.write` does) and are encoded as soon as the writer frees
 * space. Callers that await their appends therefore never hold more than the ring plus one
 * operation each in memory.
 *
 * `write()` (the promise-free append, docs/SEMANTICS.md rule D17) shares every step but the promise:
 * its ops are remembered as runs of consecutive op numbers (`#writeRuns`, one object per run, not
 * per entry), a failure covering one of them is handed to `onWriteFailed` once, and a write that
 * found the ring full makes the channel call `onDrain` once everything blocked is encoded.
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import { WalError, toWalError } from '../../errors.js';
import { ControlClient, type WriterControl, type WriterEvent } from '../shared/control-protocol.js';
import {
  FATAL_CODE,
  W_CONTROL_CALLS,
  W_DURABLE_OPS,
  W_ERROR_EPOCH,
  W_WRITTEN_OPS,
  reached,
  writerBase,
} from '../shared/progress-cells.js';
import type { LatencyStats } from '../shared/latency-stats.js';
import { RingProducer } from '../shared/ring-buffer.js';
import { RunLogConsumer } from '../shared/run-log.js';
import { FifoQueue } from './fifo-queue.js';
import { RingOpEncoder, type EntryData, type LargeOpMessage } from '../shared/ring-ops.js';

const SPACE_WAIT_MS = 50;
/** Append latency is sampled (1 in 16 ops) so timing costs nothing measurable on the hot path. */
const APPEND_LATENCY_SAMPLE_MASK = 15;
const LARGE_MARKER_ROOM_BYTES = 64;

interface PendingOp {
  op: number;
  /** performance.now() at submission for sampled ops (1 in APPEND_LATENCY_SAMPLE), else 0. */
  startedMs: number;
  resolve: () => void;
  reject: (err: WalError) => void;
}

/** `pending: null`: an op of `write()`, which has no promise (its failures go to onWriteFailed). */
type BlockedOp =
  | { kind: 'define'; topicId: number; name: Uint8Array }
  | { kind: 'append'; topicId: number; data: EntryData; bytes: number; codec: number; pending: Settle | null }
  | {
      kind: 'batch';
      topicId: number;
      entries: EntryData[];
      lengths: number[];
      bytes: number;
      codec: number;
      pending: Settle;
    }
  | { kind: 'large'; message: LargeOpMessage; pending: Settle | null };

type Settle = Pick<PendingOp, 'resolve' | 'reject'>;

/** Consecutive op numbers `fromOp..toOp` (wrapping) submitted by `write()`. */
interface WriteRun {
  fromOp: number;
  toOp: number;
}

interface FailedRange {
  fromOp: number;
  toOp: number;
  error: WalError;
}

export interface WriterChannelOptions {
  writerIndex: number;
  worker: Worker;
  ring: SharedArrayBuffer;
  /** Where the writer says where it wrote each topic's entries (run-log.ts). */
  runLog: SharedArrayBuffer;
  cells: Int32Array;
  controlPort: MessagePort;
  dataPort: MessagePort;
  eventsPort: MessagePort;
  /** Appends settle when durable ('each') instead of when written. */
  waitDurable: boolean;
  onSealed: (event: Extract<WriterEvent, { type: 'sealed' }>) => void;
  onProgressNeeded: () => void;
  /** An op of `write()` failed (or was lost with the WAL): called once per failure report. */
  onWriteFailed: (error: WalError) => void;
  /** A `write()` that found the ring full returned false, and everything blocked is now encoded. */
  onDrain: () => void;
  /** Submission → settlement of sampled appends ('written' or 'durable' per the fsync mode), shared by all writers. */
  appendLatency: LatencyStats;
}

export class WriterChannel {
  readonly writerIndex: number;
  readonly #appendLatency: LatencyStats;
  readonly control: ControlClient<WriterControl>;
  readonly runLog: RunLogConsumer;
  readonly worker: Worker;
  readonly #producer: RingProducer;
  readonly #encoder: RingOpEncoder;
  readonly #cells: Int32Array;
  readonly #base: number;
  readonly #dataPort: MessagePort;
  readonly #waitDurable: boolean;
  readonly #onProgressNeeded: () => void;
  readonly #onWriteFailed: (error: WalError) => void;
  readonly #onDrain: () => void;
  readonly #writeRuns = new FifoQueue<WriteRun>();
  /** The last run pushed to #writeRuns (extended in place while writes follow each other). */
  #lastWriteRun: WriteRun | null = null;
  /** A write() returned false: 'drain' is owed once #blocked empties. */
  #needDrain = false;
  readonly #largeThresholdBytes: number;
  readonly #pending = new FifoQueue<PendingOp>();
  readonly #blocked = new FifoQueue<BlockedOp>();
  #unblocking = false;
  /** flushBlocked() callers, resolved when #unblock stops (everything encoded, or it gave up). */
  readonly #drainWaiters: Array<() => void> = [];
  #failed: FailedRange[] = [];
  #handledErrorEpoch = 0;
  #lastOp = 0;
  #failure: WalError | null = null;
  #publishScheduled = false;

  constructor(options: WriterChannelOptions) {
    this.writerIndex = options.writerIndex;
    this.worker = options.worker;
    this.#producer = new RingProducer(options.ring);
    this.runLog = new RunLogConsumer(options.runLog);
    this.#encoder = new RingOpEncoder(this.#producer);
    this.#cells = options.cells;
    this.#base = writerBase(options.writerIndex);
    this.#dataPort = options.dataPort;
    this.#waitDurable = options.waitDurable;
    this.#onProgressNeeded = options.onProgressNeeded;
    this.#onWriteFailed = options.onWriteFailed;
    this.#onDrain = options.onDrain;
    this.#appendLatency = options.appendLatency;
    // Big operations go by port so one entry never monopolizes the ring.
    this.#largeThresholdBytes = Math.floor(this.#producer.maxRecordPayloadBytes / 2);
    // A writer under 'each' may be blocked in Atomics.wait: announce each call and wake it.
    this.control = new ControlClient<WriterControl>(options.controlPort, () => {
      Atomics.add(this.#cells, this.#base + W_CONTROL_CALLS, 1);
      this.#producer.wakeConsumer();
    });
    options.eventsPort.on('message', (event: WriterEvent) => {
      if (event.type === 'failed') {
        const error = WalError.fromWire(event.error);
        this.#failed.push({ fromOp: event.fromOp, toOp: event.toOp, error });
        this.#handledErrorEpoch = (this.#handledErrorEpoch + 1) | 0;
        if (this.#takeWritesIn(event.fromOp, event.toOp)) this.#onWriteFailed(error);
        this.poll();
        // No append waits: no later one can fall in a reported range (op numbers only grow).
        if (this.#pending.isEmpty) this.#failed = [];
      } else {
        options.onSealed(event);
      }
    });
  }

  /** Promises to settle, ops to encode, or write() ops whose outcome is not known yet. */
  get hasPending(): boolean {
    return !this.#pending.isEmpty || !this.#blocked.isEmpty || !this.#writeRuns.isEmpty;
  }

  /** Op number of the last operation handed to the ring (what sync() must see written/durable). */
  get lastOp(): number {
    return this.#lastOp;
  }

  get ringUsedBytes(): number {
    return this.#producer.usedBytes;
  }

  defineTopic(topicId: number, name: Uint8Array): void {
    if (this.#blocked.isEmpty && this.#encoder.tryDefineTopic(topicId, name)) {
      this.#commitOp();
      return;
    }
    this.#block({ kind: 'define', topicId, name });
  }

  /** `bytes` is the UTF-8 / byte length of `data`, already computed by the caller's size check. */
  append(topicId: number, data: EntryData, bytes: number, codec: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (bytes > this.#largeThresholdBytes) {
      return new Promise<void>(
        (resolve, reject) => void this.#sendLarge(topicId, [data], codec, false, { resolve, reject }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      if (this.#blocked.isEmpty && this.#encoder.tryAppend(topicId, data, bytes, codec)) {
        this.#track(this.#commitOp(), resolve, reject);
      } else {
        this.#block({ kind: 'append', topicId, data, bytes, codec, pending: { resolve, reject } });
      }
    });
  }

  /**
   * `append` without a promise: queued exactly like one (same ring, same order), and true when it
   * went straight into the ring; false when the ring is full (it waits in #blocked, and onDrain is
   * called once nothing is blocked any more). Throws the WAL's failure.
   */
  write(topicId: number, data: EntryData, bytes: number, codec: number): boolean {
    if (this.#failure) throw this.#failure;
    if (bytes > this.#largeThresholdBytes) return this.#sendLarge(topicId, [data], codec, false, null);
    if (this.#blocked.isEmpty && this.#encoder.tryAppend(topicId, data, bytes, codec)) {
      this.#noteWrite(this.#commitOp());
      return true;
    }
    this.#block({ kind: 'append', topicId, data, bytes, codec, pending: null });
    return false;
  }

  /** Remembers a write() op; runs of consecutive ops share one record. */
  #noteWrite(op: number): void {
    const last = this.#lastWriteRun;
    if (last !== null && last.toOp === ((op - 1) | 0)) {
      last.toOp = op;
      return;
    }
    this.#dropSettledRuns();
    const run = { fromOp: op, toOp: op };
    this.#writeRuns.push(run);
    this.#lastWriteRun = run;
    // The watcher drops settled runs, and sees a failed fsync that leaves them written but not durable.
    this.#onProgressNeeded();
  }

  /**
   * Forgets runs that are settled (written; durable under 'each') with no failure report
   * outstanding. The counter is read before the error epoch: the writer bumps the epoch before it
   * moves the counter, so an epoch equal to the handled one then means every report for those ops
   * has arrived.
   */
  #dropSettledRuns(): void {
    const mark = Atomics.load(this.#cells, this.#base + (this.#waitDurable ? W_DURABLE_OPS : W_WRITTEN_OPS));
    if (Atomics.load(this.#cells, this.#base + W_ERROR_EPOCH) !== this.#handledErrorEpoch) return;
    for (let r = this.#writeRuns.peek(); r !== undefined && reached(mark, r.toOp); r = this.#writeRuns.peek()) {
      this.#writeRuns.dropHead();
      if (r === this.#lastWriteRun) this.#lastWriteRun = null;
    }
  }

  /** True when a write() op lies in fromOp..toOp; runs ending before toOp are forgotten (reports come in order). */
  #takeWritesIn(fromOp: number, toOp: number): boolean {
    let hit = false;
    for (let r = this.#writeRuns.peek(); r !== undefined; r = this.#writeRuns.peek()) {
      if (!reached(toOp, r.fromOp)) break; // this run (and every later one) starts after the range
      if (reached(r.toOp, fromOp)) hit = true;
      if (!reached(toOp, r.toOp)) break; // the run goes on past the range: keep it
      this.#writeRuns.dropHead();
      if (r === this.#lastWriteRun) this.#lastWriteRun = null;
    }
    return hit;
  }

  /** Every op submitted before the call to `lastOp` is settled and its failure report (if any) arrived. */
  settledThrough(target: number): boolean {
    const mark = Atomics.load(this.#cells, this.#base + (this.#waitDurable ? W_DURABLE_OPS : W_WRITTEN_OPS));
    return reached(mark, target) && Atomics.load(this.#cells, this.#base + W_ERROR_EPOCH) === this.#handledErrorEpoch;
  }

  /** write() ops settle nowhere but here: forget the settled runs; a failed fsync fails the rest. */
  #pollWrites(): void {
    this.#dropSettledRuns();
    if (this.#writeRuns.isEmpty || !this.#waitDurable || Atomics.load(this.#cells, FATAL_CODE) === 0) return;
    this.#writeRuns.takeAll();
    this.#lastWriteRun = null;
    this.#onWriteFailed(
      new WalError('ERR_FSYNC_FAILED', 'an fsync failed: written entries are not durable; reopen the WAL to recover'),
    );
  }

  /** `lengths` are the byte lengths of `entries` and `bytes` their sum, from the caller's size checks. */
  batch(topicId: number, entries: EntryData[], lengths: number[], bytes: number, codec: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (RingOpEncoder.batchRecordBytes(entries.length, bytes) > this.#largeThresholdBytes) {
      return new Promise<void>(
        (resolve, reject) => void this.#sendLarge(topicId, entries, codec, true, { resolve, reject }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      if (this.#blocked.isEmpty && this.#encoder.tryBatch(topicId, entries, lengths, bytes, codec)) {
        this.#track(this.#commitOp(), resolve, reject);
      } else {
        this.#block({ kind: 'batch', topicId, entries, lengths, bytes, codec, pending: { resolve, reject } });
      }
    });
  }

  /**
   * Large operations travel over the data port (copied once, then transferred), with a small
   * marker in the ring that keeps their place in the topic's order.
   */
  #sendLarge(topicId: number, entries: EntryData[], codec: number, batch: boolean, pending: Settle | null): boolean {
    const copies = entries.map((e) =>
      typeof e === 'string' ? new Uint8Array(Buffer.from(e, 'utf8')) : new Uint8Array(e),
    );
    const message: LargeOpMessage = { topicId, codec, batch, entries: copies };
    if (this.#blocked.isEmpty && this.#tryLarge(message)) {
      this.#settleOn(this.#commitOp(), pending);
      return true;
    }
    this.#block({ kind: 'large', message, pending });
    return false;
  }

  /** An op just committed: its promise waits on the counters, or it is a write() op. */
  #settleOn(op: number, pending: Settle | null): void {
    if (pending === null) this.#noteWrite(op);
    else this.#track(op, pending.resolve, pending.reject);
  }

  #tryLarge(message: LargeOpMessage): boolean {
    // Room for a wrap marker plus the marker record, checked before posting: once the message is
    // posted, its marker must be the very next record.
    if (this.#producer.freeBytes < LARGE_MARKER_ROOM_BYTES) return false;
    this.#dataPort.postMessage(
      message,
      message.entries.map((c) => c.buffer as ArrayBuffer),
    );
    if (!this.#encoder.tryLargeMarker(message.topicId))
      throw new WalError('ERR_WORKER_FAILED', 'no ring room for a large-entry marker');
    return true;
  }

  #commitOp(): number {
    // One publish per burst: appends made in the same synchronous run share one TAIL store and
    // at most one wake-up of the writer (a publish per append cost ~9% of the main thread).
    if (!this.#publishScheduled) {
      this.#publishScheduled = true;
      queueMicrotask(this.#publish);
    }
    this.#lastOp = (this.#lastOp + 1) | 0;
    return this.#lastOp;
  }

  readonly #publish = (): void => {
    this.#publishScheduled = false;
    this.#producer.publish();
  };

  #track(op: number, resolve: () => void, reject: (err: WalError) => void): void {
    this.#pending.push({
      op,
      startedMs: (op & APPEND_LATENCY_SAMPLE_MASK) === 0 ? performance.now() : 0,
      resolve,
      reject,
    });
    this.#onProgressNeeded();
  }

  #block(op: BlockedOp): void {
    // A refused write() owes 'drain' before #unblock starts: #unblock may find space and encode
    // everything synchronously, and the 'drain' it then owes is decided when it ends.
    if (op.kind !== 'define' && op.pending === null) this.#needDrain = true;
    this.#blocked.push(op);
    if (!this.#unblocking) void this.#unblock();
  }

  async #unblock(): Promise<void> {
    this.#unblocking = true;
    try {
      while (!this.#blocked.isEmpty) {
        if (this.#failure) {
          this.#rejectBlocked(this.#failure);
          return;
        }
        const op = this.#blocked.peek()!;
        let encoded: boolean;
        try {
          encoded = this.#tryEncodeBlocked(op);
        } catch (err) {
          // An entry resized while it waited (ring-ops checkStillHolds): nothing was reserved, so
          // that operation alone fails and the ones behind it go on.
          if (op.kind !== 'append' && op.kind !== 'batch') throw err;
          this.#blocked.dropHead();
          if (op.pending === null) this.#onWriteFailed(toWalError(err));
          else op.pending.reject(toWalError(err));
          continue;
        }
        if (encoded) {
          this.#blocked.dropHead();
          const op_ = this.#commitOp();
          if (op.kind !== 'define') this.#settleOn(op_, op.pending);
          continue;
        }
        await this.#producer.waitForSpace(this.#recordBytesOf(op), SPACE_WAIT_MS);
      }
    } finally {
      this.#unblocking = false;
      for (const resolve of this.#drainWaiters.splice(0)) resolve();
    }
    if (this.#needDrain && this.#blocked.isEmpty && !this.#failure) {
      this.#needDrain = false;
      this.#onDrain();
    }
  }

  #recordBytesOf(op: BlockedOp): number {
    switch (op.kind) {
      case 'define':
        return 4 + op.name.byteLength;
      case 'append':
        return RingOpEncoder.appendRecordBytes(op.bytes);
      case 'batch':
        return RingOpEncoder.batchRecordBytes(op.entries.length, op.bytes);
      case 'large':
        return LARGE_MARKER_ROOM_BYTES;
    }
  }

  #tryEncodeBlocked(op: BlockedOp): boolean {
    switch (op.kind) {
      case 'define':
        return this.#encoder.tryDefineTopic(op.topicId, op.name);
      case 'append':
        return this.#encoder.tryAppend(op.topicId, op.data, op.bytes, op.codec);
      case 'batch':
        return this.#encoder.tryBatch(op.topicId, op.entries, op.lengths, op.bytes, op.codec);
      case 'large':
        return this.#tryLarge(op.message);
    }
  }

  /** Settles every operation the published counters cover. Cheap when nothing moved. */
  poll(): void {
    if (!this.#writeRuns.isEmpty) this.#pollWrites();
    if (this.#pending.isEmpty) return;
    // A bumped error epoch means a failure report is in flight on the events port: settle nothing
    // until it arrives, or a failed op could be resolved as written.
    if (Atomics.load(this.#cells, this.#base + W_ERROR_EPOCH) !== this.#handledErrorEpoch) return;
    const fatal = this.#waitDurable && Atomics.load(this.#cells, FATAL_CODE) !== 0;
    const mark = Atomics.load(this.#cells, this.#base + (this.#waitDurable ? W_DURABLE_OPS : W_WRITTEN_OPS));
    const written = Atomics.load(this.#cells, this.#base + W_WRITTEN_OPS);
    for (let p = this.#pending.peek(); p !== undefined; p = this.#pending.peek()) {
      const error = this.#failureOf(p.op);
      if (error) {
        if (!reached(written, p.op)) break;
        p.reject(error);
      } else if (reached(mark, p.op)) {
        if (p.startedMs !== 0) this.#appendLatency.recordMs(performance.now() - p.startedMs);
        p.resolve();
      } else if (fatal && reached(written, p.op)) {
        p.reject(
          new WalError(
            'ERR_FSYNC_FAILED',
            'an fsync failed: this append is written but not durable; reopen the WAL to recover',
          ),
        );
      } else {
        break;
      }
      this.#pending.dropHead();
    }
  }

  #failureOf(op: number): WalError | null {
    while (this.#failed.length > 0 && !reached(this.#failed[0]!.toOp, op)) this.#failed.shift();
    const range = this.#failed[0];
    return range && reached(op, range.fromOp) ? range.error : null;
  }

  /** Rejects everything pending and everything after: the worker is gone or the WAL failed. */
  fail(error: WalError): void {
    // Settle first what the counters already cover: an append the writer wrote (and published)
    // before dying succeeded, and rejecting it would invite a duplicate on retry.
    if (!this.#failure) this.poll();
    const first = !this.#failure;
    if (first) this.#failure = error;
    // Written entries not yet processed are lost with the writer: say so once.
    if (first) this.#dropSettledRuns();
    const lostInRing = first && !this.#writeRuns.isEmpty;
    this.#writeRuns.takeAll();
    this.#lastWriteRun = null;
    for (const p of this.#pending.takeAll()) p.reject(error);
    const lostBlocked = this.#rejectBlocked(error);
    if (first && (lostInRing || lostBlocked)) this.#onWriteFailed(error);
    this.control.markDead(error);
  }

  /** Rejects every blocked op; true when write() ops were among them (the caller reports those). */
  #rejectBlocked(error: WalError): boolean {
    let writes = false;
    for (const op of this.#blocked.takeAll()) {
      if (op.kind === 'define') continue;
      if (op.pending === null) writes = true;
      else op.pending.reject(error);
    }
    return writes;
  }

  /** Resolves once every operation submitted so far is in the ring. */
  async flushBlocked(): Promise<void> {
    // Waits for #unblock itself. Waiting for ring space instead resolved at once whenever a little
    // was free, so this loop spun in microtasks and starved the very wake-up #unblock needed:
    // sync()/close() under backpressure hung at 100% CPU.
    while (!this.#blocked.isEmpty && this.#unblocking)
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }

  writtenOps(): number {
    return Atomics.load(this.#cells, this.#base + W_WRITTEN_OPS);
  }

  durableOps(): number {
    return Atomics.load(this.#cells, this.#base + W_DURABLE_OPS);
  }
}
