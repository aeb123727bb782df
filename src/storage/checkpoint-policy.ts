/**
 * When a checkpointed read must persist its cursor (docs/SEMANTICS.md rules 3–4). Strict mode
 * persists every advance; at-least-once persists once `persistEvery` entries were consumed
 * since the last persist, counting entries (not calls) on every read path, so a crash
 * redelivers at most `persistEvery` entries per topic.
 */
import { WalError } from '../errors.js';

export type ReadConsistency = 'strictly-at-once' | { atLeastOnce: { persistEvery: number } };

export const DEFAULT_READ_CONSISTENCY: ReadConsistency = 'strictly-at-once';

/** Validates a user-supplied read consistency; `persistEvery: 0` means 1, as in walrus. */
export function parseReadConsistency(value: unknown): ReadConsistency {
  if (value === undefined) return DEFAULT_READ_CONSISTENCY;
  if (value === 'strictly-at-once') return value;
  const persistEvery = (value as { atLeastOnce?: { persistEvery?: unknown } } | null)?.atLeastOnce?.persistEvery;
  if (typeof persistEvery !== 'number' || !Number.isSafeInteger(persistEvery) || persistEvery < 0) {
    throw WalError.invalidArgument(
      "readConsistency must be 'strictly-at-once' or { atLeastOnce: { persistEvery: n } } with an integer n >= 0",
    );
  }
  return { atLeastOnce: { persistEvery: Math.max(1, persistEvery) } };
}

export class CheckpointPolicy {
  readonly consistency: ReadConsistency;
  readonly #persistEvery: number;
  /** Entries consumed per topic since its cursor was last persisted (at-least-once only). */
  readonly #unpersisted = new Map<number, number>();

  constructor(consistency: unknown = DEFAULT_READ_CONSISTENCY) {
    this.consistency = parseReadConsistency(consistency);
    this.#persistEvery = this.consistency === 'strictly-at-once' ? 1 : this.consistency.atLeastOnce.persistEvery;
  }

  /** Records a checkpointed read of `entries` entries; true when the cursor must be persisted now. */
  recordCheckpoint(topicId: number, entries: number): boolean {
    if (entries <= 0) return false;
    if (this.#persistEvery === 1) return true; // strictly-at-once: every read, nothing to count
    const consumed = (this.#unpersisted.get(topicId) ?? 0) + entries;
    if (consumed >= this.#persistEvery) {
      this.#unpersisted.delete(topicId);
      return true;
    }
    this.#unpersisted.set(topicId, consumed);
    return false;
  }

  /** Topics whose cursor moved since it was last persisted: to persist at close. */
  pending(): number[] {
    return [...this.#unpersisted.keys()];
  }
}
