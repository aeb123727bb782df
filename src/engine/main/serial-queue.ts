/**
 * Runs async jobs one at a time, in call order. A job that fails does not stop the ones after it.
 * Used where two operations must not interleave: reads of one topic (so concurrent consumers each
 * get an entry once), and verify() against reclaim() (so an audit never opens a file that a reclaim
 * just deleted).
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #queued = 0;

  /** Runs `fn` after every job queued before it. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.#queued++;
    const run = this.#tail.then(fn, fn);
    const settled = run.then(
      () => {
        this.#queued--;
      },
      () => {
        this.#queued--;
      },
    );
    this.#tail = settled;
    return run;
  }

  /** A job is queued or running: a new one would wait. */
  get busy(): boolean {
    return this.#queued > 0;
  }
}
