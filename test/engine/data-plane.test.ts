/**
 * docs/ARCHITECTURE.md: no postMessage per append. Counts every postMessage the main thread makes
 * (on any MessagePort or Worker) while appending thousands of entries: only the few control calls
 * remain.
 */
import { MessagePort, Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SMALL, openWal } from '../helpers/wal.js';

describe('data plane: appends cross threads through shared memory, not messages', () => {
  it('makes no postMessage per append or per batch', async () => {
    const wal = await openWal({ ...SMALL, ringBytes: 1024 * 1024 });
    let messages = 0;
    const portPost = MessagePort.prototype.postMessage;
    const workerPost = Worker.prototype.postMessage;
    MessagePort.prototype.postMessage = function (this: MessagePort, ...args: Parameters<MessagePort['postMessage']>) {
      messages++;
      return portPost.apply(this, args);
    };
    Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
      messages++;
      return workerPost.apply(this, args);
    };
    try {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 10_000; i++) pending.push(wal.append(`topic-${i % 8}`, `entry ${i}`));
      for (let i = 0; i < 500; i++) pending.push(wal.batchAppend('batches', ['a', 'b', 'c']));
      await Promise.all(pending);
    } finally {
      MessagePort.prototype.postMessage = portPost;
      Worker.prototype.postMessage = workerPost;
    }
    expect(messages).toBe(0);
    expect(await wal.count('topic-0')).toBe(1250);
  });
});
