/**
 * The shared-memory progress cells between the main thread, the writers and the flusher: who has
 * written what, what is durable, and the doorbells that wake each side. Every index lives here;
 * nobody else writes a numeric offset into this SharedArrayBuffer.
 *
 * Counters are uint32 values that only grow and wrap modulo 2^32 (compare them with
 * `reached`), so a long-running instance never overflows them and no BigInt is needed.
 */
import { waitForChange } from './wait.js';

export const MAIN_DOORBELL = 0; // bumped (and notified) by writers/flusher after publishing progress
export const FLUSHER_DOORBELL = 1; // bumped by writers ('each': every write; interval: every 8 MiB) and by sync()/close()
export const FATAL_CODE = 2; // 0, or a FATAL_* code once durability can no longer be promised
export const CURSOR_WRITTEN = 3; // cursor-log records written to the OS by the main thread
export const CURSOR_DURABLE = 4; // cursor-log records made durable by the flusher
export const CURSOR_LOG_GENERATION = 5; // generation of the cursor log the main thread writes to
export const SYNC_REQUESTS = 6; // sync() calls: the flusher runs a round as soon as this changes
export const FLUSHER_ROUNDS = 7; // completed flusher rounds
export const MAIN_WAITING = 8; // 1 while the main thread is parked on MAIN_DOORBELL
export const FLUSHER_WAITING = 9; // 1 while the flusher is parked on FLUSHER_DOORBELL
export const FLUSHER_CONTROL_CALLS = 10; // control calls posted to the flusher (it yields to its event loop when this moves)
const GLOBAL_CELLS = 16;

/** Per-writer cells, at `writerBase(w) + offset`. */
export const W_WRITTEN_OPS = 0; // ring ops fully processed (written to the OS, or failed and reported)
export const W_DURABLE_OPS = 1; // ring ops durable (published by the flusher)
export const W_SEGMENT_NO = 2; // number of the segment the writer appends to (-1 before the first)
export const W_ERROR_EPOCH = 3; // bumped before a failure report is posted (see completion.ts)
export const W_STATE = 4; // WRITER_RUNNING / WRITER_STOPPED
export const W_CONTROL_CALLS = 5; // control calls posted to the writer (a blocked writer yields to its event loop when this moves)
const WRITER_STRIDE = 8;

export const FATAL_NONE = 0;
export const FATAL_FSYNC_FAILED = 1;

export const WRITER_RUNNING = 1;
export const WRITER_STOPPED = 2;

export function writerBase(writerIndex: number): number {
  return GLOBAL_CELLS + writerIndex * WRITER_STRIDE;
}

export function createProgressCells(writers: number): Int32Array {
  const cells = new Int32Array(new SharedArrayBuffer((GLOBAL_CELLS + writers * WRITER_STRIDE) * 4));
  for (let w = 0; w < writers; w++) cells[writerBase(w) + W_SEGMENT_NO] = -1;
  return cells;
}

/** True when the wrapping counter `value` has reached `target` (valid while they are < 2^31 apart). */
export function reached(value: number, target: number): boolean {
  return ((value - target) | 0) >= 0;
}

/**
 * Increments a doorbell and wakes its thread if it is parked. Notifying a parked waitAsync costs a
 * task on the other thread (about 10% of a writer's time when done per write), so it is skipped
 * while the waiting flag is clear.
 */
export function ring(cells: Int32Array, doorbell: number, waitingFlag: number): void {
  // add-then-load, mirrored by the waiter's store-flag-then-compare in parkOnDoorbell: either the
  // waiter sees the new doorbell value (and does not park) or we see its flag (and notify).
  Atomics.add(cells, doorbell, 1);
  if (Atomics.load(cells, waitingFlag) !== 0) Atomics.notify(cells, doorbell);
}

/**
 * Blocks this thread (a worker's, never the main thread's) until the doorbell moves past `seen` or
 * `timeoutMs` passes: a futex wake, about a third of what waking a parked `waitAsync` costs (that
 * goes through the event loop), but nothing else runs on the thread meanwhile — its messages wait
 * until it yields (see FLUSHER_CONTROL_CALLS). Same flag protocol as parkOnDoorbell.
 */
export function blockOnDoorbell(
  cells: Int32Array,
  doorbell: number,
  waitingFlag: number,
  seen: number,
  timeoutMs: number,
): void {
  Atomics.store(cells, waitingFlag, 1);
  Atomics.wait(cells, doorbell, seen, timeoutMs);
  Atomics.store(cells, waitingFlag, 0);
}

/** Parks until the doorbell moves past `seen` (read before the caller last checked for work). */
export async function parkOnDoorbell(
  cells: Int32Array,
  doorbell: number,
  waitingFlag: number,
  seen: number,
  timeoutMs: number,
): Promise<void> {
  Atomics.store(cells, waitingFlag, 1);
  try {
    await waitForChange(cells, doorbell, seen, timeoutMs);
  } finally {
    Atomics.store(cells, waitingFlag, 0);
  }
}
