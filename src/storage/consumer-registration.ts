/**
 * Registering a named consumer (docs/SEMANTICS.md rule D19, docs/FORMAT.md §18.1), shared by the
 * engine's ConsumerRegistry and the synchronous LogStore so both accept the same options and start
 * a new consumer at the same place. Each owner makes the registration durable its own way (the
 * engine through the flusher, LogStore with a snapshot before returning).
 */
import { WalError } from '../errors.js';
import type { CursorStore } from './cursor-store.js';
import { checkConsumerName, describeArgument } from './limits.js';

export type StartAt = 'earliest' | 'latest';

export interface ConsumerOptions {
  /** Where a newly registered consumer starts on every existing topic (default 'earliest'). */
  startAt?: StartAt;
}

/** Where a consumer starts on a topic: the topic's first retained entry and its next seq now. */
export interface TopicBounds {
  firstRetained(topicId: number): number;
  end(topicId: number): number;
}

export function checkConsumerOptions(options: unknown): StartAt {
  if (options === undefined) return 'earliest';
  if (typeof options !== 'object' || options === null)
    throw WalError.invalidArgument(`consumer options must be an object, got ${describeArgument(options)}`);
  const startAt = (options as { startAt?: unknown }).startAt;
  if (startAt === undefined) return 'earliest';
  if (startAt !== 'earliest' && startAt !== 'latest')
    throw WalError.invalidArgument(`startAt must be 'earliest' or 'latest', got ${describeArgument(startAt)}`);
  return startAt;
}

/**
 * The id of consumer `name`, registering it in memory (not durably yet) when it does not exist,
 * with a position on every topic of `topicIds`. Throws ERR_INVALID_ARGUMENT on a bad name or
 * options, whether or not the name exists (a rejected call changes nothing, rule F1).
 */
export function registerConsumerByName(
  cursors: CursorStore,
  name: unknown,
  options: unknown,
  topicIds: Iterable<number>,
  bounds: TopicBounds,
): { id: number; registered: boolean } {
  const checked = checkConsumerName(name);
  const startAt = checkConsumerOptions(options);
  const known = cursors.consumerId(checked);
  if (known !== undefined) return { id: known, registered: false };
  const positions = new Map<number, number>();
  for (const topicId of topicIds) {
    const at = startAt === 'latest' ? bounds.end(topicId) : bounds.firstRetained(topicId);
    positions.set(topicId, Math.max(at, cursors.firstSeq(topicId)));
  }
  return { id: cursors.registerConsumer(checked, positions), registered: true };
}
