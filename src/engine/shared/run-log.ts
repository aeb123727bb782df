/**
 * The run log: one single-producer single-consumer queue in shared memory per writer, through which
 * the writer tells the main thread where every entry it wrote lies — per commit and topic, one
 * record (segment no, first seq, count, byte range, append time). The main thread drains it when a reader needs
 * more than it knows about, so it can read the bytes itself: no message, no wake-up, and the busy
 * writer is not in the read path (docs/ARCHITECTURE.md, Reads).
 *
 * A record is published before the writer's written-ops counter moves, so an append that resolved
 * is always found by the next drain (a consumer reads its producer's writes).
 *
 * The writer never waits for room: a full log drops the record and raises OVERFLOWED (sticky). The
 * main thread then takes a snapshot of the writer's runs (`WriterControl.runSnapshot`, which names
 * the position the snapshot covers) instead of the records it missed.
 */

/** Header cells (Int32): records published, records consumed, overflow flag. */
const WRITE_INDEX = 0;
const READ_INDEX = 1;
const OVERFLOWED = 2;
const HEADER_BYTES = 16;
/** Float64 fields of one record. */
const RECORD_FIELDS = 7;
const F_TOPIC = 0;
const F_SEGMENT_NO = 1;
const F_FIRST_SEQ = 2;
const F_COUNT = 3;
const F_START = 4;
const F_END = 5;
const F_TIME = 6;

/** Default capacity: 64 Ki records (3.5 MiB), minutes of commits at full speed with few topics. */
export const DEFAULT_RUN_LOG_RECORDS = 64 * 1024;

/** One written run, as the main thread receives it. */
export interface WrittenRun {
  topicId: number;
  segmentNo: number;
  firstSeq: number;
  /**
   * Entries of the run; 0 for a point record: entry `firstSeq` of the topic's run just published is a
   * sparse-index point at `startOffset` (docs/FORMAT.md §14.2), appended at `timeMs`.
   */
  count: number;
  startOffset: number;
  endOffset: number;
  /** Append time of the run's entries (one per write, docs/FORMAT.md §13.3). */
  timeMs: number;
}

export function createRunLog(capacityRecords = DEFAULT_RUN_LOG_RECORDS): SharedArrayBuffer {
  if (!Number.isInteger(capacityRecords) || capacityRecords < 1 || (capacityRecords & (capacityRecords - 1)) !== 0)
    throw new RangeError(`run log capacity must be a power of two, got ${capacityRecords}`);
  return new SharedArrayBuffer(HEADER_BYTES + capacityRecords * RECORD_FIELDS * 8);
}

class RunLogView {
  protected readonly cells: Int32Array;
  protected readonly records: Float64Array;
  protected readonly mask: number;

  constructor(buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.records = new Float64Array(buffer, HEADER_BYTES);
    this.mask = this.records.length / RECORD_FIELDS - 1;
  }
}

/** The writer's end. */
export class RunLogProducer extends RunLogView {
  /** Publishes one run; false (and OVERFLOWED raised) when the log is full. */
  publish(
    topicId: number,
    segmentNo: number,
    firstSeq: number,
    count: number,
    start: number,
    end: number,
    timeMs: number,
  ): boolean {
    const w = this.cells[WRITE_INDEX]!; // only this thread writes it
    if (((w - Atomics.load(this.cells, READ_INDEX)) | 0) > this.mask) {
      Atomics.store(this.cells, OVERFLOWED, 1);
      return false;
    }
    const at = (w & this.mask) * RECORD_FIELDS;
    const r = this.records;
    r[at + F_TOPIC] = topicId;
    r[at + F_SEGMENT_NO] = segmentNo;
    r[at + F_FIRST_SEQ] = firstSeq;
    r[at + F_COUNT] = count;
    r[at + F_START] = start;
    r[at + F_END] = end;
    r[at + F_TIME] = timeMs;
    // The store publishes the fields above (Atomics are sequentially consistent).
    Atomics.store(this.cells, WRITE_INDEX, (w + 1) | 0);
    return true;
  }

  /**
   * Publishes a run, then one point record (count 0) per sparse-index point the writer chose in it
   * (`points`: [offset, seq, timeMs] triples), so the main thread's index has the writer's points and
   * a `get` or `seek` walks at most an index interval. False once a record did not fit.
   */
  publishRun(
    topicId: number,
    segmentNo: number,
    firstSeq: number,
    count: number,
    start: number,
    end: number,
    timeMs: number,
    points: Float64Array,
  ): boolean {
    if (!this.publish(topicId, segmentNo, firstSeq, count, start, end, timeMs)) return false;
    for (let i = 0; i < points.length; i += 3) {
      const pointStart = points[i]!;
      if (!this.publish(topicId, segmentNo, points[i + 1]!, 0, pointStart, pointStart, points[i + 2]!)) return false;
    }
    return true;
  }

  /**
   * For a snapshot of every run (taken between writes): clears OVERFLOWED and returns the position
   * the snapshot covers — every record before it is in the snapshot, every later one is not.
   */
  beginSnapshot(): number {
    Atomics.store(this.cells, OVERFLOWED, 0);
    return this.cells[WRITE_INDEX]!;
  }
}

/** The main thread's end. */
export class RunLogConsumer extends RunLogView {
  /** Whether records were dropped: the consumer must resynchronise from a snapshot. */
  get overflowed(): boolean {
    return Atomics.load(this.cells, OVERFLOWED) !== 0;
  }

  /** Whether a record is waiting. */
  get pending(): boolean {
    return Atomics.load(this.cells, WRITE_INDEX) !== this.cells[READ_INDEX];
  }

  /**
   * Hands every published record to `apply` in order, then frees their slots; returns how many, or
   * -1 (nothing applied) once records were dropped: the caller resynchronises from a snapshot and
   * must not drain until it called `skipTo`.
   */
  drain(apply: (run: WrittenRun) => void): number {
    const w = Atomics.load(this.cells, WRITE_INDEX);
    // Loaded after the write index: a drop before any record counted in `w` is seen here, since
    // the flag is raised before the next record is published.
    if (this.overflowed) return -1;
    let r = this.cells[READ_INDEX]!; // only this thread writes it
    const n = (w - r) | 0;
    const run: WrittenRun = {
      topicId: 0,
      segmentNo: 0,
      firstSeq: 0,
      count: 0,
      startOffset: 0,
      endOffset: 0,
      timeMs: 0,
    };
    const f = this.records;
    for (; r !== w; r = (r + 1) | 0) {
      const at = (r & this.mask) * RECORD_FIELDS;
      run.topicId = f[at + F_TOPIC]!;
      run.segmentNo = f[at + F_SEGMENT_NO]!;
      run.firstSeq = f[at + F_FIRST_SEQ]!;
      run.count = f[at + F_COUNT]!;
      run.startOffset = f[at + F_START]!;
      run.endOffset = f[at + F_END]!;
      run.timeMs = f[at + F_TIME]!;
      apply(run);
    }
    Atomics.store(this.cells, READ_INDEX, w);
    return n;
  }

  /** A snapshot covering everything before `position` replaced the records: skip them. */
  skipTo(position: number): void {
    Atomics.store(this.cells, READ_INDEX, position);
  }
}
