/**
 * A first-in first-out queue over an array with a head index. `Array.prototype.shift` is O(n) once
 * V8 can no longer trim the array in place (~16k entries), so a long queue drained with shift()
 * collapses quadratically (appends behind a full ring once waited 70 s). Taken slots are cleared at
 * once (an item may hold a caller's data) and the array is compacted when most of it is taken.
 */
const COMPACT_AFTER_ITEMS = 1024;

export class FifoQueue<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  get isEmpty(): boolean {
    return this.#head === this.#items.length;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The oldest item, or undefined when empty. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Removes the oldest item (the one peek() returned). */
  dropHead(): void {
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > COMPACT_AFTER_ITEMS && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Empties the queue, returning what it held, oldest first. */
  takeAll(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return items;
  }
}
