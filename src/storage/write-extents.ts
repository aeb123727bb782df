/**
 * Where the writes of a topic's live run lie: per write this process made, the offset of its first
 * frame and its first seq. A write's frames of one topic are contiguous (the writer stages a topic's
 * consecutive entries as one run record, docs/FORMAT.md §14.1), so a reader looking for seq s that
 * meets another topic's frame can jump to the start of the write holding s instead of stepping over
 * every frame in between: with 16 topics appended round-robin, 15 of every 16 frames.
 *
 * Kept only for the extents that start after a gap (a dense topic has none), and only the newest
 * MAX_EXTENTS of a run: a reader further behind steps over the frames, as the sparse index allows.
 * Nothing here is written to disk; a reopened log's runs have none.
 */

/** Extents kept per run: 64 KiB of memory, several MiB of a topic's newest writes. */
export const MAX_EXTENTS = 4096;
const INITIAL_EXTENTS = 4;

export class WriteExtents {
  /** [startOffset, firstSeq] pairs in a ring of `capacity` pairs; the oldest at `head`. */
  private pairs = new Float64Array(INITIAL_EXTENTS * 2);
  private head = 0;
  private count = 0;
  /**
   * The last lookup and its answer: a reader the extents cannot place asks again for the same seq
   * at every frame it steps over, and gets it without a search.
   */
  private askedSeq = -1;
  private answer = -1;

  /** Adds a write after every one kept (its seqs follow theirs); the oldest goes once MAX_EXTENTS are kept. */
  push(startOffset: number, firstSeq: number): void {
    this.askedSeq = -1;
    let capacity = this.pairs.length >>> 1;
    if (this.count === capacity && capacity < MAX_EXTENTS) {
      const grown = new Float64Array(Math.min(MAX_EXTENTS, capacity * 2) * 2);
      for (let i = 0; i < this.count; i++) {
        const from = ((this.head + i) % capacity) * 2;
        grown[i * 2] = this.pairs[from]!;
        grown[i * 2 + 1] = this.pairs[from + 1]!;
      }
      this.pairs = grown;
      this.head = 0;
      capacity = grown.length >>> 1;
    }
    if (this.count === capacity) {
      this.head = (this.head + 1) % capacity;
      this.count--;
    }
    const at = ((this.head + this.count) % capacity) * 2;
    this.pairs[at] = startOffset;
    this.pairs[at + 1] = firstSeq;
    this.count++;
  }

  /** Offset of the first frame of the kept write holding `seq` (the greatest first seq ≤ seq), or -1. */
  startOf(seq: number): number {
    if (seq === this.askedSeq) return this.answer;
    const capacity = this.pairs.length >>> 1;
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pairs[((this.head + mid) % capacity) * 2 + 1]! <= seq) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    this.askedSeq = seq;
    this.answer = found < 0 ? -1 : this.pairs[((this.head + found) % capacity) * 2]!;
    return this.answer;
  }
}
