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

  /** Room for `length` more bytes; `runBytesLeft` bounds what the rest of the run could add. */
  reserve(length: number, runBytesLeft: number): Uint8Array {
    const needed = this.used + length;
    if (needed <= this.data.byteLength) return this.data;
    // Entries left times this entry's size guesses the rest; doubling covers a wrong guess.
    const entriesLeft = this.maxEntries - this.entries.length - 1;
    const guess = Math.min(
      this.maxBytes,
      this.used + runBytesLeft,
      Math.max(this.data.byteLength * 2, needed + length * entriesLeft),
    );
    // At least doubling (within the budget): a read across many one-entry runs (a sparse topic)
    // would otherwise grow by one entry at a time, copying the batch again each time.
    const grown = new Uint8Array(Math.max(needed, guess, Math.min(this.maxBytes, this.data.byteLength * 2)));
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
