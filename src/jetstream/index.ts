/**
 * walrus-ts/jetstream: mirror topics into a NATS JetStream stream, exactly once within the stream's
 * duplicate window, and restore them from it (docs/SCALE-OUT.md).
 *
 *   import { mirror, replay } from 'walrus-ts/jetstream';
 *
 * A separate entry point so the core package never loads the NATS client: `@nats-io/jetstream`
 * and `@nats-io/transport-node` are optional peer dependencies, needed only by this module.
 */
export { mirror } from './mirror.js';
export type {
  Mirror,
  MirrorOptions,
  MirrorStats,
  MirrorTopicStats,
  MirrorStreamOptions,
  MirrorWal,
} from './mirror-options.js';
export { replay } from './replay.js';
export type { ReplayOptions, ReplayReport, ReplayTopicReport, ReplayWal } from './replay.js';
export type { ConnectionOptions } from './connection.js';
export {
  messageId,
  defaultSubject,
  MESSAGE_ID_VERSION,
  HEADER_CODEC,
  HEADER_NAMESPACE,
  HEADER_SEQ,
  HEADER_TOPIC,
} from './message-id.js';
