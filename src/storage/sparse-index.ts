/**
 * The sparse index of a run (docs/FORMAT.md §14.2): which of a run's entry frames are points, and
 * finding the point to start from. One rule for the writer (which picks points as it stages
 * entries) and the scanner (as it reads frames), so both choose the same points:
 *
 * - a run's first entry is a point;
 * - a later entry at offset o is a point when o − (the offset of the run's previous point) ≥
 *   `indexIntervalBytes`.
 *
 * So every entry of a run lies less than one interval after the greatest point at or before it, and
 * a reader that starts at the greatest point whose seq is at most s walks at most an interval (plus
 * the frames it returns) to entry s. Points are flat triples [offset, seq, timeMs] in a Float64Array:
 * no object per point, and a structured clone (the scan pool) keeps them as they are.
 */

export const POINT_FIELDS = 3;

/** Points of one run, grown as its entries are offered in file order. */
export class SparsePointsBuilder {
  readonly intervalBytes: number;
  #data: Float64Array;
  #count = 0;

  constructor(intervalBytes: number, initialPoints = 4) {
    this.intervalBytes = intervalBytes;
    this.#data = new Float64Array(initialPoints * POINT_FIELDS);
  }

  /**
   * Points already chosen (a scan's, a summary's), adopted without copying: open indexes every
   * retained run, so a copy per point would cost time in proportion to the log. A later push
   * grows into a new array; the adopted one is never written.
   */
  static adopt(intervalBytes: number, points: Float64Array): SparsePointsBuilder {
    const builder = new SparsePointsBuilder(intervalBytes, 0);
    builder.#data = points;
    builder.#count = Math.floor(points.length / POINT_FIELDS);
    return builder;
  }

  get count(): number {
    return this.#count;
  }

  /** Whether an entry at `offset`, after every entry offered so far, is a point. */
  isPoint(offset: number): boolean {
    return this.#count === 0 || offset - this.#data[(this.#count - 1) * POINT_FIELDS]! >= this.intervalBytes;
  }

  /** Offers the run's next entry; it becomes a point if the rule says so. */
  offer(offset: number, seq: number, timeMs: number): void {
    if (this.isPoint(offset)) this.push(offset, seq, timeMs);
  }

  /** Adds a point the caller already decided on (isPoint). */
  push(offset: number, seq: number, timeMs: number): void {
    let data = this.#data;
    const at = this.#count * POINT_FIELDS;
    if (at + POINT_FIELDS > data.length) {
      data = new Float64Array(Math.max(data.length * 2, POINT_FIELDS * 4));
      data.set(this.#data);
      this.#data = data;
    }
    data[at] = offset;
    data[at + 1] = seq;
    data[at + 2] = timeMs;
    this.#count++;
  }

  /** Forgets the points after the first `count` (a dropped batch, a rolled-back write). */
  truncate(count: number): void {
    if (count < this.#count) this.#count = Math.max(0, count);
  }

  /** The points so far, without copying: valid until the next push (`count` points). */
  toArrayView(): Float64Array {
    return this.#data;
  }

  /** Offset of the last point, or -1 when there is none. */
  get lastOffset(): number {
    return this.#count === 0 ? -1 : this.#data[(this.#count - 1) * POINT_FIELDS]!;
  }

  /** The points so far, as a compact copy. */
  toArray(): Float64Array {
    return this.#data.slice(0, this.#count * POINT_FIELDS);
  }
}

/** Number of points in a flat triple array. */
export function pointCount(points: Float64Array): number {
  return points.length / POINT_FIELDS;
}

export function pointOffset(points: Float64Array, i: number): number {
  return points[i * POINT_FIELDS]!;
}

export function pointSeq(points: Float64Array, i: number): number {
  return points[i * POINT_FIELDS + 1]!;
}

export function pointTime(points: Float64Array, i: number): number {
  return points[i * POINT_FIELDS + 2]!;
}

/** Index of the greatest point whose seq is at most `seq`, or -1 (`stride`: fields per point). */
export function floorPointBySeq(points: ArrayLike<number>, count: number, seq: number, stride = POINT_FIELDS): number {
  let lo = 0;
  let hi = count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid * stride + 1]! <= seq) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/**
 * Index of the greatest point whose time is below `timeMs`, or -1: the first entry whose time is at
 * least `timeMs` lies after it (times are non-decreasing in a run's file order, FORMAT §13.3).
 */
export function lastPointBeforeTime(points: Float64Array, timeMs: number, count = pointCount(points)): number {
  let lo = 0;
  let hi = count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (pointTime(points, mid) < timeMs) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** The points of entries with seq below `endSeq` (a run cut back by recovery or a fence). */
export function pointsBelowSeq(points: Float64Array, endSeq: number): Float64Array {
  const keep = floorPointBySeq(points, pointCount(points), endSeq - 1) + 1;
  return keep === pointCount(points) ? points : points.slice(0, keep * POINT_FIELDS);
}
