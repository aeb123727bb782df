/**
 * The append time of a partition's entries (docs/FORMAT.md §13.3): one reading of the wall clock
 * per commit round (never per entry), kept non-decreasing — a round's time is max(now, the last
 * time), so a clock stepped back pins entries at the last time until it passes it again. A writer
 * starts at the floor recovery found (the largest time of any retained entry), so times also never
 * decrease across a reopen, whichever writer a topic moves to.
 */
import { WalError } from '../errors.js';
import { MAX_TIME_MS } from './frame.js';

export type WallClock = () => number;

export class AppendClock {
  readonly #now: WallClock;
  #lastTimeMs: number;
  /** How far the wall clock was below the floor at the last round (0 when it was not). */
  #behindMs = 0;

  constructor(floorMs = 0, now: WallClock = Date.now) {
    if (!Number.isSafeInteger(floorMs) || floorMs < 0 || floorMs > MAX_TIME_MS)
      throw WalError.invalidArgument(`invalid time floor ${floorMs}`);
    this.#lastTimeMs = floorMs;
    this.#now = now;
  }

  /** The time of a new round: read the clock once, never below the last round's. */
  next(): number {
    const raw = Math.floor(this.#now());
    // A clock that reads NaN or beyond 2^53 (a test, a broken host) must not produce a time no frame may carry.
    const now = Number.isFinite(raw) ? Math.min(Math.max(raw, 0), MAX_TIME_MS) : this.#lastTimeMs;
    this.#behindMs = now < this.#lastTimeMs ? this.#lastTimeMs - now : 0;
    if (now > this.#lastTimeMs) this.#lastTimeMs = now;
    return this.#lastTimeMs;
  }

  /** The time of the last round (the floor before the first). */
  get lastTimeMs(): number {
    return this.#lastTimeMs;
  }

  /** By how much the wall clock read below the last time at the last round (`stats().clock.behindMs`). */
  get behindMs(): number {
    return this.#behindMs;
  }
}
