/**
 * Assembles `wal.stats()`. After a worker died every control call rejects, yet stats() must still
 * answer so `failed` can say why: figures the workers hold then fall back to what the main thread
 * and the shared cells know.
 */
import type { ResolvedOptions } from '../../options.js';
import { nodeFileIo } from '../../storage/file-io.js';
import type { NamespaceRecovery } from '../../storage/namespace-opening.js';
import { listSegmentSizes } from '../../storage/segment-name.js';
import { namedGaps } from '../../storage/seq-gaps.js';
import type { ControlClient, FlusherControl } from '../shared/control-protocol.js';
import type { LatencyStats } from '../shared/latency-stats.js';
import type { Lifecycle } from './lifecycle.js';
import type { ConsumerStats, RecoveryReport, TopicStats, WalrusStats } from './public-types.js';
import type { Reclaimer } from './reclaimer.js';
import type { ReadPath } from './topic-reader.js';
import type { WriterChannel } from './writer-channel.js';

/** What open found, as `stats().recovery` and the 'recovered' event report it. */
export function recoveryReport(recovery: NamespaceRecovery, durationMs: number): RecoveryReport {
  const { damage, scannedBytes, skippedFiles, summarizedPaths, summarizedBytes, distrusted, cleanShutdown } = recovery;
  return {
    ...{ damage, scannedBytes, skippedFiles, summarizedFiles: summarizedPaths.size, summarizedBytes },
    ...{ distrustedSummaries: distrusted, cleanShutdown, durationMs },
    gaps: namedGaps(recovery.topics, recovery.gaps),
  };
}

/** What stats() reads a topic's figures from. */
export interface StatsTopic {
  readonly id: number;
  readonly name: string;
  readonly writer: number;
  readonly reader: { readonly cursor: number };
}

export interface StatsSources {
  readonly options: ResolvedOptions;
  readonly epoch: number;
  readonly lifecycle: Lifecycle;
  readonly channels: readonly WriterChannel[];
  readonly flusher: ControlClient<FlusherControl>;
  readonly topics: Iterable<StatsTopic>;
  readonly recovery: RecoveryReport;
  readonly reclaimer: Reclaimer;
  readonly reads: ReadPath;
  readonly appendLatency: LatencyStats;
  /** Every consumer (the default one named ''), with its position on a topic. */
  readonly consumers?: ReadonlyArray<{ name: string; skipped: number; position(topic: StatsTopic): number }>;
}

export async function assembleStats(src: StatsSources): Promise<WalrusStats> {
  const { lifecycle, channels } = src;
  const ask = <T>(call: () => Promise<T>, fallback: () => T): Promise<T> =>
    lifecycle.failure ? call().catch(fallback) : call();
  const writers = await Promise.all(
    channels.map(async (c) => ({
      ...(await ask(
        () => c.control.call('stats'),
        () => ({
          writerIndex: c.writerIndex,
          writtenOps: c.writtenOps() >>> 0,
          bytesWritten: 0,
          commits: 0,
          segment: null,
          topics: 0,
        }),
      )),
      ringUsedBytes: c.ringUsedBytes,
    })),
  );
  const byWriter = new Map<number, StatsTopic[]>();
  for (const t of src.topics) {
    const list = byWriter.get(t.writer) ?? [];
    list.push(t);
    byWriter.set(t.writer, list);
  }
  // Null prototype: a topic named `__proto__` (or `constructor`) must be an own key like any other.
  const topics = Object.create(null) as Record<string, TopicStats>;
  const consumers = Object.create(null) as Record<string, ConsumerStats>;
  for (const c of src.consumers ?? [])
    consumers[c.name] = { topics: Object.create(null) as ConsumerStats['topics'], skipped: c.skipped };
  for (const [w, list] of byWriter) {
    const seqs = await ask(
      () =>
        channels[w]!.control.call(
          'nextSeqs',
          list.map((t) => t.id),
        ),
      () => list.map(() => 0),
    );
    list.forEach((t, i) => {
      const appended = Math.max(seqs[i]!, t.reader.cursor);
      topics[t.name] = {
        appended,
        consumed: t.reader.cursor,
        unread: src.reads.unread(t.id, t.reader.cursor, appended),
      };
      for (const c of src.consumers ?? []) {
        const position = c.position(t);
        consumers[c.name]!.topics[t.name] = { position, lag: src.reads.unread(t.id, position, appended) };
      }
    });
  }
  return {
    dir: src.options.namespaceDir,
    epoch: src.epoch,
    fsync: src.options.fsync,
    readConsistency: src.options.readConsistency,
    writers,
    topics,
    recovery: src.recovery,
    reclaimedSegments: src.reclaimer.reclaimedSegments,
    reclaimedBytes: src.reclaimer.reclaimedBytes,
    bytesRead: src.reads.bytesRead,
    appendLatency: src.appendLatency.summary(),
    flusher: await ask(
      () => src.flusher.call('stats'),
      () => ({
        rounds: 0,
        fsyncs: 0,
        fsyncLatency: { count: 0, p50Us: 0, p99Us: 0, maxUs: 0 },
        failed: lifecycle.fsyncFailed,
      }),
    ),
    segments: segmentFiles(src.options.namespaceDir),
    failed: lifecycle.failure?.code ?? (lifecycle.fsyncFailed ? 'ERR_FSYNC_FAILED' : null),
    consumers,
  };
}

function segmentFiles(dir: string): { files: number; bytes: number } {
  const files = listSegmentSizes(nodeFileIo, dir);
  return { files: files.length, bytes: files.reduce((n, f) => n + f.sizeBytes, 0) };
}
