/**
 * Single-producer single-consumer byte ring over one SharedArrayBuffer (docs/ARCHITECTURE.md):
 * the main thread copies append payloads in, a writer worker reads them out, with no postMessage
 * per record.
 *
 * Memory ordering: record headers and payloads are plain writes. They become visible through a
 * seq-cst `Atomics.store` of TAIL (release) that the consumer reads with `Atomics.load` (acquire);
 * the consumer hands bytes back the same way through HEAD. Each side batches its store: one per
 * `publish()` / `release()`, not one per record.
 *
 * Sleeping: a side that finds nothing to do sets its flag, re-reads the other side's position and
 * only then parks on that position with `Atomics.waitAsync` (the main thread never blocks). A
 * writer under fsync 'each' blocks instead (`blockForData`, `Atomics.wait`: a futex wake, cheaper
 * than an event-loop task per durable round) and yields to its event loop between waits. The other side stores its
 * position first and reads the flag second. Both are seq-cst, so at least one of them sees the
 * other's write: either the sleeper notices the new position, or the mover sees the flag and
 * notifies. Only the sleeper clears its flag, so a flag can never be wiped while someone relies on
 * it; the cost is an occasional redundant notify while a woken sleeper has not run yet.
 *
 * Layout and constants: ring-layout.ts.
 */
import {
  CLOSED_CELL,
  CONSUMER_SLEEPING_CELL,
  FLAG_CLEAR,
  FLAG_SET,
  HEAD_CELL,
  MAX_RING_CAPACITY_BYTES,
  MIN_RING_CAPACITY_BYTES,
  PRODUCER_WAITING_CELL,
  RECORD_ALIGN_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_LENGTH_WORD,
  RECORD_TAG_WORD,
  RING_HEADER_BYTES,
  RING_HEADER_CELLS,
  TAIL_CELL,
  WRAP_MARKER,
} from './ring-layout.js';
import { waitForChange } from './wait.js';

export interface RingBufferOptions {
  /** Size of the data area: a power of two from 4 KiB to 1 GiB. */
  capacityBytes: number;
  /**
   * Starting value of HEAD and TAIL (a multiple of 8 below 2^32). Only tests need it, to drive
   * the position counters across their wrap at 2^32.
   */
  initialPosition?: number;
}

export function createRingBuffer(options: RingBufferOptions): SharedArrayBuffer {
  const { capacityBytes, initialPosition = 0 } = options;
  checkCapacity(capacityBytes);
  if (initialPosition >>> 0 !== initialPosition || initialPosition % RECORD_ALIGN_BYTES !== 0) {
    throw new RangeError(
      `ring initialPosition must be a multiple of ${RECORD_ALIGN_BYTES} below 2^32, got ${initialPosition}`,
    );
  }
  const buffer = new SharedArrayBuffer(RING_HEADER_BYTES + capacityBytes);
  const cells = new Int32Array(buffer, 0, RING_HEADER_CELLS);
  // Nobody else can see the buffer yet: plain writes are enough.
  cells[HEAD_CELL] = initialPosition;
  cells[TAIL_CELL] = initialPosition;
  return buffer;
}

/** Largest payload one record can carry in a ring of `capacityBytes`. */
export function maxRecordPayloadBytes(capacityBytes: number): number {
  // With at most half the ring per record, a record plus the wrap skip in front of it always fits
  // in an empty ring, so waiting for space can always succeed.
  return capacityBytes / 2 - RECORD_HEADER_BYTES;
}

/** TAIL loads before the consumer parks: about 8 µs on the machine it was measured on. */
const PARK_SPIN_LOADS = 256;
const PARK_SPIN_MS = 0.05;

function checkCapacity(capacityBytes: number): void {
  const isPowerOfTwo =
    Number.isInteger(capacityBytes) && capacityBytes > 0 && (capacityBytes & (capacityBytes - 1)) === 0;
  if (!isPowerOfTwo || capacityBytes < MIN_RING_CAPACITY_BYTES || capacityBytes > MAX_RING_CAPACITY_BYTES) {
    throw new RangeError(
      `ring capacity must be a power of two from ${MIN_RING_CAPACITY_BYTES} to ${MAX_RING_CAPACITY_BYTES} bytes, got ${capacityBytes}`,
    );
  }
}

