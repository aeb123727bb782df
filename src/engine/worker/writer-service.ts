/**
 * The body of a writer worker: drains its ring, coalesces many operations into one positional
 * write through the storage core's Partition, and publishes progress in shared memory so the
 * main thread resolves many appends per wake-up, and where each write's entries lie in the run
 * log (run-log.ts), so the main thread reads them itself. It also serves the control plane
 * (stats, reclamation, run snapshots) between drains.
 *
 * Order of publication matters (see flusher-service.ts): the current segment number is stored
 * before the written-ops counter, so a flusher that reads the counter and then the segment number
 * always fsyncs every segment holding those ops.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { WalError, toWalError } from '../../errors.js';
import type { FileIo } from '../../storage/file-io.js';
import { FLAG_BATCH, FLAG_BATCH_END } from '../../storage/frame.js';
import { Partition } from '../../storage/partition.js';
import type { SegmentSummary } from '../../storage/recover.js';
import type { RunSnapshot, WriterControl, WriterEvent, WriterInit, WriterStats } from '../shared/control-protocol.js';
import {
  FATAL_CODE,
  FLUSHER_DOORBELL,
  MAIN_DOORBELL,
  MAIN_WAITING,
  FLUSHER_WAITING,
  W_ERROR_EPOCH,
  W_SEGMENT_NO,
  W_CONTROL_CALLS,
  W_STATE,
  W_WRITTEN_OPS,
  WRITER_STOPPED,
  WRITER_RUNNING,
  ring,
  writerBase,
} from '../shared/progress-cells.js';
import { ZERO_FILL_AHEAD_BYTES } from '../../storage/zero-fill-ahead.js';
import { RingConsumer } from '../shared/ring-buffer.js';
import { RunLogProducer } from '../shared/run-log.js';
import {
  OP_APPEND,
  OP_BATCH,
  OP_DEFINE_TOPIC,
  OP_LARGE,
  opCodec,
  opKind,
  type LargeOpMessage,
} from '../shared/ring-ops.js';

const IDLE_WAIT_MS = 1000;
/** Under 'each' the idle writer blocks at most this long before it yields to its event loop anyway. */
const CONTROL_YIELD_MS = 50;
const MAX_BURST_MS = 5;
const MAIN_RING_INTERVAL_MS = 0.25;
const LARGE_MESSAGE_WAIT_MS = 5;
const LARGE_MESSAGE_RETRIES = 2000;
/**
 * Under { intervalMs }, the flusher is asked for an early round once this much was written since
 * the last ask. An fdatasync stalls concurrent writes to its file (ext4 here: 10–35 ms stalls while
 * a 200 ms backlog of ~26 MB was flushed), so fsyncing in smaller rounds keeps each stall short.
 */
