/**
 * Reads the entries of one topic's recovered prefix back from its runs (the ranges the merge
 * accepted), frame by frame, the way a writer serves reads: only ENTRY frames of the topic whose
 * seq lies in an accepted range count, and every payload's checksum is checked again.
 */
import type { RecoveredTopic } from '../storage/recover.js';
import { KIND_ENTRY } from '../storage/frame.js';
import type { SegmentScan } from '../storage/segment-scanner.js';
import { CliFailure } from './cli-error.js';
import { SegmentReader } from './frame-walker.js';

export interface TopicEntry {
  seq: number;
  /** Append time; MANIFEST.v1TimeMs for an entry of a version-1 segment (docs/FORMAT.md §20.3). */
  timeMs: number;
  flags: number;
  data: Uint8Array;
}

/** Entries of `topic` with seq in [fromSeq, toSeq), in order. Entries whose segment was reclaimed meanwhile are skipped. */
export function* readTopicEntries(
  scans: ReadonlyMap<string, SegmentScan>,
  topic: RecoveredTopic,
  fromSeq: number,
  toSeq = Number.POSITIVE_INFINITY,
  v1TimeMs = 0,
): Generator<TopicEntry> {
  const readers = new ReaderCache();
  try {
    for (const run of topic.runs) {
      const first = Math.max(run.firstSeq, fromSeq);
      const end = Math.min(run.firstSeq + run.count, toSeq);
      if (first >= end) continue;
      const reader = readers.get(run.path);
      if (reader === null) continue;
      const scan = scans.get(run.path)!;
      for (const item of reader.frames(run.startOffset, run.endOffset, scan, true)) {
        if (item.type !== 'frame') continue;
        const { header } = item;
        if (header.kind !== KIND_ENTRY || header.topicId !== topic.id || header.seq < first || header.seq >= end)
          continue;
        if (!item.payloadOk) {
          throw new CliFailure(
            `${run.path} offset ${item.offset}: the entry (seq ${header.seq}) changed since it was scanned and no longer matches its checksum`,
          );
        }
        const timeMs = scan.formatVersion === 1 ? v1TimeMs : header.timeMs;
        yield { seq: header.seq, timeMs, flags: header.flags, data: item.payload! };
        if (header.seq === end - 1) break;
      }
    }
  } finally {
    readers.closeAll();
  }
}

/** Keeps each segment open while its runs are read (a topic's runs come segment by segment). */
class ReaderCache {
  readonly #open = new Map<string, SegmentReader | null>();

  get(filePath: string): SegmentReader | null {
    if (!this.#open.has(filePath)) {
      if (this.#open.size >= 8) this.closeAll();
      this.#open.set(filePath, SegmentReader.open(filePath));
    }
    return this.#open.get(filePath)!;
  }

  closeAll(): void {
    for (const reader of this.#open.values()) reader?.close();
    this.#open.clear();
  }
}
