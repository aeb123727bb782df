/**
 * Named consumers on the main thread (docs/SEMANTICS.md rule D19, docs/FORMAT.md §18): registration and deletion in
 * the cursor store, made durable through a CURSORS snapshot written by the flusher; one TopicReader
 * per consumer and topic, created on first use, beside the default consumer's readers that the
 * topic table owns. A consumer's reads wait for its registration snapshot once (no position record
 * may be written before it, §18.2), then go straight to its readers.
 */
import { WalError } from '../../errors.js';
import { DEFAULT_CONSUMER_ID, type CursorStore } from '../../storage/cursor-store.js';
import { registerConsumerByName } from '../../storage/consumer-registration.js';
import type { SegmentReads } from './segment-reads.js';
import { SerialQueue } from './serial-queue.js';
import type { ReadPath, TopicReader } from './topic-reader.js';
import { TopicReader as Reader } from './topic-reader.js';
import type { TopicState, TopicTable } from './topic-table.js';

export type { ConsumerOptions, StartAt } from '../../storage/consumer-registration.js';

/** One consumer as stats() reads it. */
export interface ConsumerStatsSource {
  readonly name: string;
  readonly skipped: number;
  position(topic: TopicState): number;
}

export interface ConsumerRegistryOptions {
  readonly cursors: CursorStore;
  readonly reads: ReadPath;
  readonly segments: SegmentReads;
  readonly topics: TopicTable;
  /** Writes a CURSORS snapshot through the flusher (Reclaimer.persistCursorSnapshot). */
  readonly persistSnapshot: () => Promise<void>;
}

export class ConsumerRegistry {
  readonly #o: ConsumerRegistryOptions;
  readonly #readers = new Map<number, Map<number, TopicReader>>();
  /** Per consumer id, the snapshot that makes its registration durable, while it is pending. */
  readonly #registering = new Map<number, Promise<void>>();
  /** Registration and deletion snapshots, one after another (sync() waits for the last). */
  readonly #snapshots = new SerialQueue();
  #lastSnapshot: Promise<void> = Promise.resolve();

  constructor(options: ConsumerRegistryOptions) {
    this.#o = options;
  }

  /** The id of `name`, registering it (in memory now, durably soon) if it does not exist. */
  open(name: unknown, options: unknown): number {
    const { cursors, topics } = this.#o;
    // Walked only when the name is new (a known name costs no walk of the topics).
    const topicIds = (function* () {
      for (const t of topics.values()) yield t.id;
    })();
    const { id, registered } = registerConsumerByName(cursors, name, options, topicIds, {
      firstRetained: (topicId) => this.firstRetained(topicId),
      // 'latest': what the index holds now — every append that resolved before this call is in it.
      end: (topicId) => this.#endNow(topics.byId(topicId)!),
    });
    if (!registered) return id;
    const checked = name as string;
    const durableOrGone = () => cursors.isDurable(id) || cursors.consumerId(checked) !== id;
    this.#registering.set(id, this.#snapshotUntil(durableOrGone));
    return id;
  }

  /** The current id of `name`; ERR_INVALID_ARGUMENT once it was deleted. */
  idOf(name: string): number {
    const id = this.#o.cursors.consumerId(name);
    if (id === undefined) throw WalError.invalidArgument(`consumer ${JSON.stringify(name)} was deleted`);
    return id;
  }

  /** Null when the consumer's registration is durable, else what to wait for first. */
  ready(id: number): Promise<void> | null {
    const pending = this.#registering.get(id);
    if (pending === undefined) return null;
    return pending.then(
      () => {
        this.#registering.delete(id);
      },
      (err: unknown) => {
        // A failed snapshot (disk full): the next call tries again.
        if (this.#registering.get(id) === pending)
          this.#registering.set(
            id,
            this.#snapshotUntil(() => this.#o.cursors.isDurable(id) || !this.#readersAllowed(id)),
          );
        throw err;
      },
    );
  }

  /** Named consumers, sorted. */
  names(): string[] {
    return this.#o.cursors
      .namedConsumers()
      .map(([, name]) => name)
      .sort();
  }

