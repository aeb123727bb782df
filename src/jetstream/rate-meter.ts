/**
 * Entries per second over a sliding window of recent samples of a running total: what
 * `mirror().stats().publishedPerSec` reports (a rate of the last few seconds, not a lifetime average
 * that would hide a stall).
 */
const RATE_WINDOW_MS = 5_000;

export class RateMeter {
  readonly #samples: Array<{ atMs: number; total: number }> = [];

  record(total: number, atMs = Date.now()): void {
    this.#samples.push({ atMs, total });
    while (this.#samples.length > 2 && atMs - this.#samples[0]!.atMs > RATE_WINDOW_MS) this.#samples.shift();
  }

  perSecond(nowMs = Date.now()): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || first === last) return 0;
    // Measured up to now, so a mirror that stopped publishing decays to 0 instead of freezing.
    const spanMs = Math.max(nowMs, last.atMs) - first.atMs;
    if (nowMs - last.atMs > RATE_WINDOW_MS) return 0;
    return spanMs > 0 ? ((last.total - first.total) * 1000) / spanMs : 0;
  }
}
