import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  RingConsumer,
  RingProducer,
  createRingBuffer,
  maxRecordPayloadBytes,
} from '../../src/engine/shared/ring-buffer.js';
import {
  CONSUMER_SLEEPING_CELL,
  HEAD_CELL,
  PRODUCER_WAITING_CELL,
  RING_HEADER_BYTES,
  TAIL_CELL,
  WRAP_MARKER,
} from '../../src/engine/shared/ring-layout.js';
import { waitForChange } from '../../src/engine/shared/wait.js';
import { xorshift32 } from '../helpers/xorshift.js';

const CAPACITY_BYTES = 4096;
const MAX_PAYLOAD_BYTES = CAPACITY_BYTES / 2 - 8;

interface Ring {
  buffer: SharedArrayBuffer;
  cells: Int32Array;
  producer: RingProducer;
  consumer: RingConsumer;
}

function makeRing(capacityBytes = CAPACITY_BYTES, initialPosition = 0): Ring {
  const buffer = createRingBuffer({ capacityBytes, initialPosition });
  return {
    buffer,
    cells: new Int32Array(buffer, 0, 16),
    producer: new RingProducer(buffer),
    consumer: new RingConsumer(buffer),
  };
}

function recordBytes(payloadBytes: number): number {
  return 8 + Math.ceil(payloadBytes / 8) * 8;
}

/** A byte pattern that differs per record and per position, so overlaps and misplacement show. */
function patternByte(tag: number, i: number): number {
  return (Math.imul(tag, 131) + i * 7 + 1) & 0xff;
}

function write(producer: RingProducer, payloadBytes: number, tag: number): number {
  const at = producer.reserve(payloadBytes, tag);
  if (at >= 0) for (let i = 0; i < payloadBytes; i++) producer.bytes[at + i] = patternByte(tag, i);
  return at;
}

/** Reads the next record and checks its tag, length and every payload byte. */
function readExpecting(consumer: RingConsumer, payloadBytes: number, tag: number): number {
  const at = consumer.next();
  expect(at).toBeGreaterThanOrEqual(8);
  expect(at % 8).toBe(0);
  expect(at + payloadBytes).toBeLessThanOrEqual(consumer.capacityBytes);
  expect(consumer.lastTag).toBe(tag >>> 0);
  expect(consumer.lastPayloadBytes).toBe(payloadBytes);
  for (let i = 0; i < payloadBytes; i++) {
    if (consumer.bytes[at + i] !== patternByte(tag, i)) {
      throw new Error(`record ${tag} byte ${i}: got ${consumer.bytes[at + i]}, want ${patternByte(tag, i)}`);
    }
  }
  return at;
}

type Settled<T> = { done: false } | { done: true; value: T };
function track<T>(promise: Promise<T>): { state: Settled<T> } {
  const tracker: { state: Settled<T> } = { state: { done: false } };
  void promise.then((value) => (tracker.state = { done: true, value }));
  return tracker;
}

const flushMacrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createRingBuffer', () => {
  it('lays out a 64-byte header before the data area, positions at the initial position', () => {
    const buffer = createRingBuffer({ capacityBytes: 8192, initialPosition: 0xffff_fff0 });
    expect(buffer.byteLength).toBe(RING_HEADER_BYTES + 8192);
    const cells = new Int32Array(buffer, 0, 16);
    expect(cells[HEAD_CELL]! >>> 0).toBe(0xffff_fff0);
    expect(cells[TAIL_CELL]! >>> 0).toBe(0xffff_fff0);
    expect(new RingProducer(buffer).capacityBytes).toBe(8192);
  });

  it.each([0, 1000, 2048, 4095, 4097, 6144, 1.5 * 4096, 2 ** 31])('rejects capacity %d', (capacityBytes) => {
    expect(() => createRingBuffer({ capacityBytes })).toThrow(RangeError);
  });

  it.each([3, -8, 2 ** 32, 12.5])('rejects initial position %d', (initialPosition) => {
    expect(() => createRingBuffer({ capacityBytes: CAPACITY_BYTES, initialPosition })).toThrow(RangeError);
  });

  it('rejects a buffer whose data area is not a valid ring', () => {
    const buffer = new SharedArrayBuffer(RING_HEADER_BYTES + 5000);
    expect(() => new RingProducer(buffer)).toThrow(RangeError);
    expect(() => new RingConsumer(buffer)).toThrow(RangeError);
  });
});

