/**
 * What one read of a topic answers (`ReadBatch`: every payload in one buffer, and where each entry
 * lies in it) and the builder that fills it within a read's budget (bytes and entries).
 */

/** `offset` is into ReadBatch.data. */
export interface ReadEntryRef {
  seq: number;
  codec: number;
  offset: number;
  length: number;
  /** Append time (docs/FORMAT.md §13.3; MANIFEST.v1TimeMs for an entry of a version-1 segment). */
  timeMs: number;
}

export interface ReadBatch {
  data: Uint8Array;
  entries: ReadEntryRef[];
}

/** Collects payloads into one buffer sized from the budget and the bytes left in the run. */
export class ReadBatchBuilder {
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private data = new Uint8Array(0);
  private used = 0;
  private readonly entries: ReadEntryRef[] = [];

  constructor(maxBytes: number, maxEntries: number) {
    this.maxBytes = maxBytes;
    this.maxEntries = maxEntries;
  }

  get full(): boolean {
    return this.entries.length >= this.maxEntries;
  }

  get usedBytes(): number {
    return this.used;
  }

  wants(length: number): boolean {
    return this.entries.length === 0 || (!this.full && this.used + length <= this.maxBytes);
  }

  /**
   * Room for `length` more bytes. The first entry sizes the buffer for all that may follow (the
   * entries left, which the caller bounds by what the topic holds, times this one's size, within
   * the budget): a read across many one-entry runs (a topic among busy ones) would otherwise grow
   * it entry by entry, copying the batch each time.
   */
  reserve(length: number): Uint8Array {
    const needed = this.used + length;
    if (needed <= this.data.byteLength) return this.data;
    const entriesLeft = this.maxEntries - this.entries.length - 1;
    // Doubling (within the budget) covers a wrong guess.
    const guess = Math.min(this.maxBytes, Math.max(needed + length * entriesLeft, this.data.byteLength * 2));
    const grown = new Uint8Array(Math.max(needed, guess));
    grown.set(this.data.subarray(0, this.used));
    this.data = grown;
    return grown;
  }

  add(seq: number, codec: number, length: number, timeMs: number): void {
    this.entries.push({ seq, codec, offset: this.used, length, timeMs });
    this.used += length;
  }

  finish(): ReadBatch {
    const data = this.used === this.data.byteLength ? this.data : this.data.subarray(0, this.used);
    return { data, entries: this.entries };
  }
}