function capacityOf(buffer: SharedArrayBuffer): number {
  const capacityBytes = buffer.byteLength - RING_HEADER_BYTES;
  checkCapacity(capacityBytes);
  return capacityBytes;
}

function recordBytesFor(payloadBytes: number): number {
  return RECORD_HEADER_BYTES + ((payloadBytes + RECORD_ALIGN_BYTES - 1) & -RECORD_ALIGN_BYTES);
}

function closeRing(cells: Int32Array): void {
  Atomics.store(cells, CLOSED_CELL, FLAG_SET);
  // Store before notify: a waiter that checked CLOSED before this store was already queued when it
  // checked (see parkOn), so this notify reaches it.
  Atomics.notify(cells, TAIL_CELL);
  Atomics.notify(cells, HEAD_CELL);
}

/**
 * Parks on `cells[index]` while it still holds `expected`, for at most `timeoutMs`. CLOSED is not
 * part of waitAsync's compare, so it is read after the waiter is queued: a close() after that read
 * finds the waiter and notifies it; a close() before it is seen here and we wake ourselves.
 */
async function parkOn(cells: Int32Array, index: number, expected: number, timeoutMs: number): Promise<void> {
  const woken = waitForChange(cells, index, expected, timeoutMs);
  if (Atomics.load(cells, CLOSED_CELL) !== FLAG_CLEAR) Atomics.notify(cells, index);
  await woken;
}

/** The main-thread side: reserves records, writes payloads into `bytes`, publishes them. */
export class RingProducer {
  /** The data area; payloads are written at the offsets `reserve` returns. */
  readonly bytes: Uint8Array;
  readonly capacityBytes: number;
  readonly maxRecordPayloadBytes: number;
  readonly #cells: Int32Array;
  readonly #words: Uint32Array;
  readonly #indexMask: number;
  /** Position after the last reserved record. */
  #tail: number;
  #publishedTail: number;
  /** Last HEAD seen; it only lags, so free space computed from it is a safe underestimate. */
  #head: number;
  #waiters = 0;

  constructor(buffer: SharedArrayBuffer) {
    this.capacityBytes = capacityOf(buffer);
    this.maxRecordPayloadBytes = maxRecordPayloadBytes(this.capacityBytes);
    this.bytes = new Uint8Array(buffer, RING_HEADER_BYTES, this.capacityBytes);
    this.#words = new Uint32Array(buffer, RING_HEADER_BYTES, this.capacityBytes / 4);
    this.#cells = new Int32Array(buffer, 0, RING_HEADER_CELLS);
    this.#indexMask = this.capacityBytes - 1;
    // Only this side writes TAIL, so reading it once at start is enough; HEAD is re-read whenever
    // the cached value says a record does not fit.
    this.#tail = Atomics.load(this.#cells, TAIL_CELL) >>> 0;
    this.#publishedTail = this.#tail;
    this.#head = Atomics.load(this.#cells, HEAD_CELL) >>> 0;
  }

