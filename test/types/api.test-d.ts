/**
 * Type tests of the public API as shipped (the declarations in dist/), run by vitest's typecheck
 * mode (and by `npm run typecheck`). A change to a signature users rely on fails here.
 */
import type { Readable, Writable } from 'node:stream';
import { describe, expectTypeOf, it } from 'vitest';
import {
  Consumer,
  Entry,
  WalError,
  Walrus,
  sanitizeKey,
  topicReadable,
  topicWritable,
  type AppendOptions,
  type BatchReadOptions,
  type EntryCodec,
  type FsyncMode,
  type ReadConsistency,
  type ReadOptions,
  type SubscribeOptions,
  type TopicReadableOptions,
  type TopicStats,
  type TopicWritableOptions,
  type WalErrorCode,
  type WalErrorDetails,
  type WalrusOptions,
  type WalrusStats,
  type Offsets,
  type SeekTarget,
  type SkippedEvent,
  type ConsumerStats,
} from '../../dist/src/index.js';

declare const wal: Walrus;

describe('Walrus.open', () => {
  it('takes optional WalrusOptions and resolves to a Walrus', () => {
    expectTypeOf(Walrus.open).parameters.toEqualTypeOf<[options?: WalrusOptions]>();
    expectTypeOf(Walrus.open).returns.toEqualTypeOf<Promise<Walrus>>();
    expectTypeOf(Walrus.open).toBeCallableWith();
    expectTypeOf(Walrus.open).toBeCallableWith({
      dir: './data',
      key: 'orders',
      readConsistency: { atLeastOnce: { persistEvery: 10 } },
      fsync: { intervalMs: 50 },
      writers: 2,
      ringBytes: 1 << 20,
      segmentBytes: 1 << 26,
      blockBytes: 1 << 20,
      maxEntryBytes: 1 << 26,
      maxBatchEntries: 2000,
      codec: 'msgpack',
      groupAccess: true,
    });
  });

  it('has exactly the documented options, all optional', () => {
    expectTypeOf<keyof WalrusOptions>().toEqualTypeOf<
      | 'dir'
      | 'key'
      | 'readConsistency'
      | 'fsync'
      | 'writers'
      | 'ringBytes'
      | 'segmentBytes'
      | 'blockBytes'
      | 'maxEntryBytes'
      | 'maxBatchEntries'
      | 'codec'
      | 'groupAccess'
      | 'retention'
    >();
    // Every option is optional: the empty object type is exactly what is being tested.
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    expectTypeOf<{}>().toExtend<WalrusOptions>();
    expectTypeOf<FsyncMode>().toEqualTypeOf<'each' | 'none' | { intervalMs: number }>();
    expectTypeOf<ReadConsistency>().toEqualTypeOf<'strictly-at-once' | { atLeastOnce: { persistEvery: number } }>();
    expectTypeOf<EntryCodec>().toEqualTypeOf<'raw' | 'msgpack'>();
    // @ts-expect-error not an fsync mode
    void Walrus.open({ fsync: 'sometimes' });
    // @ts-expect-error unknown option
    void Walrus.open({ directory: './data' });
  });
});

describe('writing', () => {
  it('append / batchAppend take any data (checked at runtime: bytes, strings, or values with msgpack) and resolve to void', () => {
    expectTypeOf(wal.append).toBeCallableWith('t', new Uint8Array(1));
    expectTypeOf(wal.append).toBeCallableWith('t', Buffer.from('x'));
    expectTypeOf(wal.append).toBeCallableWith('t', 'text', { codec: 'raw' });
    expectTypeOf(wal.append).toBeCallableWith('t', { any: 'value' }, { codec: 'msgpack' });
    expectTypeOf(wal.append).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf(wal.batchAppend).toBeCallableWith('t', ['a', new Uint8Array(2)]);
    expectTypeOf(wal.batchAppend).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<AppendOptions>().toEqualTypeOf<{ codec?: EntryCodec }>();
    // @ts-expect-error the topic is a string
    void wal.append(1, 'x');
    // @ts-expect-error not a codec
    void wal.append('t', 'x', { codec: 'json' });
  });

  it("write returns a boolean, flush resolves to void, 'drain' and 'error' are typed events", () => {
    expectTypeOf(wal.write).toBeCallableWith('t', 'text', { codec: 'raw' });
    expectTypeOf(wal.write).returns.toEqualTypeOf<boolean>();
    expectTypeOf(wal.flush).returns.toEqualTypeOf<Promise<void>>();
    wal.once('drain', () => undefined);
    wal.on('error', (err) => expectTypeOf(err).toEqualTypeOf<WalError>());
    // @ts-expect-error the topic is a string
    wal.write(1, 'x');
  });
});

