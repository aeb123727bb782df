/**
 * `wal.consumer(name)` (docs/SEMANTICS.md rule D19): the WAL's read surface for one named consumer, plus
 * `seek` and `delete`. A handle holds only the name: two handles of one name share one position,
 * and a handle of a deleted consumer refuses every call (ERR_INVALID_ARGUMENT). Reads go to the
 * consumer's own TopicReader per topic (consumer-registry.ts), so the per-topic serialization that
 * hands each entry out once, and the read consistency, apply to it on its own.
 */
import { checkMaxBytes, readCheckpointOption } from '../../argument-checks.js';
import { WalError, toWalError } from '../../errors.js';
import { MAX_SEQ, describeArgument } from '../../storage/limits.js';
import type { ConsumerRegistry } from './consumer-registry.js';
import type { Entry } from './entry.js';
import type * as T from './public-types.js';
import type { ReadSurface } from './read-surface.js';
import { subscribeTopic } from './subscription.js';
import type { TopicReader } from './topic-reader.js';
import type { TopicState } from './topic-table.js';

/** Where `seek` moves a position: a sequence number, a time, or either end of what is retained. */
export type SeekTarget = { seq: number } | { timeMs: number } | 'earliest' | 'latest';

/** What a Consumer needs of the WAL. */
export interface ConsumerHost {
  readonly registry: ConsumerRegistry;
  checkUsable(): void;
  /** The topic, or undefined when nothing was ever appended to it; throws on an invalid name. */
  forRead(topic: unknown): TopicState | undefined;
  /** The topic's next sequence number (its writer's). */
  nextSeq(state: TopicState): Promise<number>;
  /** The first seq appended at or after `timeMs` (the next seq if none). */
  seqAtTime(state: TopicState, timeMs: number): Promise<number>;
  waitForWrites(topic: string, options?: T.WaitForWritesOptions): Promise<void>;
}

export class Consumer implements Pick<ReadSurface, 'readNext' | 'batchRead' | 'subscribe' | 'count'> {
  readonly name: string;
  readonly #host: ConsumerHost;

  constructor(host: ConsumerHost, name: string) {
    this.#host = host;
    this.name = name;
  }

  /** The next entry of `topic` this consumer has not read, or null when there is none. */
  readNext(topic: string, options?: T.ReadOptions): Promise<Entry | null> {
    return this.#withReader(
      topic,
      (reader) => reader?.readNext(readCheckpointOption(options)) ?? null,
      () => {
        readCheckpointOption(options);
      },
    );
  }

  /** Up to `maxBatchEntries` unread entries within `maxBytes` of payload (at least one if any). */
  batchRead(topic: string, options: T.BatchReadOptions): Promise<Entry[]> {
    const check = (): { maxBytes: number; checkpoint: boolean } => {
      if (typeof options !== 'object' || options === null)
        throw WalError.invalidArgument('batchRead needs options { maxBytes }');
      return { maxBytes: checkMaxBytes(options.maxBytes), checkpoint: readCheckpointOption(options) };
    };
    return this.#withReader(
      topic,
      (reader) => {
        const { maxBytes, checkpoint } = check();
        return reader ? reader.batchRead(maxBytes, checkpoint) : [];
      },
      check,
    );
  }

  /** Follows `topic` for this consumer (see Walrus.subscribe). */
  subscribe(topic: string, options?: T.SubscribeOptions): AsyncIterable<Entry> {
    const source = {
      batchRead: (t: string, o: T.BatchReadOptions) => this.batchRead(t, o),
      waitForWrites: (t: string, o?: T.WaitForWritesOptions) => this.#host.waitForWrites(t, o),
      peekFrom: (t: string, fromSeq: number, maxBytes: number) =>
        this.#withReader(t, (reader) => reader?.peekFrom(fromSeq, maxBytes) ?? []),
    };
    return subscribeTopic(source, topic, options);
  }

  /** Entries of `topic` this consumer has not consumed. */
  async count(topic: string): Promise<number> {
    const reader = await this.#withReader(topic, (r) => r ?? null);
    if (reader === null) return 0;
    const state = this.#host.forRead(topic)!;
    return reader.unreadBefore(await this.#host.nextSeq(state));
  }

  /**
   * Moves this consumer's position on `topic`: to `{ seq }` (held within what is retained), to the
   * first entry appended at or after `{ timeMs }`, or to `'earliest'` / `'latest'`. Persisted like
   * a checkpoint; what other consumers read is unchanged. A topic nothing was appended to has no
   * position to move: the call does nothing.
   */
  seek(topic: string, to: SeekTarget): Promise<void> {
    let target: SeekTarget = 'earliest';
    const check = (): void => {
      target = checkSeekTarget(to);
    };
    return this.#withReader(
      topic,
      (reader) => {
        if (reader === undefined) return undefined;
        const state = this.#host.forRead(topic)!;
        const { registry } = this.#host;
        return reader.seekTo(async () => {
          if (target === 'earliest') return registry.firstRetained(state.id);
          const next = await this.#host.nextSeq(state);
          if (target === 'latest') return next;
          if ('timeMs' in target) return this.#host.seqAtTime(state, target.timeMs);
          return Math.min(next, Math.max(registry.firstRetained(state.id), target.seq));
        });
      },
      check,
    );
  }

  /** Unregisters this consumer (it no longer holds space); resolves once that is durable. */
  delete(): Promise<void> {
    try {
      this.#host.checkUsable();
      return this.#host.registry.delete(this.#host.registry.idOf(this.name));
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }

  /**
   * Runs `fn` with this consumer's reader of `topic` (undefined when nothing was ever appended to
   * it) once the consumer's registration is durable. `check` validates the call's other arguments
   * first, so bad input is refused even for an unknown topic.
   */
  #withReader<R>(
    topic: string,
    fn: (reader: TopicReader | undefined) => R | Promise<R>,
    check?: () => void,
  ): Promise<R> {
    try {
      const host = this.#host;
      host.checkUsable();
      check?.();
      const id = host.registry.idOf(this.name);
      const state = host.forRead(topic);
      const wait = host.registry.ready(id);
      const run = (): R | Promise<R> => {
        const current = host.registry.idOf(this.name);
        if (current !== id) throw WalError.invalidArgument(`consumer ${JSON.stringify(this.name)} was deleted`);
        return fn(state && host.registry.reader(id, state));
      };
      if (wait === null) return Promise.resolve(run());
      return wait.then(run).catch((err: unknown) => {
        throw toWalError(err);
      });
    } catch (err) {
      return Promise.reject(toWalError(err, 'ERR_INVALID_ARGUMENT'));
    }
  }
}

function checkSeekTarget(to: unknown): SeekTarget {
  if (to === 'earliest' || to === 'latest') return to;
  if (typeof to === 'object' && to !== null) {
    const keys = Object.keys(to);
    const { seq, timeMs } = to as { seq?: unknown; timeMs?: unknown };
    if (keys.length === 1 && keys[0] === 'seq') {
      if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 && seq <= MAX_SEQ) return { seq };
      throw WalError.invalidArgument(`seek { seq } must be an integer in 0…${MAX_SEQ}, got ${describeArgument(seq)}`);
    }
    if (keys.length === 1 && keys[0] === 'timeMs') {
      if (typeof timeMs === 'number' && Number.isFinite(timeMs)) return { timeMs };
      throw WalError.invalidArgument(`seek { timeMs } must be a finite number, got ${describeArgument(timeMs)}`);
    }
  }
  throw WalError.invalidArgument(
    `seek target must be { seq }, { timeMs }, 'earliest' or 'latest', got ${describeArgument(to)}`,
  );
}
