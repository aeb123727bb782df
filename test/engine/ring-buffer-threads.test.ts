/**
 * The ring across real threads: this file produces on the main thread, the consumer runs in a
 * worker (test/fixtures/ring-consumer.worker.mjs, which imports the built code: `npm run build`).
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { RingProducer, createRingBuffer } from '../../src/engine/shared/ring-buffer.js';
import { CONSUMER_SLEEPING_CELL, RING_HEADER_CELLS } from '../../src/engine/shared/ring-layout.js';

const FIXTURE = new URL('../fixtures/ring-consumer.worker.mjs', import.meta.url);
const MAX_RECORD_SIZE_BYTES = 300;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SPACE_WAIT_MS = 60_000;

interface ConsumerReport {
  records: number;
  checksum: number;
  error: string | null;
}

interface ConsumerData {
  ring: SharedArrayBuffer;
  seed: number;
  records: number;
  releaseEvery: number;
  slow?: { ticks: SharedArrayBuffer; recordsPerTick: number };
}

// Must match the worker fixture.
function sizeStream(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % (MAX_RECORD_SIZE_BYTES + 1);
  };
}

function patternByte(sequence: number, i: number): number {
  return (Math.imul(sequence, 2654435761) >>> 24) ^ (i & 0xff);
}

function startConsumer(workerData: ConsumerData): { worker: Worker; report: Promise<ConsumerReport> } {
  const worker = new Worker(FIXTURE, { workerData });
  const report = new Promise<ConsumerReport>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      // A producer parked on a full ring would otherwise wait for a consumer that is gone.
      new RingProducer(workerData.ring).close();
      reject(new Error(`consumer exited (code ${code}) without a report`));
    });
  });
  return { worker, report };
}

interface ProducerResult {
  checksum: number;
  spaceWaits: number;
}

/** Writes `records` records of random sizes (tag = sequence), publishing every `publishEvery`. */
async function produce(
  producer: RingProducer,
  records: number,
  seed: number,
  publishEvery: number,
): Promise<ProducerResult> {
  const nextSize = sizeStream(seed);
  const bytes = producer.bytes;
  let checksum = FNV_OFFSET;
  let spaceWaits = 0;
  for (let sequence = 0; sequence < records; sequence++) {
    const payloadBytes = nextSize();
    let at = producer.reserve(payloadBytes, sequence);
    while (at < 0) {
      spaceWaits++;
      const fits = await producer.waitForSpace(payloadBytes, SPACE_WAIT_MS);
      if (!fits && producer.closed) throw new Error(`the consumer closed the ring at record ${sequence}`);
      at = producer.reserve(payloadBytes, sequence);
    }
    for (let i = 0; i < payloadBytes; i++) {
      const byte = patternByte(sequence, i);
      bytes[at + i] = byte;
      checksum = Math.imul(checksum ^ byte, FNV_PRIME) >>> 0;
    }
    checksum = Math.imul(checksum ^ payloadBytes, FNV_PRIME) >>> 0;
    if ((sequence + 1) % publishEvery === 0) producer.publish();
  }
  producer.publish();
  producer.close();
  return { checksum, spaceWaits };
}

describe('ring buffer across threads', () => {
  it('moves 2,000,000 random-size records through a 64 KiB ring in order and intact', async () => {
    const records = 2_000_000;
    const seed = 0x5eed_1234;
    const ring = createRingBuffer({ capacityBytes: 64 * 1024 });
    const { report } = startConsumer({ ring, seed, records, releaseEvery: 64 });
    const startedMs = performance.now();
    const produced = await produce(new RingProducer(ring), records, seed, 32);
    const consumed = await report;
    const elapsedMs = performance.now() - startedMs;
    expect(consumed).toEqual({ records, checksum: produced.checksum, error: null });
    console.log(
      `ring 64 KiB, 0..300 B records: ${Math.round((records / elapsedMs) * 1000).toLocaleString('en-US')} records/s ` +
        `(${produced.spaceWaits} producer waits for space)`,
    );
  });

  it('keeps the event loop running while the producer waits for a slow consumer', async () => {
    const records = 20_000;
    const recordsPerTick = 100;
    const capacityBytes = 4096;
    const ring = createRingBuffer({ capacityBytes });
    const ticks = new Int32Array(new SharedArrayBuffer(4));
    // The consumer only advances after this callback ran, i.e. while the producer was awaiting.
    const interval = setInterval(() => {
      Atomics.add(ticks, 0, 1);
      Atomics.notify(ticks, 0);
    }, 1);
    try {
      const seed = 77;
      const { report } = startConsumer({
        ring,
        seed,
        records,
        releaseEvery: 16,
        slow: { ticks: ticks.buffer as SharedArrayBuffer, recordsPerTick },
      });
      const produced = await produce(new RingProducer(ring), records, seed, 8);
      const ticksWhenProduced = Atomics.load(ticks, 0);
      expect(await report).toEqual({ records, checksum: produced.checksum, error: null });
      expect(produced.spaceWaits).toBeGreaterThan(0);
      // At most capacity/8 records were still in the ring when the producer finished, so the
      // consumer had seen that many distinct tick values by then.
      expect(ticksWhenProduced).toBeGreaterThanOrEqual(Math.floor((records - capacityBytes / 8) / recordsPerTick));
    } finally {
      clearInterval(interval);
    }
  });

  it('a consumer parked with nothing else to do stays alive until data arrives', async () => {
    const records = 3;
    const seed = 9;
    const ring = createRingBuffer({ capacityBytes: 4096 });
    const cells = new Int32Array(ring, 0, RING_HEADER_CELLS);
    const { worker, report } = startConsumer({ ring, seed, records, releaseEvery: 1 });
    // The consumer sets its flag without notifying anyone, so poll for it.
    while (Atomics.load(cells, CONSUMER_SLEEPING_CELL) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    // Give a worker that would not hold its event loop open the chance to exit.
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 200))]);
    const produced = await produce(new RingProducer(ring), records, seed, 1);
    expect(await report).toEqual({ records, checksum: produced.checksum, error: null });
  });
});