describe('reading', () => {
  it('readNext resolves to an Entry or null; batchRead needs maxBytes and resolves to Entry[]', () => {
    expectTypeOf(wal.readNext).returns.toEqualTypeOf<Promise<Entry | null>>();
    expectTypeOf(wal.readNext).toBeCallableWith('t', { checkpoint: false });
    expectTypeOf(wal.batchRead).returns.toEqualTypeOf<Promise<Entry[]>>();
    expectTypeOf<BatchReadOptions>().toEqualTypeOf<{ maxBytes: number; checkpoint?: boolean }>();
    expectTypeOf<ReadOptions>().toEqualTypeOf<{ checkpoint?: boolean }>();
    // @ts-expect-error batchRead needs { maxBytes }
    void wal.batchRead('t');
    // @ts-expect-error checkpoint is a boolean
    void wal.readNext('t', { checkpoint: 'yes' });
  });

  it('Entry: topic, seq, data bytes, codec, text(), decoded value', () => {
    expectTypeOf<Entry['topic']>().toEqualTypeOf<string>();
    expectTypeOf<Entry['seq']>().toEqualTypeOf<number>();
    expectTypeOf<Entry['data']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<Entry['codec']>().toEqualTypeOf<'raw' | 'msgpack'>();
    expectTypeOf<Entry['text']>().toEqualTypeOf<() => string>();
    expectTypeOf<Entry['value']>().toEqualTypeOf<unknown>();
    expectTypeOf<Entry>().toHaveProperty('seq').toBeNumber();
  });

  it('subscribe is an AsyncIterable<Entry> with { signal, checkpoint, maxBytes }', () => {
    expectTypeOf(wal.subscribe).returns.toEqualTypeOf<AsyncIterable<Entry>>();
    expectTypeOf(wal.subscribe).toBeCallableWith('t');
    expectTypeOf(wal.subscribe).toBeCallableWith('t', {
      signal: AbortSignal.timeout(1000),
      checkpoint: false,
      maxBytes: 4096,
    });
    expectTypeOf<SubscribeOptions>().toEqualTypeOf<{ signal?: AbortSignal; checkpoint?: boolean; maxBytes?: number }>();
    // @ts-expect-error signal is an AbortSignal
    void wal.subscribe('t', { signal: new AbortController() });
  });
});

describe('queries and lifecycle', () => {
  it('count, topics, stats, sync, reclaim, close, async dispose', () => {
    expectTypeOf(wal.count).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf(wal.topics).returns.toEqualTypeOf<Promise<string[]>>();
    expectTypeOf(wal.stats).returns.toEqualTypeOf<Promise<WalrusStats>>();
    expectTypeOf(wal.sync).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf(wal.reclaim).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf(wal.close).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf(wal[Symbol.asyncDispose]).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf(wal).toExtend<AsyncDisposable>();
  });

  it('stats: per-topic figures, recovery damage, failure state', () => {
    expectTypeOf<WalrusStats['topics']>().toEqualTypeOf<Record<string, TopicStats>>();
    // Properties, not whole types: the figures may grow (more counters) without breaking anyone.
    expectTypeOf<TopicStats>().toHaveProperty('appended').toEqualTypeOf<number>();
    expectTypeOf<TopicStats>().toHaveProperty('consumed').toEqualTypeOf<number>();
    expectTypeOf<TopicStats>().toHaveProperty('unread').toEqualTypeOf<number>();
    expectTypeOf<WalrusStats>().toHaveProperty('dir').toEqualTypeOf<string>();
    expectTypeOf<WalrusStats>().toHaveProperty('epoch').toEqualTypeOf<number>();
    expectTypeOf<WalrusStats>().toHaveProperty('fsync').toEqualTypeOf<FsyncMode>();
    expectTypeOf<WalrusStats>().toHaveProperty('readConsistency').toEqualTypeOf<ReadConsistency>();
    expectTypeOf<WalrusStats>().toHaveProperty('reclaimedSegments').toEqualTypeOf<number>();
    expectTypeOf<WalrusStats['recovery']['damage']>().toBeArray();
    expectTypeOf<WalrusStats['writers']>().toBeArray();
    expectTypeOf<WalrusStats['failed']>().toEqualTypeOf<string | null>();
  });
});

