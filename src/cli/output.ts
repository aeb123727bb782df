/**
 * Buffered output for commands that print a lot (dump, tail): lines are gathered into chunks so a
 * million frames are not a million write calls, and a full pipe makes the command wait (drain)
 * instead of buffering the whole dump in memory.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

const CHUNK_CHARS = 64 * 1024;

export class Output {
  readonly #stream: Writable;
  #pending: string[] = [];
  #pendingChars = 0;

  constructor(stream: Writable) {
    this.#stream = stream;
  }

  /** Queues text; returns a promise only when the chunk was written and the stream is full. */
  write(text: string): Promise<void> | undefined {
    this.#pending.push(text);
    this.#pendingChars += text.length;
    if (this.#pendingChars < CHUNK_CHARS) return undefined;
    return this.flush();
  }

  /** Writes what is queued; resolves when the stream can take more. */
  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const chunk = this.#pending.join('');
    this.#pending = [];
    this.#pendingChars = 0;
    if (!this.#stream.write(chunk)) await once(this.#stream, 'drain');
  }
}
