/**
 * The main thread's parts of an open WAL, built once from what open() recovered and started, and
 * wired to each other: the lifecycle, the progress watcher, the segment reads, the reclaimer, the
 * read path, the topic table, the consumer registry, random access and the durability barrier.
 * The facade (walrus.ts) holds them and delegates; the events they raise reach it through `hooks`.
 */
import type { ResolvedOptions } from '../../options.js';
import type { ConsumerHost } from './consumer.js';
import { ConsumerRegistry } from './consumer-registry.js';
import { DurabilityBarrier } from './durability-barrier.js';
import { Lifecycle } from './lifecycle.js';
import type { RecoveredNamespace } from './open-sequence.js';
import { ProgressWatcher } from './progress-watcher.js';
import type * as T from './public-types.js';
import { RandomAccess } from './random-access.js';
import { Reclaimer } from './reclaimer.js';
import { SegmentReads } from './segment-reads.js';
import { ReadPath } from './topic-reader.js';
import { TopicTable } from './topic-table.js';
import type { StartedWorkers } from './worker-startup.js';

/** What open() hands the facade: the recovered namespace and the started workers. */
export interface Started extends StartedWorkers, RecoveredNamespace {
  options: ResolvedOptions;
}

export interface MainThreadParts {
  lifecycle: Lifecycle;
  progress: ProgressWatcher;
  segments: SegmentReads;
  reclaimer: Reclaimer;
  reads: ReadPath;
  topics: TopicTable;
  registry: ConsumerRegistry;
  random: RandomAccess;
  consumerHost: ConsumerHost;
  barrier: DurabilityBarrier;
  /** Entries lost to retention limits, per consumer name ('' = the default consumer). */
  skipped: Map<string, number>;
}

export interface PartsHooks {
  reclaimed(report: { segments: number; bytes: number }): void;
  skipped(event: T.SkippedEvent): void;
  waitForWrites(topic: string, options?: T.WaitForWritesOptions): Promise<void>;
}

export function assembleParts(s: Started, hooks: PartsHooks): MainThreadParts {
  const { cells, channels, options } = s;
  const { epoch, cursors } = s.ns;
  const lifecycle = new Lifecycle(cells);
  const progress = new ProgressWatcher(cells, channels);
  const waitFor = (done: () => boolean): Promise<void> => {
    const failure = lifecycle.failure;
    return failure ? Promise.reject(failure) : progress.waitFor(done);
  };
  const segments = new SegmentReads({
    ...{ dir: options.namespaceDir, epoch, blockBytes: options.blockBytes, channels },
    recovered: s.recovery.topics,
    v1TimeMs: s.ns.manifest.v1TimeMs,
    unverified: s.recovery.summarizedPaths,
  });
  const skipped = new Map<string, number>();
  // Assigned below: the reclaimer and the read path call back into parts built after them.
  let topics: TopicTable | null = null;
  let registry: ConsumerRegistry | null = null;
  const reclaimer = new Reclaimer({
    ...{ epoch, cursors, cells, channels, lifecycle, flusher: s.flusher, segments: s.recovery.segments },
    forgetSegments: (paths) => segments.forgetSegments(paths),
    onReclaimed: (report) => hooks.reclaimed(report),
    retention: options.retention,
    dir: options.namespaceDir,
    onFirstSeqRaised: (topicId, firstSeq) => {
      const state = topics?.byId(topicId);
      if (state !== undefined && registry !== null)
        for (const reader of registry.readersOf(state)) reader.raiseFloor(firstSeq);
    },
    segmentMaxTimeMs: (path) => segments.segmentMaxTimeMs(path),
  });
  const reads = new ReadPath({
    ...{ cursors, segments, cells, lifecycle, waitFor, fsync: options.fsync },
    readConsistency: options.readConsistency,
    maxBatchEntries: options.maxBatchEntries,
    onCursorMoved: () => reclaimer.noteCursorMoved(),
    gaps: s.recovery.gaps,
    onSkipped: (consumerId, topic, fromSeq, toSeq) => {
      const consumer = registry?.nameOf(consumerId);
      if (consumer === undefined) return;
      skipped.set(consumer, (skipped.get(consumer) ?? 0) + (toSeq - fromSeq + 1));
      hooks.skipped({ consumer, topic, fromSeq, toSeq });
    },
  });
  const { topics: recovered, maxTopicId } = s.recovery;
  topics = new TopicTable({ channels, cursors, reads, recovered, maxTopicId });
  registry = new ConsumerRegistry({
    ...{ cursors, segments, reads, topics },
    persistSnapshot: () => reclaimer.persistCursorSnapshot(),
  });
  const random = new RandomAccess({ segments, registry, channels, reads });
  const table = topics;
  const consumerHost: ConsumerHost = {
    registry,
    checkUsable: () => lifecycle.checkUsable(),
    forRead: (topic) => table.forRead(topic),
    nextSeq: (state) => random.nextSeq(state),
    seqAtTime: (state, timeMs) => random.seqAtTime(state, timeMs),
    waitForWrites: (topic, o) => hooks.waitForWrites(topic, o),
  };
  const barrier = new DurabilityBarrier({ channels, cells, cursors, lifecycle, waitFor, fsync: options.fsync });
  return { lifecycle, progress, segments, reclaimer, reads, topics, registry, random, consumerHost, barrier, skipped };
}