describe('errors', () => {
  it('WalError has a closed union of stable codes and typed details', () => {
    expectTypeOf<WalErrorCode>().toEqualTypeOf<
      | 'ERR_INVALID_ARGUMENT'
      | 'ERR_TOO_LARGE'
      | 'ERR_CLOSED'
      | 'ERR_LOCKED'
      | 'ERR_CORRUPT'
      | 'ERR_UNSUPPORTED_FORMAT'
      | 'ERR_DISK_FULL'
      | 'ERR_IO'
      | 'ERR_FSYNC_FAILED'
      | 'ERR_WORKER_FAILED'
      | 'ERR_CONFLICT'
      | 'ERR_SEQUENCE_GAP'
    >();
    expectTypeOf<WalError>().toExtend<Error>();
    expectTypeOf<WalError['code']>().toEqualTypeOf<WalErrorCode>();
    expectTypeOf<WalError['details']>().toEqualTypeOf<WalErrorDetails>();
    expectTypeOf<WalErrorDetails>().toEqualTypeOf<{
      topic?: string;
      path?: string;
      offset?: number;
      errno?: string;
      syscall?: string;
      limit?: number;
      actual?: number;
      expectedSeq?: number;
      stream?: string;
    }>();
  });

  it('narrows with instanceof', () => {
    const err: unknown = null;
    if (err instanceof WalError) expectTypeOf(err.code).toEqualTypeOf<WalErrorCode>();
  });
});

describe('stream helpers', () => {
  it('topicReadable → Readable of entries, topicWritable → Writable', () => {
    expectTypeOf(topicReadable).returns.toEqualTypeOf<Readable>();
    expectTypeOf(topicWritable).returns.toEqualTypeOf<Writable>();
    expectTypeOf(topicReadable).toBeCallableWith(wal, 't');
    expectTypeOf(topicReadable).toBeCallableWith(wal, 't', {
      signal: AbortSignal.abort(),
      checkpoint: true,
      maxBytes: 1,
      highWaterMark: 8,
    });
    expectTypeOf(topicWritable).toBeCallableWith(wal, 't', {
      codec: 'msgpack',
      highWaterMark: 8,
      signal: AbortSignal.abort(),
    });
    expectTypeOf<TopicReadableOptions>().toExtend<SubscribeOptions>();
    expectTypeOf<TopicWritableOptions>().toEqualTypeOf<{
      codec?: EntryCodec;
      highWaterMark?: number;
      signal?: AbortSignal;
    }>();
    // @ts-expect-error the first argument is a Walrus
    void topicWritable({}, 't');
  });

  it('sanitizeKey maps a namespace key to its directory name', () => {
    expectTypeOf(sanitizeKey).toEqualTypeOf<(key: string) => string>();
  });

  it('named consumers, get, offsets and retention (docs/SEMANTICS.md rules D19–D22)', () => {
    expectTypeOf(wal.consumer).toBeCallableWith('indexer');
    expectTypeOf(wal.consumer).toBeCallableWith('indexer', { startAt: 'latest' });
    expectTypeOf(wal.consumer('x')).toEqualTypeOf<Consumer>();
    expectTypeOf(wal.consumers()).toEqualTypeOf<Promise<string[]>>();
    const c = wal.consumer('x');
    expectTypeOf(c.readNext('t')).toEqualTypeOf<Promise<Entry | null>>();
    expectTypeOf(c.batchRead('t', { maxBytes: 1 })).toEqualTypeOf<Promise<Entry[]>>();
    expectTypeOf(c.subscribe('t')).toEqualTypeOf<AsyncIterable<Entry>>();
    expectTypeOf(c.count('t')).toEqualTypeOf<Promise<number>>();
    expectTypeOf(c.seek).toBeCallableWith('t', { seq: 3 });
    expectTypeOf(c.seek).toBeCallableWith('t', { timeMs: 3 });
    expectTypeOf(c.seek).toBeCallableWith('t', 'earliest');
    expectTypeOf(c.seek).toBeCallableWith('t', 'latest');
    expectTypeOf<SeekTarget>().toEqualTypeOf<{ seq: number } | { timeMs: number } | 'earliest' | 'latest'>();
    expectTypeOf(c.delete()).toEqualTypeOf<Promise<void>>();
    expectTypeOf(topicReadable).toBeCallableWith(c, 't');
    expectTypeOf(wal.get('t', 0)).toEqualTypeOf<Promise<Entry | null>>();
    expectTypeOf(wal.offsets('t')).toEqualTypeOf<Promise<Offsets>>();
    expectTypeOf<Offsets>().toEqualTypeOf<{ first: number; next: number }>();
    expectTypeOf<SkippedEvent>().toEqualTypeOf<{ consumer: string; topic: string; fromSeq: number; toSeq: number }>();
    expectTypeOf<WalrusStats['consumers']>().toEqualTypeOf<Record<string, ConsumerStats>>();
    expectTypeOf(Walrus.open).toBeCallableWith({ retention: { maxBytes: 1, maxAgeMs: 1, keepConsumed: true } });
    wal.on('skipped', (e) => expectTypeOf(e).toEqualTypeOf<SkippedEvent>());
  });
});
