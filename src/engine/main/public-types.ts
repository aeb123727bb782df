/**
 * The types of the public facade (`Walrus`) that callers name: options of its calls, its reports
 * and its events. Kept apart from the class so a reader of the facade sees behaviour, not shapes.
 */
import type { EntryCodec, ResolvedOptions } from '../../options.js';
import type { WalError } from '../../errors.js';
import type { RecoveryResult } from '../../storage/recover.js';
import type { FlusherStats, WriterStats } from '../shared/control-protocol.js';
import type { LatencySummary } from '../shared/latency-stats.js';

export interface ReadOptions {
  /** false = peek: the cursor does not move. Default true. */
  checkpoint?: boolean;
}

export interface BatchReadOptions extends ReadOptions {
  /** Payload byte budget (at least one entry is returned even if it is larger). */
  maxBytes: number;
}

export interface AppendOptions {
  /** Override the instance's codec for this call. */
  codec?: EntryCodec;
}

export interface SubscribeOptions {
  /** Ends the iteration (cleanly: it returns, it does not throw). */
  signal?: AbortSignal;
  /**
   * true (default): entries are consumed (the cursor moves, per the read consistency mode) a batch
   * at a time, when the batch is read: leaving the loop early drops the rest of that batch (an
   * abort does not: the batch is yielded to its end first). Competing subscribers of one topic
   * share its entries. false: observe without consuming: every entry from the cursor on, in
   * order; entries other readers consume before this follower reaches them are skipped.
   */
  checkpoint?: boolean;
  /**
   * Payload bytes per batch read (at least one entry per batch; with `checkpoint: true`, `1` = one
   * entry per read, so nothing is taken before it is yielded). Default 64 KiB.
   */
  maxBytes?: number;
}

export interface WaitForWritesOptions {
  /** Ends the wait early (it resolves, it does not reject). */
  signal?: AbortSignal;
  /** Ends the wait after this many milliseconds (it resolves). */
  timeoutMs?: number;
}

export interface VerifyReport {
  ok: boolean;
  files: number;
  bytes: number;
  damage: RecoveryResult['damage'];
}

export interface TopicStats {
  appended: number;
  consumed: number;
  unread: number;
}

export interface RecoveryReport {
  damage: RecoveryResult['damage'];
  /** Bytes of the segments open scanned (those without a trusted summary). */
  scannedBytes: number;
  skippedFiles: string[];
  /** Segments open took from their summaries instead of scanning (docs/FORMAT.md §15.4), and their bytes. */
  summarizedFiles: number;
  summarizedBytes: number;
  /** Segments that had a summary open did not trust, and why (they were scanned). */
  distrustedSummaries: Array<{ path: string; why: string }>;
  /**
   * The last close's clean-shutdown record (docs/FORMAT.md §16): `found` when the last open of this
   * directory ended in a clean close, `matched` when the directory is still exactly what it left,
   * else `why` says what differs.
   */
  cleanShutdown: { found: boolean; matched: boolean; why?: string };
  /**
   * Seqs [fromSeq, toSeq) of a topic some consumer had read past and a power cut took (fsync other
   * than 'each'; docs/FORMAT.md §7.3): every such gap still recorded. Consumers behind one skip it
   * with a 'skipped' event.
   */
  gaps: Array<{ topic: string; fromSeq: number; toSeq: number }>;
  durationMs: number;
}

export type { Offsets } from './random-access.js';
export type { ConsumerOptions, StartAt } from './consumer-registry.js';
export type { SeekTarget } from './consumer.js';

/** One consumer's figures on one topic. */
export interface ConsumerTopicStats {
  /** The next sequence number it will be handed. */
  position: number;
  /** Entries appended and not yet consumed by it. */
  lag: number;
}

export interface ConsumerStats {
  /** Keyed by topic name (null prototype). */
  topics: Record<string, ConsumerTopicStats>;
  /** Entries lost to it before it read them, since open ('skipped' events): a retention limit, or a power cut. */
  skipped: number;
}

/**
 * Entries a consumer had not read are gone — a retention limit deleted them, or a power cut took
 * them after another consumer had read past them (docs/FORMAT.md §7.3): it continues from `toSeq + 1`.
 */
export interface SkippedEvent {
  /** The consumer's name; '' for the default consumer (the WAL's own reads). */
  consumer: string;
  topic: string;
  /** The first and the last sequence number it lost (inclusive). */
  fromSeq: number;
  toSeq: number;
}

export interface WalrusStats {
  dir: string;
  epoch: number;
  fsync: ResolvedOptions['fsync'];
  readConsistency: ResolvedOptions['readConsistency'];
  writers: Array<WriterStats & { ringUsedBytes: number }>;
  /** Keyed by topic name; a null-prototype object, so any topic name (even `__proto__`) is an own key. */
  topics: Record<string, TopicStats>;
  recovery: RecoveryReport;
  reclaimedSegments: number;
  reclaimedBytes: number;
  bytesRead: number;
  /** Sampled submission → settlement latency of appends (written, or durable under 'each'). */
  appendLatency: LatencySummary;
  /** Flusher rounds, fsyncs and their latency. */
  flusher: FlusherStats;
  segments: { files: number; bytes: number };
  failed: string | null;
  /** Every consumer's position and lag per topic; keyed by name, '' for the default consumer (null prototype). */
  consumers: Record<string, ConsumerStats>;
}

/**
 * Events (all optional to listen to):
 * - 'recovered' (report): what recovery found at open, emitted on the next tick after open resolves;
 * - 'failed' (WalError): the WAL entered a failed state (worker death, fsync failure);
 * - 'reclaimed' ({ segments, bytes }): consumed segment files were deleted;
 * - 'drain' (): a writer whose ring refused a `write()` (it returned false) has room again;
 * - 'error' (WalError): an entry given to `write()` failed or was lost (it also rejects the next
 *   `flush()`); without a listener it is a process warning, never an uncaught exception;
 * - 'skipped' (SkippedEvent): entries a consumer had not read are gone (a retention limit, a power cut).
 */
export interface WalrusEvents {
  recovered: [RecoveryReport];
  failed: [WalError];
  reclaimed: [{ segments: number; bytes: number }];
  drain: [];
  error: [WalError];
  skipped: [SkippedEvent];
}
