/**
 * fast-check model test: random command sequences run against LogStore and against a plain
 * in-memory model (per topic: the entries and a cursor). Small segments, blocks and batch caps
 * so rollovers, multi-block entries and caps happen in short runs.
 * Reproduce a failure with WALRUS_FC_SEED=<seed printed on failure> (and fast-check's `path`).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WalError } from '../../src/errors.js';
import { LogStore, type LogStoreOptions, type StoredEntry } from '../../src/storage/log-store.js';
import { bytesOf, patterned } from '../helpers/log-store-reads.js';
import { TmpDirs, crashCopy } from '../helpers/tmp-dir.js';

const TOPICS = ['a', 'b', 'ü/c'] as const;
const MAX_BATCH_ENTRIES = 6;
const NUM_RUNS = 40;
/**
 * Shrinking replays whole command sequences on disk: the limit makes a failure report its
 * (partly shrunk) counterexample instead of hitting the test timeout. A slow machine that hits the
 * limit without a failure just runs fewer cases.
 */
const TIME_LIMIT_MS = 45_000;

type Consistency = NonNullable<LogStoreOptions['readConsistency']>;

interface Model {
  topics: Map<string, { entries: Buffer[]; cursor: number }>;
  /** How many entries a crash may redeliver per topic (0 in strictly-at-once). */
  replayBound: number;
}

interface Real {
  store: LogStore;
  dir: string;
  consistency: Consistency;
  tmp: TmpDirs;
}

type Cmd = fc.Command<Model, Real>;

function openStore(dir: string, consistency: Consistency): LogStore {
  return LogStore.open({
    dir,
    readConsistency: consistency,
    fsync: 'none',
    segmentBytes: 64 * 1024,
    blockBytes: 4096,
    maxEntryBytes: 24 * 1024,
    maxBatchEntries: MAX_BATCH_ENTRIES,
  });
}

function topicOf(model: Model, topic: string): { entries: Buffer[]; cursor: number } {
  let state = model.topics.get(topic);
  if (!state) model.topics.set(topic, (state = { entries: [], cursor: 0 }));
  return state;
}

function expectEntries(actual: StoredEntry[], topic: string, entries: Buffer[], from: number): void {
  expect(actual.map((e) => e.seq)).toEqual(entries.map((_, i) => from + i));
  actual.forEach((e, i) => {
    expect(e.topic).toBe(topic);
    expect(bytesOf(e.data).equals(entries[i]!)).toBe(true);
  });
}

/** The model of batchRead: at least one entry, then as many as fit in maxBytes, at most the cap. */
function modelBatch(entries: Buffer[], cursor: number, maxBytes: number): Buffer[] {
  const out: Buffer[] = [];
  let bytes = 0;
  for (let i = cursor; i < entries.length && out.length < MAX_BATCH_ENTRIES; i++) {
    if (out.length > 0 && bytes + entries[i]!.byteLength > maxBytes) break;
    out.push(entries[i]!);
    bytes += entries[i]!.byteLength;
  }
  return out;
}

const payload = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.integer({ min: 3000, max: 12_000 }).map((n) => patterned(n, n)) },
);
const topic = fc.constantFrom(...TOPICS);

const append = fc.record({ topic, data: payload }).map(({ topic, data }): Cmd => ({
  check: () => true,
  run(model, real) {
    const state = topicOf(model, topic);
    expect(real.store.append(topic, data)).toBe(state.entries.length);
    state.entries.push(data);
  },
  toString: () => `append(${topic}, ${data.byteLength} B)`,
}));

const batchAppend = fc
  .record({ topic, batch: fc.array(payload, { maxLength: MAX_BATCH_ENTRIES + 2 }) })
  .map(({ topic, batch }): Cmd => ({
    check: () => true,
    run(model, real) {
      const state = topicOf(model, topic);
      if (batch.length > MAX_BATCH_ENTRIES) {
        let thrown: unknown;
        try {
          real.store.batchAppend(topic, batch);
        } catch (err) {
          thrown = err;
        }
        expect(thrown instanceof WalError && thrown.code === 'ERR_TOO_LARGE').toBe(true);
        return;
      }
      expect(real.store.batchAppend(topic, batch)).toEqual(batch.map((_, i) => state.entries.length + i));
      state.entries.push(...batch);
    },
    toString: () => `batchAppend(${topic}, [${batch.map((b) => b.byteLength).join(',')}])`,
  }));

