/**
 * walrus-ts: a topic-based write-ahead log for Node.js.
 *
 *   import { Walrus, WalError } from 'walrus-ts';
 */
export { Walrus, Entry, Consumer } from './engine/main/walrus.js';
export type {
  ReadOptions,
  BatchReadOptions,
  AppendOptions,
  WalrusStats,
  TopicStats,
  VerifyReport,
  ConsumerOptions,
  ConsumerStats,
  ConsumerTopicStats,
  Offsets,
  SeekTarget,
  SkippedEvent,
  StartAt,
} from './engine/main/walrus.js';
export { WalError } from './errors.js';
export type { WalErrorCode, WalErrorDetails } from './errors.js';
export type { WalrusOptions, FsyncMode, ReadConsistency, EntryCodec } from './options.js';
export { sanitizeKey } from './storage/namespace.js';
export type { SubscribeOptions } from './engine/main/subscription.js';
export { topicReadable, topicWritable } from './streams.js';
export type { TopicReadableOptions, TopicWritableOptions } from './streams.js';