describe('RingProducer / RingConsumer, one thread', () => {
  it('starts empty', () => {
    const { producer, consumer } = makeRing();
    expect(consumer.next()).toBe(-1);
    expect(producer.usedBytes).toBe(0);
    expect(producer.freeBytes).toBe(CAPACITY_BYTES);
  });

  it('fills to exactly the capacity, refuses one more record, and reads everything back', () => {
    const { producer, consumer } = makeRing();
    const payloadBytes = CAPACITY_BYTES / 4 - 8;
    for (let tag = 0; tag < 4; tag++) expect(write(producer, payloadBytes, tag)).toBe(tag * (CAPACITY_BYTES / 4) + 8);
    expect(producer.freeBytes).toBe(0);
    expect(producer.reserve(0, 99)).toBe(-1);
    expect(producer.usedBytes).toBe(CAPACITY_BYTES);
    producer.publish();
    for (let tag = 0; tag < 4; tag++) readExpecting(consumer, payloadBytes, tag);
    expect(consumer.next()).toBe(-1);
    consumer.release();
    expect(producer.freeBytes).toBe(CAPACITY_BYTES);
  });

  it('leaves the ring unchanged when a reservation does not fit', () => {
    const { producer, consumer } = makeRing();
    write(producer, 1500, 1);
    write(producer, 1500, 2);
    const used = producer.usedBytes;
    expect(producer.reserve(MAX_PAYLOAD_BYTES, 3)).toBe(-1);
    expect(producer.usedBytes).toBe(used);
    producer.publish();
    readExpecting(consumer, 1500, 1);
    readExpecting(consumer, 1500, 2);
    expect(consumer.next()).toBe(-1);
  });

  it('keeps reserved records invisible until publish, which moves TAIL once for all of them', () => {
    const { producer, consumer, cells } = makeRing();
    for (let tag = 0; tag < 5; tag++) write(producer, 10 * tag, tag);
    expect(cells[TAIL_CELL]).toBe(0);
    expect(consumer.next()).toBe(-1);
    const store = vi.spyOn(Atomics, 'store');
    producer.publish();
    expect(store.mock.calls.filter(([, index]) => index === TAIL_CELL)).toHaveLength(1);
    expect(cells[TAIL_CELL]).toBe([0, 10, 20, 30, 40].reduce((sum, n) => sum + recordBytes(n), 0));
    for (let tag = 0; tag < 5; tag++) readExpecting(consumer, 10 * tag, tag);
    expect(consumer.next()).toBe(-1);
  });

  it('gives space back only on release, with one HEAD store for everything read', () => {
    const { producer, consumer, cells } = makeRing();
    for (let tag = 0; tag < 4; tag++) write(producer, CAPACITY_BYTES / 4 - 8, tag);
    producer.publish();
    for (let tag = 0; tag < 3; tag++) readExpecting(consumer, CAPACITY_BYTES / 4 - 8, tag);
    expect(cells[HEAD_CELL]).toBe(0);
    expect(producer.reserve(0, 9)).toBe(-1);
    const store = vi.spyOn(Atomics, 'store');
    consumer.release();
    expect(store.mock.calls.filter(([, index]) => index === HEAD_CELL)).toHaveLength(1);
    expect(cells[HEAD_CELL]).toBe(3 * (CAPACITY_BYTES / 4));
    expect(producer.freeBytes).toBe(3 * (CAPACITY_BYTES / 4));
    expect(write(producer, CAPACITY_BYTES / 2 - 8, 10)).toBe(8);
    producer.publish();
    readExpecting(consumer, CAPACITY_BYTES / 4 - 8, 3);
    readExpecting(consumer, CAPACITY_BYTES / 2 - 8, 10);
  });

  it('enforces maxRecordPayloadBytes = capacity/2 - 8', () => {
    const { producer } = makeRing();
    expect(producer.maxRecordPayloadBytes).toBe(MAX_PAYLOAD_BYTES);
    expect(maxRecordPayloadBytes(1 << 20)).toBe((1 << 19) - 8);
    expect(() => producer.reserve(MAX_PAYLOAD_BYTES + 1, 0)).toThrow(RangeError);
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 32]) expect(() => producer.reserve(bad, 0)).toThrow(RangeError);
    expect(producer.usedBytes).toBe(0);
    return expect(producer.waitForSpace(MAX_PAYLOAD_BYTES + 1, 0)).rejects.toThrow(RangeError);
  });

  it('fits a maximum-size record into an empty ring wherever the position is', () => {
    for (let position = 0; position < CAPACITY_BYTES; position += 8) {
      const { producer, consumer } = makeRing(CAPACITY_BYTES, position);
      expect(write(producer, MAX_PAYLOAD_BYTES, position)).toBeGreaterThan(0);
      producer.publish();
      readExpecting(consumer, MAX_PAYLOAD_BYTES, position);
    }
  });

  it('wraps with a marker at every possible remaining size, and fits exactly without one', () => {
    for (let remaining = 8; remaining <= CAPACITY_BYTES; remaining += 8) {
      const start = CAPACITY_BYTES - remaining;
      if (remaining - 8 <= MAX_PAYLOAD_BYTES) {
        // Exact fit: the record ends at the end of the data area, the next one starts at 0.
        const { producer, consumer } = makeRing(CAPACITY_BYTES, start);
        expect(write(producer, remaining - 8, 1)).toBe(start + 8);
        expect(write(producer, 5, 2)).toBe(8);
        producer.publish();
        readExpecting(consumer, remaining - 8, 1);
        readExpecting(consumer, 5, 2);
      }
      // One byte too many (padding makes it 8): a marker fills the rest, the record goes to 0.
      const payloadBytes = remaining - 7;
      if (payloadBytes > MAX_PAYLOAD_BYTES) continue;
      const { producer, consumer, buffer } = makeRing(CAPACITY_BYTES, start);
      expect(write(producer, payloadBytes, 3)).toBe(8);
      expect(new Uint32Array(buffer, RING_HEADER_BYTES)[start / 4]).toBe(WRAP_MARKER);
      expect(producer.usedBytes).toBe(remaining + recordBytes(payloadBytes));
      producer.publish();
      expect(readExpecting(consumer, payloadBytes, 3)).toBe(8);
      expect(consumer.next()).toBe(-1);
      consumer.release();
      expect(producer.usedBytes).toBe(0);
    }
  });

  /**
   * Random sizes and random interleavings of reserve / publish / next / release over many laps, so
   * the wrap point keeps moving. Every byte is checked, so any overlap or misplacement shows.
   */
  function randomWalk(
    initialPosition: number,
    steps: number,
    seed: number,
  ): { producer: RingProducer; cells: Int32Array } {
    const { producer, consumer, cells } = makeRing(CAPACITY_BYTES, initialPosition);
    const random = xorshift32(seed);
    const reserved: Array<{ tag: number; payloadBytes: number }> = [];
    let published = 0;
    let read = 0;
    let nextTag = 0;
    for (let step = 0; step < steps; step++) {
      const action = random() % 8;
      if (action < 4) {
        const payloadBytes = random() % 4 === 0 ? random() % (MAX_PAYLOAD_BYTES + 1) : random() % 200;
        const at = write(producer, payloadBytes, nextTag);
        if (at >= 0) reserved.push({ tag: nextTag++, payloadBytes });
        else expect(producer.freeBytes).toBeLessThan(2 * recordBytes(payloadBytes));
      } else if (action === 4) {
        producer.publish();
        published = reserved.length;
      } else if (action < 7) {
        if (read < published) {
          const { tag, payloadBytes } = reserved[read++]!;
          readExpecting(consumer, payloadBytes, tag);
        } else {
          expect(consumer.next()).toBe(-1);
        }
      } else {
        consumer.release();
      }
    }
    producer.publish();
    while (read < reserved.length) {
      const { tag, payloadBytes } = reserved[read++]!;
      readExpecting(consumer, payloadBytes, tag);
    }
    expect(consumer.next()).toBe(-1);
    consumer.release();
    expect(producer.usedBytes).toBe(0);
    expect(nextTag).toBeGreaterThan(steps / 10);
    return { producer, cells };
  }

  it('keeps order and content over many laps with random sizes and interleavings', () => {
    for (let seed = 1; seed <= 20; seed++) randomWalk(0, 5000, seed);
  });

  it('keeps working when the position counters wrap past 2^32', () => {
    const initialPosition = 2 ** 32 - 3 * CAPACITY_BYTES - 24;
    for (let seed = 1; seed <= 10; seed++) {
      const { cells } = randomWalk(initialPosition, 5000, seed);
      // Both counters went past 2^32 and came back around to small values.
      expect(cells[TAIL_CELL]! >>> 0).toBeLessThan(initialPosition);
      expect(cells[HEAD_CELL]).toBe(cells[TAIL_CELL]);
    }
  });

  it('detects a full ring while the counters straddle 2^32', () => {
    const { producer, consumer, cells } = makeRing(CAPACITY_BYTES, 2 ** 32 - 2048);
    let tag = 0;
    while (write(producer, 56, tag) >= 0) tag++;
    expect(tag).toBe(CAPACITY_BYTES / 64);
    expect(producer.freeBytes).toBe(0);
    producer.publish();
    expect(cells[TAIL_CELL]! >>> 0).toBe(2048);
    for (let i = 0; i < tag; i++) readExpecting(consumer, 56, i);
    consumer.release();
    expect(producer.freeBytes).toBe(CAPACITY_BYTES);
  });
});

