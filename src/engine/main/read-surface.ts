/**
 * The read and write calls of the WAL that the code built on top of it (subscription.ts,
 * src/streams.ts, src/jetstream/*) depends on: an interface, so none of them imports the `Walrus`
 * class (no import cycle through the facade) and tests can hand them a stand-in.
 */
import type { Entry } from './entry.js';
import type {
  AppendOptions,
  BatchReadOptions,
  ReadOptions,
  SubscribeOptions,
  WaitForWritesOptions,
  WalrusStats,
} from './public-types.js';

export interface ReadSurface {
  readNext(topic: string, options?: ReadOptions): Promise<Entry | null>;
  batchRead(topic: string, options: BatchReadOptions): Promise<Entry[]>;
  waitForWrites(topic: string, options?: WaitForWritesOptions): Promise<void>;
  subscribe(topic: string, options?: SubscribeOptions): AsyncIterable<Entry>;
  count(topic: string): Promise<number>;
  stats(): Promise<WalrusStats>;
}

/** The append calls (what a writable stream and replay need). */
export interface AppendSurface {
  append(topic: string, data: unknown, options?: AppendOptions): Promise<void>;
  batchAppend(topic: string, entries: unknown, options?: AppendOptions): Promise<void>;
}
