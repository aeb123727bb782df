import { describe, expect, it } from 'vitest';
import { FifoQueue } from '../../src/engine/main/fifo-queue.js';

describe('FifoQueue: what the writer channel queues pending and blocked operations in', () => {
  it('gives items back oldest first, across compactions, with pushes interleaved', () => {
    const queue = new FifoQueue<number>();
    expect(queue.isEmpty).toBe(true);
    expect(queue.peek()).toBeUndefined();
    const taken: number[] = [];
    let next = 0;
    // Push 3, take 2, repeatedly: the head passes the compaction threshold many times with items left.
    for (let round = 0; round < 5000; round++) {
      for (let i = 0; i < 3; i++) queue.push(next++);
      for (let i = 0; i < 2; i++) {
        taken.push(queue.peek()!);
        queue.dropHead();
      }
    }
    expect(taken).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(queue.peek()).toBe(10_000);
    expect(queue.takeAll()).toEqual(Array.from({ length: 5000 }, (_, i) => 10_000 + i));
    expect(queue.isEmpty).toBe(true);
    queue.push(42);
    expect(queue.peek()).toBe(42);
  });
});