describe('waiting', () => {
  it('waitForData resolves false on an empty ring after the timeout, true at once when data is there', async () => {
    const { producer, consumer, cells } = makeRing();
    expect(await consumer.waitForData(5)).toBe(false);
    expect(cells[CONSUMER_SLEEPING_CELL]).toBe(0);
    write(producer, 3, 1);
    producer.publish();
    expect(await consumer.waitForData(0)).toBe(true);
    readExpecting(consumer, 3, 1);
  });

  it('publish wakes a sleeping consumer, and notifies only while it sleeps', { timeout: 20_000 }, async () => {
    const { producer, consumer, cells } = makeRing();
    const notify = vi.spyOn(Atomics, 'notify');
    write(producer, 1, 1);
    producer.publish();
    expect(notify).not.toHaveBeenCalled();
    readExpecting(consumer, 1, 1);

    const woken = consumer.waitForData(Number.POSITIVE_INFINITY);
    expect(cells[CONSUMER_SLEEPING_CELL]).toBe(1);
    write(producer, 2, 2);
    expect(consumer.next()).toBe(-1);
    producer.publish();
    expect(notify).toHaveBeenCalledWith(cells, TAIL_CELL);
    expect(await woken).toBe(true);
    expect(cells[CONSUMER_SLEEPING_CELL]).toBe(0);
    readExpecting(consumer, 2, 2);
  });

  it('waitForSpace resolves false after the timeout when nothing is released', async () => {
    const { producer, cells } = makeRing();
    while (write(producer, 100, 0) >= 0);
    expect(await producer.waitForSpace(100, 5)).toBe(false);
    expect(cells[PRODUCER_WAITING_CELL]).toBe(0);
  });

  it('waitForSpace publishes what was reserved, then waits until enough is released', { timeout: 20_000 }, async () => {
    const { producer, consumer, cells } = makeRing();
    for (let tag = 0; tag < 8; tag++) write(producer, CAPACITY_BYTES / 8 - 8, tag);
    expect(consumer.next()).toBe(-1);
    const notify = vi.spyOn(Atomics, 'notify');
    const space = track(producer.waitForSpace(CAPACITY_BYTES / 4 - 8, Number.POSITIVE_INFINITY));
    expect(cells[PRODUCER_WAITING_CELL]).toBe(1);

    readExpecting(consumer, CAPACITY_BYTES / 8 - 8, 0);
    consumer.release();
    expect(notify).toHaveBeenCalledWith(cells, HEAD_CELL);
    await flushMacrotasks();
    expect(space.state.done).toBe(false); // 512 free bytes, 1024 needed

    readExpecting(consumer, CAPACITY_BYTES / 8 - 8, 1);
    consumer.release();
    await vi.waitFor(() => expect(space.state).toEqual({ done: true, value: true }));
    expect(cells[PRODUCER_WAITING_CELL]).toBe(0);
    expect(write(producer, CAPACITY_BYTES / 4 - 8, 8)).toBe(8);
  });

  it('release does not notify when the producer is not waiting', () => {
    const { producer, consumer } = makeRing();
    write(producer, 8, 1);
    producer.publish();
    consumer.next();
    const notify = vi.spyOn(Atomics, 'notify');
    consumer.release();
    expect(notify).not.toHaveBeenCalled();
  });

  it('close wakes both sides; the consumer still drains what was published', { timeout: 20_000 }, async () => {
    const { producer, consumer } = makeRing();
    const dataWait = consumer.waitForData(Number.POSITIVE_INFINITY);
    while (write(producer, 200, 7) >= 0);
    const spaceWait = producer.waitForSpace(200, Number.POSITIVE_INFINITY); // publishes, wakes dataWait
    expect(await dataWait).toBe(true);
    producer.close();
    expect(await spaceWait).toBe(false);
    expect(consumer.closed).toBe(true);
    expect(await consumer.waitForData(Number.POSITIVE_INFINITY)).toBe(true);
    let records = 0;
    while (consumer.next() >= 0) records++;
    expect(records).toBe(Math.floor(CAPACITY_BYTES / recordBytes(200)));
    expect(await consumer.waitForData(Number.POSITIVE_INFINITY)).toBe(false);
  });

  it('a close by the consumer wakes a producer parked on a full ring', { timeout: 20_000 }, async () => {
    const { producer, consumer } = makeRing();
    while (write(producer, 200, 7) >= 0);
    const spaceWait = producer.waitForSpace(200, Number.POSITIVE_INFINITY);
    await flushMacrotasks();
    consumer.close();
    expect(await spaceWait).toBe(false);
    expect(producer.closed).toBe(true);
  });

  it('wake makes a parked (or the next) waitForData return without closing the ring', { timeout: 20_000 }, async () => {
    const { consumer } = makeRing();
    const parked = consumer.waitForData(Number.POSITIVE_INFINITY);
    await flushMacrotasks();
    consumer.wake();
    expect(await parked).toBe(false);
    consumer.wake();
    expect(await consumer.waitForData(Number.POSITIVE_INFINITY)).toBe(false);
    expect(consumer.closed).toBe(false);
    expect(await consumer.waitForData(1)).toBe(false);
  });
});

describe('waitForChange', () => {
  it('resolves changed at once when the value already differs', async () => {
    const cells = new Int32Array(new SharedArrayBuffer(8));
    cells[0] = 5;
    expect(await waitForChange(cells, 0, 4, Number.POSITIVE_INFINITY)).toBe('changed');
  });

  it('resolves timed-out when nothing changes', async () => {
    const cells = new Int32Array(new SharedArrayBuffer(8));
    expect(await waitForChange(cells, 0, 0, 0)).toBe('timed-out');
    expect(await waitForChange(cells, 0, 0, 5)).toBe('timed-out');
  });

  it('resolves changed on a notify', { timeout: 20_000 }, async () => {
    const cells = new Int32Array(new SharedArrayBuffer(8));
    const outcome = waitForChange(cells, 1, 0, Number.POSITIVE_INFINITY);
    Atomics.store(cells, 1, 1);
    Atomics.notify(cells, 1);
    expect(await outcome).toBe('changed');
  });
});