const FLUSH_AHEAD_BYTES = 8 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class WriterService implements WriterControl {
  readonly #init: WriterInit;
  readonly #partition: Partition;
  readonly #consumer: RingConsumer;
  readonly #runLog: RunLogProducer;
  readonly #cells: Int32Array;
  readonly #base: number;
  readonly #words: Uint32Array;
  readonly #dataPort: MessagePort;
  readonly #eventsPort: MessagePort;
  readonly #ringEachMode: boolean;
  readonly #flushAheadMode: boolean;
  #bytesSinceFlushAsk = 0;
  #opsDone = 0;
  #mainRingPending = false;
  #lastMainRingMs = 0;
  #bytesWritten = 0;
  #commits = 0;
  #closing = false;
  #seenControlCalls = 0;
  #lastYieldMs = 0;
  #stopped: Promise<void> | null = null;
  readonly #sleeper = new Int32Array(new SharedArrayBuffer(4));

  constructor(init: WriterInit, io: FileIo) {
    this.#init = init;
    this.#cells = new Int32Array(init.cells);
    this.#base = writerBase(init.writerIndex);
    this.#consumer = new RingConsumer(init.ring);
    const area = this.#consumer.bytes;
    this.#words = new Uint32Array(area.buffer, area.byteOffset, area.byteLength >>> 2);
    this.#dataPort = init.dataPort;
    this.#eventsPort = init.eventsPort;
    this.#ringEachMode = init.fsync === 'each';
    this.#runLog = new RunLogProducer(init.runLog);
    this.#flushAheadMode = typeof init.fsync === 'object';
    this.#partition = new Partition(
      {
        dir: init.dir,
        io,
        epoch: init.epoch,
        writerIndex: init.writerIndex,
        segmentBytes: init.segmentBytes,
        blockBytes: init.blockBytes,
        timeFloorMs: init.timeFloorMs,
        v1TimeMs: init.v1TimeMs,
        // The flusher publishes each draft once it fdatasynced the segment (FORMAT §15.3).
        summaryDrafts: init.fsync === 'none' ? 'unsynced' : 'synced',
        zeroFillAheadBytes: init.fsync === 'each' ? ZERO_FILL_AHEAD_BYTES : 0,
        onSegmentSealed: (summary) => this.#post({ type: 'sealed', summary }),
        // Published before #publish moves the written-ops counter: a resolved append is findable.
        onRunWritten: (topicId, segment, firstSeq, count, start, end, timeMs, points) =>
          this.#runLog.publishRun(topicId, segment.id.segmentNo, firstSeq, count, start, end, timeMs, points),
      },
      init.topics,
    );
    Atomics.store(this.#cells, this.#base + W_STATE, WRITER_RUNNING);
  }

  /** Runs until close(): drain, then sleep on the ring without blocking this worker's event loop. */
  run(): Promise<void> {
    this.#stopped ??= this.#loop();
    return this.#stopped;
  }

  async #loop(): Promise<void> {
    for (;;) {
      let burstStartMs = performance.now();
      while (this.#drainOnce()) {
        // Under sustained load the ring never empties: yield now and then so control calls
        // (reads, stats) are served during ingestion, not after it.
        if (performance.now() - burstStartMs >= MAX_BURST_MS) {
          this.#ringMain();
          await new Promise<void>((resolve) => setImmediate(resolve));
          burstStartMs = performance.now();
        }
      }
      this.#ringMain();
      if (this.#closing) break;
      if (!this.#ringEachMode) {
        // waitAsync (not Atomics.wait) so comlink control messages keep being served while idle.
        await this.#consumer.waitForData(IDLE_WAIT_MS);
        continue;
      }
      // 'each': every durable round starts with this wake-up, and a futex wake costs far less than
      // an event-loop task. Control calls are announced (W_CONTROL_CALLS, with a notify of the
      // ring): the loop yields when one was, and at least every CONTROL_YIELD_MS.
      const controlCalls = Atomics.load(this.#cells, this.#base + W_CONTROL_CALLS);
      if (controlCalls !== this.#seenControlCalls || performance.now() - this.#lastYieldMs >= CONTROL_YIELD_MS) {
        this.#seenControlCalls = controlCalls;
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.#lastYieldMs = performance.now();
        continue;
      }
      this.#consumer.blockForData(CONTROL_YIELD_MS);
    }
    // A clean close seals the live segment too; the flusher's last round publishes its summary.
    if (this.#closing) this.#partition.sealCurrent();
    this.#partition.close();
    Atomics.store(this.#cells, this.#base + W_STATE, WRITER_STOPPED);
    ring(this.#cells, MAIN_DOORBELL, MAIN_WAITING);
  }

  /** Processes ops until the ring is empty or a write is due; returns false when there was nothing. */
  #drainOnce(): boolean {
    const firstOp = (this.#opsDone + 1) | 0;
    let ops = 0;
    let failure: WalError | null = null;
    for (;;) {
      const at = this.#consumer.next();
      if (at < 0) break;
      ops++;
      try {
        this.#apply(at, this.#consumer.lastPayloadBytes, this.#consumer.lastTag);
      } catch (err) {
        // A decode/validation failure of one op must not poison the ops staged before it.
        failure = toWalError(err);
        this.#partition.discardStaged();
        break;
      }
      if (this.#partition.wantsCommit()) break;
    }
    if (ops === 0) return false;
    // Payload bytes were copied into the partition's staging buffer, so ring space can go back now.
    this.#consumer.release();
    if (failure === null && this.#partition.stagedBytes > 0) {
      try {
        const staged = this.#partition.stagedBytes;
        this.#partition.commit();
        this.#commits++;
        this.#bytesWritten += staged;
        this.#bytesSinceFlushAsk += staged;
      } catch (err) {
        failure = toWalError(err);
      }
    }
    if (failure !== null) this.#reportFailure(firstOp, ops, failure);
    this.#publish(ops);
    return true;
  }

  #apply(at: number, payloadBytes: number, tag: number): void {
    const bytes = this.#consumer.bytes;
    const words = this.#words;
    const topicId = words[at >>> 2]!;
    switch (opKind(tag)) {
      case OP_DEFINE_TOPIC:
        this.#partition.defineTopic(topicId, utf8.decode(bytes.subarray(at + 4, at + payloadBytes)));
        return;
      case OP_APPEND:
        this.#partition.stageEntry(topicId, bytes, at + 8, payloadBytes - 8, opCodec(tag), 0, words[(at >>> 2) + 1]!);
        return;
      case OP_BATCH: {
        const w = at >>> 2;
        const n = words[w + 1]!;
        let pos = at + 8 + 8 * n;
        for (let i = 0; i < n; i++) {
          const len = words[w + 2 + i]!;
          const flags = i === n - 1 ? FLAG_BATCH | FLAG_BATCH_END : FLAG_BATCH;
          this.#partition.stageEntry(topicId, bytes, pos, len, opCodec(tag), flags, words[w + 2 + n + i]!);
          pos += len;
        }
        return;
      }
      case OP_LARGE: {
        const msg = this.#receiveLarge();
        const n = msg.entries.length;
        for (let i = 0; i < n; i++) {
          const entry = msg.entries[i]!;
          const flags = !msg.batch ? 0 : i === n - 1 ? FLAG_BATCH | FLAG_BATCH_END : FLAG_BATCH;
          this.#partition.stageEntry(msg.topicId, entry, 0, entry.byteLength, msg.codec, flags);
        }
        return;
      }
      default:
        throw new WalError('ERR_WORKER_FAILED', `unknown ring operation ${tag}`);
    }
  }

  /**
   * The main thread posts a large payload before publishing its marker, and a port message is
   * queued at postMessage time, so it is normally here already; the bounded wait only covers
   * the hand-off between threads.
   */
  #receiveLarge(): LargeOpMessage {
    for (let attempt = 0; attempt < LARGE_MESSAGE_RETRIES; attempt++) {
      const received = receiveMessageOnPort(this.#dataPort);
      if (received) return received.message as LargeOpMessage;
      Atomics.wait(this.#sleeper, 0, 0, LARGE_MESSAGE_WAIT_MS);
    }
    throw new WalError('ERR_WORKER_FAILED', 'a large entry announced in the ring never arrived');
  }

  #reportFailure(firstOp: number, ops: number, error: WalError): void {
    // The epoch is bumped before the report is posted and before the ops counter moves, so the
    // main thread never resolves these ops as written: it sees the new epoch and waits for the report.
    Atomics.add(this.#cells, this.#base + W_ERROR_EPOCH, 1);
    this.#post({ type: 'failed', fromOp: firstOp, toOp: (firstOp + ops - 1) | 0, error: error.toWire() });
  }

  #publish(ops: number): void {
    const segment = this.#partition.currentSegment;
    if (segment) Atomics.store(this.#cells, this.#base + W_SEGMENT_NO, segment.id.segmentNo);
    this.#opsDone = (this.#opsDone + ops) | 0;
    Atomics.store(this.#cells, this.#base + W_WRITTEN_OPS, this.#opsDone);
    if (this.#ringEachMode) {
      ring(this.#cells, FLUSHER_DOORBELL, FLUSHER_WAITING);
      // Appends wait for durability, and the flusher rings the main thread after the round this
      // write starts: waking it now too is a wake-up per round that settles nothing (written-ops
      // waiters such as subscribers see the write one fsync later). After a failed fsync the
      // flusher publishes no rounds, so the main thread is rung here again.
      if (Atomics.load(this.#cells, FATAL_CODE) === 0) return;
    } else if (this.#flushAheadMode && this.#bytesSinceFlushAsk >= FLUSH_AHEAD_BYTES) {
      this.#bytesSinceFlushAsk = 0;
      ring(this.#cells, FLUSHER_DOORBELL, FLUSHER_WAITING);
    }
    // Waking a parked main thread costs ~12% of a busy writer when done per write; during a burst
    // the main thread is woken at most every MAIN_RING_INTERVAL_MS, and always when the burst ends.
    this.#mainRingPending = true;
    const nowMs = performance.now();
    if (nowMs - this.#lastMainRingMs >= MAIN_RING_INTERVAL_MS) this.#ringMain(nowMs);
  }

  #ringMain(nowMs = performance.now()): void {
    if (!this.#mainRingPending) return;
    this.#mainRingPending = false;
    this.#lastMainRingMs = nowMs;
    ring(this.#cells, MAIN_DOORBELL, MAIN_WAITING);
  }

  #post(event: WriterEvent): void {
    this.#eventsPort.postMessage(event);
  }

  runSnapshot(): RunSnapshot {
    // Control calls run between drains, so no write is half-published here.
    return { position: this.#runLog.beginSnapshot(), topics: this.#partition.runSnapshot() };
  }

  nextSeqs(topicIds: number[]): number[] {
    return topicIds.map((id) => (this.#partition.hasTopic(id) ? this.#partition.nextSeq(id) : 0));
  }

  sealedSegments(): SegmentSummary[] {
    return this.#partition.segmentSummaries();
  }

  forgetSegments(paths: string[]): void {
    this.#partition.forgetSegments(paths);
  }

  stats(): WriterStats {
    return {
      writerIndex: this.#init.writerIndex,
      writtenOps: this.#opsDone >>> 0,
      bytesWritten: this.#bytesWritten,
      commits: this.#commits,
      segment: this.#partition.currentSegment?.path ?? null,
      topics: this.#init.topics.length,
    };
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#consumer.wake();
    await this.run();
  }
}
