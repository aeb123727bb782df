/**
 * The main thread's consumer state for one topic: the cursor (next sequence number to deliver)
 * and a read-ahead cache of entries fetched from the topic's writer in batches, so readNext costs
 * a control round trip only once per batch. Cached entries are immutable and always start at the
 * cursor, so the cache can never hide or reorder anything.
 *
 * Reads of one topic run one at a time (`exclusive`), which is what makes concurrent readNext
 * callers in strictly-at-once mode receive each entry exactly once.
 */
import type { Entry } from './entry.js';
import { SerialQueue } from './serial-queue.js';

export class TopicReader {
  cursor: number;
  #cache: Entry[] = [];
  #head = 0;
  readonly #reads = new SerialQueue();
  /** The next batch being read ahead, resolving to how many entries it added (0 on failure). */
  prefetch: Promise<number> | null = null;

  constructor(cursor: number) {
    this.cursor = cursor;
  }

  /** Runs `fn` after every read queued before it on this topic. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#reads.run(fn);
  }

  /** A read of this topic is queued or running: new reads must queue behind it. */
  get busy(): boolean {
    return this.#reads.busy;
  }

  get cachedCount(): number {
    return this.#cache.length - this.#head;
  }

  /** Sequence number right after the cached entries (where the next fetch starts). */
  get fetchFrom(): number {
    return this.cachedCount > 0 ? this.#cache[this.#cache.length - 1]!.seq + 1 : this.cursor;
  }

  peek(index = 0): Entry | undefined {
    return this.#cache[this.#head + index];
  }

  fill(entries: Entry[]): void {
    if (entries.length === 0) return;
    if (this.#head === this.#cache.length) {
      this.#cache = entries;
      this.#head = 0;
    } else {
      for (const e of entries) this.#cache.push(e);
    }
  }

  /** Drops the first `n` cached entries (they were consumed). */
  drop(n: number): void {
    this.#head += n;
    if (this.#head >= this.#cache.length) {
      this.#cache = [];
      this.#head = 0;
    }
  }
}