  /**
   * Reserves a record of `payloadBytes` carrying `tag` (stored as a uint32) and returns the offset
   * in `bytes` where its payload must be written, or -1 when it does not fit now. The record stays
   * invisible to the consumer until `publish()`.
   */
  reserve(payloadBytes: number, tag: number): number {
    const recordBytes = this.#checkedRecordBytes(payloadBytes);
    const index = this.#tail & this.#indexMask;
    const neededBytes = this.#neededBytes(recordBytes);
    if (neededBytes > this.#freeBytesSeen()) {
      // Acquire: bytes below the HEAD we load are ones the consumer finished reading (it stored
      // HEAD after its reads), so overwriting them below is safe.
      this.#head = Atomics.load(this.#cells, HEAD_CELL) >>> 0;
      if (neededBytes > this.#freeBytesSeen()) return -1;
    }
    let word = index >>> 2;
    if (neededBytes !== recordBytes) {
      this.#words[word] = WRAP_MARKER;
      word = 0;
    }
    this.#words[word + RECORD_LENGTH_WORD] = payloadBytes;
    this.#words[word + RECORD_TAG_WORD] = tag;
    this.#tail = (this.#tail + neededBytes) >>> 0;
    return (word << 2) + RECORD_HEADER_BYTES;
  }

  /** Makes every record reserved since the last publish visible, waking the consumer if it sleeps. */
  /** Wakes a consumer blocked in `blockForData` without publishing (it has messages to serve). */
  wakeConsumer(): void {
    if (Atomics.load(this.#cells, CONSUMER_SLEEPING_CELL) !== FLAG_CLEAR) Atomics.notify(this.#cells, TAIL_CELL);
  }

  publish(): void {
    if (this.#tail === this.#publishedTail) return;
    this.#publishedTail = this.#tail;
    // Release: one seq-cst store orders every header and payload written above before it.
    Atomics.store(this.#cells, TAIL_CELL, this.#tail);
    // Store TAIL, then read the flag (the consumer does the reverse): see the module comment.
    if (Atomics.load(this.#cells, CONSUMER_SLEEPING_CELL) !== FLAG_CLEAR) Atomics.notify(this.#cells, TAIL_CELL);
  }

  /**
   * Resolves true once a record of `payloadBytes` fits (call `reserve` again: other code may have
   * taken the space meanwhile), false after `timeoutMs` or when the ring is closed. Publishes
   * pending records first, since a ring full of unpublished records would never drain: their
   * payloads must already be written.
   */
  async waitForSpace(payloadBytes: number, timeoutMs: number): Promise<boolean> {
    const recordBytes = this.#checkedRecordBytes(payloadBytes);
    this.publish();
    const deadlineMs = performance.now() + timeoutMs;
    this.#waiters++;
    try {
      for (;;) {
        // Flag first, then re-read HEAD: a release() racing with us either shows up in this load
        // or sees the flag and notifies.
        Atomics.store(this.#cells, PRODUCER_WAITING_CELL, FLAG_SET);
        const head = Atomics.load(this.#cells, HEAD_CELL);
        this.#head = head >>> 0;
        if (this.closed) return false;
        if (this.#neededBytes(recordBytes) <= this.#freeBytesSeen()) return true;
        const remainingMs = deadlineMs - performance.now();
        if (remainingMs <= 0) return false;
        await parkOn(this.#cells, HEAD_CELL, head, remainingMs);
      }
    } finally {
      // Only the last waiter clears: another one may still be parked relying on the flag.
      if (--this.#waiters === 0) Atomics.store(this.#cells, PRODUCER_WAITING_CELL, FLAG_CLEAR);
    }
  }

  /** Bytes held by reserved, published and not yet released records (and wrap skips). */
  get usedBytes(): number {
    // A fresh HEAD: callers use this for flow-control decisions, a stale value would overstate use.
    this.#head = Atomics.load(this.#cells, HEAD_CELL) >>> 0;
    return (this.#tail - this.#head) >>> 0;
  }

  /** Free bytes in the data area; a record may still not fit when they lie across the wrap. */
  get freeBytes(): number {
    return this.capacityBytes - this.usedBytes;
  }

  get closed(): boolean {
    // Atomic load: the other thread may set it at any moment, and a plain read could be hoisted.
    return Atomics.load(this.#cells, CLOSED_CELL) !== FLAG_CLEAR;
  }

  /** Marks the ring closed and wakes both sides; the consumer can still drain published records. */
  close(): void {
    closeRing(this.#cells);
  }

  #checkedRecordBytes(payloadBytes: number): number {
    if (payloadBytes >>> 0 !== payloadBytes || payloadBytes > this.maxRecordPayloadBytes) {
      throw new RangeError(
        `ring record payload must be an integer from 0 to ${this.maxRecordPayloadBytes} bytes, got ${payloadBytes}`,
      );
    }
    return recordBytesFor(payloadBytes);
  }

  /** Free bytes as of the last HEAD this side loaded. */
  #freeBytesSeen(): number {
    return this.capacityBytes - ((this.#tail - this.#head) >>> 0);
  }

  #neededBytes(recordBytes: number): number {
    const bytesToEnd = this.capacityBytes - (this.#tail & this.#indexMask);
    return recordBytes > bytesToEnd ? bytesToEnd + recordBytes : recordBytes;
  }
}

/** The worker side: reads published records in order and hands their bytes back with `release`. */
export class RingConsumer {
  /** The data area; payloads are read at the offsets `next` returns. */
  readonly bytes: Uint8Array;
  readonly capacityBytes: number;
  readonly maxRecordPayloadBytes: number;
  /** Payload length of the record `next` returned last. */
  lastPayloadBytes = 0;
  /** Tag of the record `next` returned last. */
  lastTag = 0;
  readonly #cells: Int32Array;
  readonly #words: Uint32Array;
  readonly #indexMask: number;
  /** Position after the last record returned by `next`. */
  #head: number;
  #releasedHead: number;
  /** Last TAIL seen; it only lags, so records below it are certainly published. */
  #tail: number;
  #sleepers = 0;
  #wakeRequested = false;

  constructor(buffer: SharedArrayBuffer) {
    this.capacityBytes = capacityOf(buffer);
    this.maxRecordPayloadBytes = maxRecordPayloadBytes(this.capacityBytes);
    this.bytes = new Uint8Array(buffer, RING_HEADER_BYTES, this.capacityBytes);
    this.#words = new Uint32Array(buffer, RING_HEADER_BYTES, this.capacityBytes / 4);
    this.#cells = new Int32Array(buffer, 0, RING_HEADER_CELLS);
    this.#indexMask = this.capacityBytes - 1;
    // Only this side writes HEAD, so reading it once at start is enough; TAIL is re-read whenever
    // the cached value says the ring is empty.
    this.#head = Atomics.load(this.#cells, HEAD_CELL) >>> 0;
    this.#releasedHead = this.#head;
    this.#tail = Atomics.load(this.#cells, TAIL_CELL) >>> 0;
  }

  /**
   * Returns the offset in `bytes` of the next published record's payload (its length and tag are
   * then in `lastPayloadBytes` / `lastTag`), or -1 when nothing is published. Its bytes stay valid
   * until `release()`.
   */
  next(): number {
    for (;;) {
      if (this.#head === this.#tail) {
        // Acquire: the producer stored TAIL after writing every record below it, so the plain
        // reads of those records that follow see their final bytes.
        this.#tail = Atomics.load(this.#cells, TAIL_CELL) >>> 0;
        if (this.#head === this.#tail) return -1;
      }
      const index = this.#head & this.#indexMask;
      const word = index >>> 2;
      const payloadBytes = this.#words[word + RECORD_LENGTH_WORD];
      if (payloadBytes === WRAP_MARKER) {
        this.#head = (this.#head + this.capacityBytes - index) >>> 0;
        continue;
      }
      if (payloadBytes > this.maxRecordPayloadBytes) {
        throw new Error(
          `ring record at position ${this.#head} claims ${payloadBytes} bytes: producer and consumer disagree on the layout`,
        );
      }
      this.lastPayloadBytes = payloadBytes;
      this.lastTag = this.#words[word + RECORD_TAG_WORD];
      this.#head = (this.#head + recordBytesFor(payloadBytes)) >>> 0;
      return index + RECORD_HEADER_BYTES;
    }
  }

  /** Hands the bytes of every record returned by `next` so far back to the producer. */
  release(): void {
    if (this.#head === this.#releasedHead) return;
    this.#releasedHead = this.#head;
    // Release: one seq-cst store orders all our reads of those records before the producer can
    // observe the new HEAD and overwrite them.
    Atomics.store(this.#cells, HEAD_CELL, this.#head);
    // Store HEAD, then read the flag (the producer does the reverse): see the module comment.
    if (Atomics.load(this.#cells, PRODUCER_WAITING_CELL) !== FLAG_CLEAR) Atomics.notify(this.#cells, HEAD_CELL);
  }

  /**
   * Resolves true once a record is published and unread, false after `timeoutMs`, after `wake()`,
   * or when the ring is closed with nothing left to read. Records read but not released stay held
   * while it waits.
   */
  async waitForData(timeoutMs: number): Promise<boolean> {
    // A short poll first: when the producer is mid-burst, data usually lands within microseconds,
    // far sooner than a park / notify / event-loop round trip. Measured with 100-byte records
    // through a 64 KiB ring on 2 vCPUs: median ~9M records/s without the poll, ~13M with it.
    // Time-bounded rather than count-bounded: a parked consumer costs the producer an
    // Atomics.notify per publish (~9% of the main thread at 100 B entries), so staying awake for
    // a few tens of µs between bursts pays for itself.
    const spinUntilMs = performance.now() + PARK_SPIN_MS;
    do {
      for (let spin = 0; spin < PARK_SPIN_LOADS; spin++) if (this.#hasData()) return true;
    } while (performance.now() < spinUntilMs);
    const deadlineMs = performance.now() + timeoutMs;
    this.#sleepers++;
    try {
      for (;;) {
        const tail = this.#prepareToSleep();
        if (typeof tail === 'boolean') return tail;
        const remainingMs = deadlineMs - performance.now();
        if (remainingMs <= 0) return false;
        await parkOn(this.#cells, TAIL_CELL, tail, remainingMs);
      }
    } finally {
      // Only the last sleeper clears: another one may still be parked relying on the flag.
      if (--this.#sleepers === 0) Atomics.store(this.#cells, CONSUMER_SLEEPING_CELL, FLAG_CLEAR);
    }
  }

  /**
   * The step before either wait sleeps. Flag first, then re-read TAIL: a publish() racing with it
   * either shows up in that load or sees the flag and notifies. CLOSED before TAIL: a producer
   * closes after its last publish, so once CLOSED is seen the TAIL load covers every record it will
   * ever publish. Returns true when a record is unread, false when closed or asked to wake, else
   * the TAIL value to wait on.
   */
  #prepareToSleep(): boolean | number {
    Atomics.store(this.#cells, CONSUMER_SLEEPING_CELL, FLAG_SET);
    const closed = this.closed;
    const tail = Atomics.load(this.#cells, TAIL_CELL);
    this.#tail = tail >>> 0;
    if (this.#head !== this.#tail) return true;
    if (closed || this.#takeWakeRequest()) return false;
    return tail;
  }

  get closed(): boolean {
    // Atomic load: the producer may set it at any moment, and a plain read could be hoisted.
    return Atomics.load(this.#cells, CLOSED_CELL) !== FLAG_CLEAR;
  }

  /** Marks the ring closed and wakes both sides, e.g. when the worker stops consuming. */
  close(): void {
    closeRing(this.#cells);
  }

  /**
   * `waitForData` for a worker that may block its thread: true once a record is published and
   * unread; false after `timeoutMs`, or when notified without data (`RingProducer.wakeConsumer`,
   * `wake()`, close), so the caller can serve its messages.
   */
  blockForData(timeoutMs: number): boolean {
    const spinUntilMs = performance.now() + PARK_SPIN_MS;
    do {
      for (let spin = 0; spin < PARK_SPIN_LOADS; spin++) if (this.#hasData()) return true;
    } while (performance.now() < spinUntilMs);
    this.#sleepers++;
    try {
      const tail = this.#prepareToSleep();
      if (typeof tail === 'boolean') return tail;
      Atomics.wait(this.#cells, TAIL_CELL, tail, timeoutMs);
      return this.#hasData();
    } finally {
      if (--this.#sleepers === 0) Atomics.store(this.#cells, CONSUMER_SLEEPING_CELL, FLAG_CLEAR);
    }
  }

  /**
   * Makes a pending (or the next) `waitForData` return without closing the ring, e.g. when the
   * worker is asked to stop. Call it on the consumer's thread.
   */
  wake(): void {
    this.#wakeRequested = true;
    // Wakes our own parked waitAsync; the producer is never parked on TAIL, so nobody else is hit.
    if (this.#sleepers > 0) Atomics.notify(this.#cells, TAIL_CELL);
  }

  #takeWakeRequest(): boolean {
    const requested = this.#wakeRequested;
    this.#wakeRequested = false;
    return requested;
  }

  #hasData(): boolean {
    if (this.#head !== this.#tail) return true;
    // Acquire, as in next(): records below the TAIL seen here are complete.
    this.#tail = Atomics.load(this.#cells, TAIL_CELL) >>> 0;
    return this.#head !== this.#tail;
  }
}
