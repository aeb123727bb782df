/**
 * Space reclamation: deleting sealed segment files whose entries every consumer has consumed.
 * About once a second while cursors move (`start`), or when asked (`reclaim`): snapshot the
 * cursors durably, make every writer drop the files (closing its handles), then let the flusher
 * unlink them. It also owns the queue that segment-file audits (verify) share with it: an audit
 * must never open a file a reclaim just deleted.
 */
import type { CursorStore } from '../../storage/cursor-store.js';
import { nodeFileIo } from '../../storage/file-io.js';
import { DEFAULT_RETENTION, planReclaim, type RetentionPolicy } from '../../storage/retention.js';
import { totalSegmentBytes } from '../../storage/segment-name.js';
import type { SegmentSummary } from '../../storage/recover.js';
import type { ControlClient, FlusherControl } from '../shared/control-protocol.js';
import { CURSOR_LOG_GENERATION } from '../shared/progress-cells.js';
import type { Lifecycle } from './lifecycle.js';
import { SerialQueue } from './serial-queue.js';
import type { WriterChannel } from './writer-channel.js';

const RECLAIM_INTERVAL_MS = 1000;

export interface ReclaimerOptions {
  readonly epoch: number;
  readonly cursors: CursorStore;
  readonly cells: Int32Array;
  readonly channels: readonly WriterChannel[];
  readonly flusher: ControlClient<FlusherControl>;
  readonly lifecycle: Lifecycle;
  /** Segments recovery found (sealed or live); `noteSealed` adds the ones writers roll past. */
  readonly segments: readonly SegmentSummary[];
  /** The main thread's reads drop these files (synchronously, between reads) before they are deleted. */
  readonly forgetSegments: (paths: readonly string[]) => void;
  readonly onReclaimed: (report: { segments: number; bytes: number }) => void;
  /** docs/SEMANTICS.md rule D22 (default: delete what every consumer consumed). */
  readonly retention?: RetentionPolicy;
  /** The namespace directory, whose segment bytes `retention.maxBytes` bounds. */
  readonly dir?: string;
  /**
   * A retention limit gave up a topic's seqs below `firstSeq` (durably): every consumer's reader
   * continues from there. Called after the main thread forgot the segments, before their unlink.
   */
  readonly onFirstSeqRaised?: (topicId: number, firstSeq: number) => void;
  /** The newest append time of a segment this open wrote (retention.maxAgeMs), if known. */
  readonly segmentMaxTimeMs?: (path: string) => number | undefined;
}

export class Reclaimer {
  readonly #o: ReclaimerOptions;
  readonly #segments: SegmentSummary[];
  readonly #segmentFileJobs = new SerialQueue();
  readonly #snapshots = new SerialQueue();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #cursorsMoved = false;
  #reclaimedSegments = 0;
  #reclaimedBytes = 0;

  constructor(options: ReclaimerOptions) {
    this.#o = options;
    this.#segments = options.segments.slice();
  }

  get reclaimedSegments(): number {
    return this.#reclaimedSegments;
  }

  get reclaimedBytes(): number {
    return this.#reclaimedBytes;
  }

  /** Starts the periodic reclaim; `stop` must follow (close, or a failed open). */
  start(): void {
    this.#timer = setInterval(() => this.#maybeReclaim(), RECLAIM_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** A writer rolled past a segment: it becomes a reclamation candidate. */
  noteSealed(summary: SegmentSummary): void {
    this.#segments.push(summary);
    // Under a limit a new sealed segment may put the namespace over it (or age past it).
    if (this.#policy.maxBytes !== undefined || this.#policy.maxAgeMs !== undefined) this.#cursorsMoved = true;
  }

  get #policy(): RetentionPolicy {
    return this.#o.retention ?? DEFAULT_RETENTION;
  }

  /** A consumer's cursor moved: the next periodic round has something to look at. */
  noteCursorMoved(): void {
    this.#cursorsMoved = true;
  }

  /** Runs `job` after every reclaim and audit queued before it. */
  runSegmentFileJob<T>(job: () => Promise<T>): Promise<T> {
    return this.#segmentFileJobs.run(job);
  }

  /** Deletes what is consumed; returns the count of files deleted. */
  reclaim(): Promise<number> {
    return this.#segmentFileJobs.run(() => this.#reclaimConsumed());
  }

  /**
   * Writes a new CURSORS generation through the flusher (the main thread never fsyncs). One at a
   * time: reclaims, close and consumer registrations all snapshot, and a second caller completing
   * while a third had begun the next generation would complete that one before its CURSORS landed
   * (and delete the log a crash still needs).
   */
  persistCursorSnapshot(): Promise<void> {
    return this.#snapshots.run(() => this.#persistCursorSnapshot());
  }

  async #persistCursorSnapshot(): Promise<void> {
    const { cursors, cells, flusher } = this.#o;
    // A snapshot whose CURSORS never landed is retried as it is (beginSnapshot returns it again).
    const snapshot = cursors.beginSnapshot();
    Atomics.store(cells, CURSOR_LOG_GENERATION, cursors.generation);
    await flusher.call('writeFileAtomic', snapshot.path, snapshot.bytes);
    const stale = cursors.completeSnapshot();
    if (stale.length > 0) await flusher.call('deleteFiles', stale);
  }

  #maybeReclaim(): void {
    // Under maxAgeMs segments age without anything moving: every period looks.
    const due = this.#cursorsMoved || this.#policy.maxAgeMs !== undefined;
    if (!due || this.#running || this.#o.lifecycle.phase !== 'open') return;
    this.#running = this.reclaim()
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.#running = null;
      });
  }

  async #reclaimConsumed(): Promise<number> {
    this.#cursorsMoved = false;
    await this.persistCursorSnapshot();
    const { epoch, cursors, channels, flusher } = this.#o;
    const sealed = (s: SegmentSummary): boolean => s.id.epoch < epoch || this.#segments.includes(s);
    const { dir } = this.#o;
    const { doomed, raised } = planReclaim(this.#segments, this.#policy, cursors, {
      isSealed: sealed,
      segmentBytes: () => (dir === undefined ? 0 : totalSegmentBytes(nodeFileIo, dir)),
      maxTimeMs: (s) => s.maxTimeMs ?? this.#o.segmentMaxTimeMs?.(s.path),
    });
    if (doomed.length === 0) return 0;
    // FORMAT §19.2 step 1: the seqs a limit gives up are durable before any unlink.
    if (raised.length > 0) await this.persistCursorSnapshot();
    const paths = doomed.map((s) => s.path);
    await Promise.all(channels.map((c) => c.control.call('forgetSegments', paths)));
    this.#o.forgetSegments(paths);
    for (const [topicId, firstSeq] of raised) this.#o.onFirstSeqRaised?.(topicId, firstSeq);
    await flusher.call('deleteFiles', paths);
    const gone = new Set(paths);
    for (let i = this.#segments.length - 1; i >= 0; i--)
      if (gone.has(this.#segments[i]!.path)) this.#segments.splice(i, 1);
    this.#reclaimedSegments += paths.length;
    const bytes = doomed.reduce((n, seg) => n + seg.sizeBytes, 0);
    this.#reclaimedBytes += bytes;
    this.#o.onReclaimed({ segments: paths.length, bytes });
    return paths.length;
  }
}