const readNext = fc.record({ topic, checkpoint: fc.boolean() }).map(({ topic, checkpoint }): Cmd => ({
  check: () => true,
  run(model, real) {
    const state = topicOf(model, topic);
    const got = real.store.readNext(topic, { checkpoint });
    if (state.cursor >= state.entries.length) {
      expect(got).toBeNull();
      return;
    }
    expectEntries(got ? [got] : [], topic, [state.entries[state.cursor]!], state.cursor);
    if (checkpoint) state.cursor++;
  },
  toString: () => `readNext(${topic}, checkpoint=${checkpoint})`,
}));

/** Mostly budgets near entry sizes, where the byte rule (not the entry cap) decides. */
const budget = fc.oneof(fc.integer({ min: 1, max: 800 }), fc.integer({ min: 1, max: 40_000 }));

const batchRead = fc
  .record({ topic, maxBytes: budget, checkpoint: fc.boolean() })
  .map(({ topic, maxBytes, checkpoint }): Cmd => ({
    check: () => true,
    run(model, real) {
      const state = topicOf(model, topic);
      const expected = modelBatch(state.entries, state.cursor, maxBytes);
      expectEntries(real.store.batchRead(topic, { maxBytes, checkpoint }), topic, expected, state.cursor);
      if (checkpoint) state.cursor += expected.length;
    },
    toString: () => `batchRead(${topic}, ${maxBytes} B, checkpoint=${checkpoint})`,
  }));

const count = topic.map((topic): Cmd => ({
  check: () => true,
  run(model, real) {
    const state = topicOf(model, topic);
    expect(real.store.count(topic)).toBe(state.entries.length - state.cursor);
  },
  toString: () => `count(${topic})`,
}));

const reopen = fc.constant<Cmd>({
  check: () => true,
  run(_model, real) {
    real.store.close();
    real.store = openStore(real.dir, real.consistency);
  },
  toString: () => 'close+reopen',
});

const crash = fc.constant<Cmd>({
  check: () => true,
  run(model, real) {
    const copy = crashCopy(real.dir, real.tmp);
    real.store.close();
    real.dir = copy;
    real.store = openStore(copy, real.consistency);
    for (const [name, state] of model.topics) {
      const resumedAt = state.entries.length - real.store.count(name);
      expect(resumedAt).toBeLessThanOrEqual(state.cursor);
      expect(state.cursor - resumedAt).toBeLessThanOrEqual(model.replayBound);
      state.cursor = resumedAt;
    }
  },
  toString: () => 'crash+reopen',
});

const commands = fc.commands(
  [append, append, batchAppend, readNext, readNext, batchRead, batchRead, count, reopen, crash, crash],
  { maxCommands: 80, size: 'large' },
);

describe('model property: LogStore behaves like an in-memory log (docs/SEMANTICS.md rules 1–4)', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  function runProperty(consistency: fc.Arbitrary<{ consistency: Consistency; replayBound: number }>): void {
    const seed = Number(process.env.WALRUS_FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const property = fc.property(consistency, commands, (mode, cmds) => {
      const dir = tmp.make();
      const real: Real = { store: openStore(dir, mode.consistency), dir, consistency: mode.consistency, tmp };
      try {
        fc.modelRun(() => ({ model: { topics: new Map(), replayBound: mode.replayBound }, real }), cmds);
      } finally {
        real.store.close();
        tmp.removeAll();
      }
    });
    try {
      fc.assert(property, { numRuns: NUM_RUNS, seed, interruptAfterTimeLimit: TIME_LIMIT_MS });
    } catch (err) {
      console.error(`model property failed: reproduce with WALRUS_FC_SEED=${seed}`);
      throw err;
    }
  }

  it('strictly-at-once: no crash or reopen ever redelivers a consumed entry', () => {
    runProperty(fc.constant({ consistency: 'strictly-at-once' as const, replayBound: 0 }));
  });

  it('at-least-once (persistEvery 0…4): a crash redelivers at most n per topic, a reopen none', () => {
    runProperty(
      fc
        .integer({ min: 0, max: 4 })
        .map((n) => ({ consistency: { atLeastOnce: { persistEvery: n } }, replayBound: Math.max(1, n) })),
    );
  });
});