  /** Unregisters a consumer; resolves once the deletion is durable. */
  delete(id: number): Promise<void> {
    if (id === DEFAULT_CONSUMER_ID) return Promise.resolve();
    this.#o.cursors.deleteConsumer(id);
    this.#readers.delete(id);
    this.#registering.delete(id);
    this.#o.reads.options.onCursorMoved(); // what it held may now be reclaimed
    return this.#snapshotUntil(() => !this.#o.cursors.consumersChanged());
  }

  /** Resolves once every registration and deletion made so far is durable (sync()). */
  settled(): Promise<void> {
    return this.#o.cursors.consumersChanged()
      ? this.#snapshotUntil(() => !this.#o.cursors.consumersChanged())
      : this.#lastSnapshot;
  }

  /** The reader of consumer `id` on a topic (the default consumer's is the topic table's). */
  reader(id: number, topic: TopicState): TopicReader {
    if (id === DEFAULT_CONSUMER_ID) return topic.reader;
    let byTopic = this.#readers.get(id);
    if (byTopic === undefined) this.#readers.set(id, (byTopic = new Map()));
    let reader = byTopic.get(topic.id);
    if (reader === undefined) {
      const { cursors, reads } = this.#o;
      // From its own position even below firstSeq, so raiseFloor reports what it lost ('skipped').
      reader = new Reader(reads, topic, cursors.ownPosition(id, topic.id) ?? cursors.position(id, topic.id), id);
      reader.raiseFloor(cursors.firstSeq(topic.id));
      byTopic.set(topic.id, reader);
    }
    return reader;
  }

  /** Every reader of a topic (default and named): for retention's floor. */
  *readersOf(topic: TopicState): Generator<TopicReader> {
    yield topic.reader;
    for (const byTopic of this.#readers.values()) {
      const reader = byTopic.get(topic.id);
      if (reader !== undefined) yield reader;
    }
  }

  /** Named consumers' readers, by consumer id (for close's at-least-once persists and stats). */
  readerIfAny(id: number, topicId: number): TopicReader | undefined {
    return this.#readers.get(id)?.get(topicId);
  }

  /**
   * The topic's next seq as far as this thread can know without waiting: its writer's run log is
   * applied first. Only while a resync after a run-log overflow is pending does this fall back to
   * the index as it is (then entries that resolved just before may still be delivered).
   */
  #endNow(t: TopicState): number {
    const end = this.#o.segments.knownEnd(t.id, t.writer);
    if (typeof end === 'number') return end;
    end.catch(() => undefined);
    return this.#o.segments.indexedEnd(t.id);
  }

  /** The name of a consumer id ('' for the default one), or undefined once it was deleted. */
  nameOf(id: number): string | undefined {
    if (id === DEFAULT_CONSUMER_ID) return '';
    return this.#o.cursors.namedConsumers().find(([known]) => known === id)?.[1];
  }

  /** What stats() reports per consumer: the default one as '', then every named one. */
  statsSources(skipped: ReadonlyMap<string, number>): ConsumerStatsSource[] {
    const { cursors } = this.#o;
    const all: Array<[number, string]> = [[DEFAULT_CONSUMER_ID, ''], ...cursors.namedConsumers()];
    return all.map(([id, name]) => ({
      name,
      skipped: skipped.get(name) ?? 0,
      position: (topic: TopicState) =>
        id === DEFAULT_CONSUMER_ID
          ? topic.reader.cursor
          : (this.readerIfAny(id, topic.id)?.cursor ?? cursors.position(id, topic.id)),
    }));
  }

  /** The first retained seq of a topic: its firstSeq, or where its indexed entries are whole if later. */
  firstRetained(topicId: number): number {
    const gaps = this.#o.reads.options.gaps?.get(topicId);
    return Math.max(this.#o.cursors.firstSeq(topicId), this.#o.segments.firstIndexed(topicId, gaps));
  }

  #readersAllowed(id: number): boolean {
    return this.#o.cursors.consumerIds().includes(id);
  }

  /** Snapshots (one after another) until `done()` holds; a failed snapshot rejects. */
  #snapshotUntil(done: () => boolean): Promise<void> {
    const run = this.#snapshots.run(async () => {
      // A pending snapshot begun before the change is completed first and does not hold it: at most
      // two rounds (beginSnapshot returns the pending one again, then a fresh one).
      for (let round = 0; round < 3 && !done(); round++) await this.#o.persistSnapshot();
    });
    this.#lastSnapshot = run.catch(() => undefined);
    return run;
  }
}
