/**
 * The main thread's topic table: name → id, owning writer and reader. A topic is registered with
 * the cursor store and defined in its writer the first time something is appended to it; reads
 * of a topic nobody appended to find nothing without creating it.
 */
import type { CursorStore } from '../../storage/cursor-store.js';
import { checkNewTopicId, encodeTopic } from '../../storage/limits.js';
import type { RecoveredTopic } from '../../storage/recover.js';
import { ReadPath, TopicReader } from './topic-reader.js';
import { writerForTopic } from './topic-router.js';
import type { WriterChannel } from './writer-channel.js';

export interface TopicState {
  readonly id: number;
  readonly name: string;
  readonly nameBytes: Uint8Array;
  /** Index of the writer (and channel) that owns the topic's tail. */
  readonly writer: number;
  definedInWriter: boolean;
  readonly reader: TopicReader;
}

export class TopicTable {
  readonly #byName = new Map<string, TopicState>();
  readonly #channels: readonly WriterChannel[];
  readonly #cursors: CursorStore;
  readonly #reads: ReadPath;
  #nextTopicId: number;

  constructor(args: {
    channels: readonly WriterChannel[];
    cursors: CursorStore;
    reads: ReadPath;
    recovered: readonly RecoveredTopic[];
    maxTopicId: number;
  }) {
    this.#channels = args.channels;
    this.#cursors = args.cursors;
    this.#reads = args.reads;
    let maxId = args.maxTopicId;
    for (const t of args.recovered) {
      this.#add(t.id, t.name, encodeTopic(t.name), true, args.cursors.cursor(t.id));
      maxId = Math.max(maxId, t.id);
    }
    this.#nextTopicId = maxId + 1;
  }

  has(topic: string): boolean {
    return this.#byName.has(topic);
  }

  /** Every known topic, sorted by name. */
  names(): string[] {
    return [...this.#byName.keys()].sort();
  }

  values(): IterableIterator<TopicState> {
    return this.#byName.values();
  }

  /** The topic with id `topicId`, if known. */
  byId(topicId: number): TopicState | undefined {
    for (const state of this.#byName.values()) if (state.id === topicId) return state;
    return undefined;
  }

  /** The topic, or undefined when nothing was ever appended to it; throws on an invalid name. */
  forRead(topic: unknown): TopicState | undefined {
    if (typeof topic === 'string') {
      const state = this.#byName.get(topic);
      if (state) return state;
    }
    encodeTopic(topic); // validates: a bad name is an error, an unknown good one just has nothing
    return undefined;
  }

  /** The topic, created (registered and defined in its writer) if new. Call once the append is known valid. */
  forWrite(topic: string): TopicState {
    const existing = this.#byName.get(topic);
    if (existing) {
      if (!existing.definedInWriter) this.#defineInWriter(existing);
      return existing;
    }
    const nameBytes = encodeTopic(topic);
    const state = this.#add(checkNewTopicId(this.#nextTopicId++, topic), topic, nameBytes, false, 0);
    this.#cursors.registerTopic(topic, state.id);
    this.#defineInWriter(state);
    return state;
  }

  #add(id: number, name: string, nameBytes: Uint8Array, definedInWriter: boolean, cursor: number): TopicState {
    const writer = writerForTopic(nameBytes, this.#channels.length);
    const reader = new TopicReader(this.#reads, { id, name, writer }, cursor);
    const state: TopicState = { id, name, nameBytes, writer, definedInWriter, reader };
    this.#byName.set(name, state);
    return state;
  }

  #defineInWriter(state: TopicState): void {
    this.#channels[state.writer]!.defineTopic(state.id, state.nameBytes);
    state.definedInWriter = true;
  }
}
