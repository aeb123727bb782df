/**
 * The run log (src/engine/shared/run-log.ts): how a writer tells the main thread where it wrote
 * each topic's entries. Records arrive exactly once and in order across any number of wraps; a
 * full log drops records but says so, and a snapshot position resumes it without a gap.
 */
import { describe, expect, it } from 'vitest';
import { RunLogConsumer, RunLogProducer, createRunLog, type WrittenRun } from '../../src/engine/shared/run-log.js';

function makeLog(capacity: number): { producer: RunLogProducer; consumer: RunLogConsumer } {
  const buffer = createRunLog(capacity);
  return { producer: new RunLogProducer(buffer), consumer: new RunLogConsumer(buffer) };
}

function collect(consumer: RunLogConsumer): { n: number; runs: WrittenRun[] } {
  const runs: WrittenRun[] = [];
  const n = consumer.drain((run) => runs.push({ ...run }));
  return { n, runs };
}

describe('run log: every written run reaches the main thread once, in order', () => {
  it('across many wraps of a small log, with seqs and offsets beyond 32 bits', () => {
    const { producer, consumer } = makeLog(8);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 500; round++) {
      const k = 1 + (round % 8);
      for (let i = 0; i < k; i++, next++)
        expect(
          producer.publish(next % 3, next, 2 ** 40 + next, 1 + (next % 5), next * 100, next * 100 + 99, 2 ** 41 + next),
        ).toBe(true);
      const { n, runs } = collect(consumer);
      expect(n).toBe(k);
      for (const run of runs) {
        expect(run).toEqual({
          topicId: expected % 3,
          segmentNo: expected,
          firstSeq: 2 ** 40 + expected,
          count: 1 + (expected % 5),
          startOffset: expected * 100,
          endOffset: expected * 100 + 99,
          timeMs: 2 ** 41 + expected,
        });
        expected++;
      }
    }
    expect(expected).toBe(next);
    expect(consumer.pending).toBe(false);
  });

  it('a full log refuses a record and says so; drain applies nothing until a snapshot position resumes it', () => {
    const { producer, consumer } = makeLog(4);
    for (let i = 0; i < 4; i++) expect(producer.publish(1, 0, i, 1, i, i + 1, 0)).toBe(true);
    expect(producer.publish(1, 0, 4, 1, 4, 5, 0)).toBe(false);
    expect(consumer.overflowed).toBe(true);
    // What follows a dropped record would leave a gap: nothing is applied until a snapshot.
    expect(collect(consumer).n).toBe(-1);
    const position = producer.beginSnapshot(); // the snapshot covers every run written so far
    expect(consumer.overflowed).toBe(false);
    consumer.skipTo(position);
    expect(producer.publish(1, 0, 5, 1, 5, 6, 0)).toBe(true);
    const { n, runs } = collect(consumer);
    expect(n).toBe(1);
    expect(runs[0]!.firstSeq).toBe(5);
  });

  it('refuses a capacity that is not a power of two', () => {
    expect(() => createRunLog(6)).toThrow(RangeError);
  });
});

describe("run log: a run's sparse-index points follow it (docs/FORMAT.md §14.2)", () => {
  it('publishRun sends the run, then one record of count 0 per point, in order', () => {
    const { producer, consumer } = makeLog(8);
    const points = new Float64Array([100, 7, 5000, 33_000, 9, 5001]);
    expect(producer.publishRun(3, 1, 7, 4, 100, 40_000, 5000, points)).toBe(true);
    const { runs } = collect(consumer);
    expect(runs).toEqual([
      { topicId: 3, segmentNo: 1, firstSeq: 7, count: 4, startOffset: 100, endOffset: 40_000, timeMs: 5000 },
      { topicId: 3, segmentNo: 1, firstSeq: 7, count: 0, startOffset: 100, endOffset: 100, timeMs: 5000 },
      { topicId: 3, segmentNo: 1, firstSeq: 9, count: 0, startOffset: 33_000, endOffset: 33_000, timeMs: 5001 },
    ]);
  });

  it('a point that does not fit overflows the log like a run would (the main thread then resynchronises)', () => {
    const { producer, consumer } = makeLog(2);
    expect(producer.publishRun(1, 0, 0, 2, 0, 2000, 1, new Float64Array([0, 0, 1, 1000, 1, 1]))).toBe(false);
    expect(consumer.overflowed).toBe(true);
    expect(consumer.drain(() => undefined)).toBe(-1);
  });
});
