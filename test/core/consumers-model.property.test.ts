/**
 * fast-check model test of named consumers, seek, get and offsets (docs/SEMANTICS.md rules 11,
 * D19–D21) through the built engine: random command sequences run against `Walrus` and against a
 * plain in-memory model (per topic its entries; per consumer its position on each topic). With
 * `retention: { keepConsumed: true }` nothing is ever deleted, so every answer is exact. Reopens
 * (a clean close, then open) are commands too: every position must come back.
 * Reproduce a failure with WALRUS_FC_SEED=<seed printed on failure>.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Walrus } from '../../dist/src/index.js';
import { openWal, tempDir } from '../helpers/wal.js';

const TOPICS = ['a', 'b'] as const;
const NAMES = ['x', 'y', 'z'] as const;
const MAX_BATCH_ENTRIES = 5;
const ENTRY_BYTES = 8;
const NUM_RUNS = 12;

type Topic = (typeof TOPICS)[number];
type Name = (typeof NAMES)[number] | '';

type Op =
  | { op: 'append'; topic: Topic; n: number }
  | { op: 'register'; name: Exclude<Name, ''>; startAt: 'earliest' | 'latest' }
  | { op: 'readNext'; name: Name; topic: Topic; checkpoint: boolean }
  | { op: 'batchRead'; name: Name; topic: Topic; entries: number }
  | { op: 'seek'; name: Exclude<Name, ''>; topic: Topic; to: { seq: number } | 'earliest' | 'latest' }
  | { op: 'get'; topic: Topic; seq: number }
  | { op: 'offsets'; topic: Topic }
  | { op: 'count'; name: Name; topic: Topic }
  | { op: 'delete'; name: Exclude<Name, ''> }
  | { op: 'reopen' };

interface Model {
  entries: Map<Topic, string[]>;
  /** Registered consumers ('' the default one): topic → next seq; a missing topic reads from 0. */
  consumers: Map<Name, Map<Topic, number>>;
}

const topic = fc.constantFrom(...TOPICS);
const named = fc.constantFrom(...NAMES);
const anyName = fc.constantFrom<Name>('', ...NAMES);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('append' as const),
      topic,
      n: fc.integer({ min: 1, max: MAX_BATCH_ENTRIES }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('register' as const),
      name: named,
      startAt: fc.constantFrom('earliest' as const, 'latest' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('readNext' as const), name: anyName, topic, checkpoint: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('batchRead' as const),
      name: anyName,
      topic,
      entries: fc.integer({ min: 1, max: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('seek' as const),
      name: named,
      topic,
      to: fc.oneof(
        fc.record({ seq: fc.integer({ min: 0, max: 40 }) }),
        fc.constantFrom('earliest' as const, 'latest' as const),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('get' as const), topic, seq: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('offsets' as const), topic }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('count' as const), name: anyName, topic }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), name: named }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reopen' as const) }) },
);

const payload = (t: Topic, seq: number): string => `${t}${String(seq).padStart(ENTRY_BYTES - 1, '0')}`;

function position(model: Model, name: Name, t: Topic): number {
  return model.consumers.get(name)?.get(t) ?? 0;
}

/** Runs one op on both sides; throws (an expect failure) when they disagree. */
async function step(wal: Walrus, model: Model, o: Op): Promise<void> {
  const reader = (name: Name) => (name === '' ? wal : wal.consumer(name));
  const known = (name: Name) => model.consumers.has(name);
  const len = (t: Topic) => model.entries.get(t)?.length ?? 0;
  switch (o.op) {
    case 'append': {
      const list = model.entries.get(o.topic) ?? [];
      model.entries.set(o.topic, list);
      const batch = Array.from({ length: o.n }, (_, i) => payload(o.topic, list.length + i));
      await wal.batchAppend(o.topic, batch);
      list.push(...batch);
      return;
    }
    case 'register': {
      wal.consumer(o.name, { startAt: o.startAt });
      if (!known(o.name)) {
        const positions = new Map<Topic, number>();
        for (const t of model.entries.keys()) positions.set(t, o.startAt === 'latest' ? len(t) : 0);
        model.consumers.set(o.name, positions);
      }
      return;
    }
    case 'readNext':
    case 'batchRead': {
      if (!known(o.name)) return; // reading through wal.consumer(name) would register it
      const at = position(model, o.name, o.topic);
      const want =
        o.op === 'readNext'
          ? Math.min(1, len(o.topic) - at)
          : Math.min(o.entries, MAX_BATCH_ENTRIES, Math.max(0, len(o.topic) - at));
      const got =
        o.op === 'readNext'
          ? [await reader(o.name).readNext(o.topic, { checkpoint: o.checkpoint })].filter((e) => e !== null)
          : await reader(o.name).batchRead(o.topic, { maxBytes: o.entries * ENTRY_BYTES });
      expect(
        got.map((e) => e!.text()),
        `${o.op} ${o.name} ${o.topic}`,
      ).toEqual((model.entries.get(o.topic) ?? []).slice(at, at + want));
      if (o.op === 'batchRead' || o.checkpoint) model.consumers.get(o.name)!.set(o.topic, at + got.length);
      return;
    }
    case 'seek': {
      if (!known(o.name)) return;
      await wal.consumer(o.name).seek(o.topic, o.to);
      if (!model.entries.has(o.topic)) return; // no topic: nothing to move
      const next = len(o.topic);
      const target = o.to === 'earliest' ? 0 : o.to === 'latest' ? next : Math.min(next, o.to.seq);
      model.consumers.get(o.name)!.set(o.topic, target);
      return;
    }
    case 'get': {
      const e = await wal.get(o.topic, o.seq);
      expect(e?.text() ?? null, `get ${o.topic} ${o.seq}`).toBe(model.entries.get(o.topic)?.[o.seq] ?? null);
      return;
    }
    case 'offsets':
      expect(await wal.offsets(o.topic)).toEqual({ first: 0, next: len(o.topic) });
      return;
    case 'count':
      if (!known(o.name)) return;
      expect(await reader(o.name).count(o.topic), `count ${o.name} ${o.topic}`).toBe(
        Math.max(0, len(o.topic) - position(model, o.name, o.topic)),
      );
      return;
    case 'delete':
      if (!known(o.name)) return;
      await wal.consumer(o.name).delete();
      model.consumers.delete(o.name);
      return;
    case 'reopen':
      return; // handled by the runner
  }
}

describe('rules 11, D19–D21 (docs/SEMANTICS.md): consumers, seek, get and offsets against a model', () => {
  it('agree with the in-memory model over random command sequences, across reopens', async () => {
    const seed = process.env.WALRUS_FC_SEED === undefined ? undefined : Number(process.env.WALRUS_FC_SEED);
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
        const dir = tempDir('walrus-consumers-model-');
        const options = {
          dir,
          writers: 2,
          maxBatchEntries: MAX_BATCH_ENTRIES,
          retention: { keepConsumed: true },
          segmentBytes: 64 * 1024,
          blockBytes: 4096,
        };
        const model: Model = { entries: new Map(), consumers: new Map([['', new Map()]]) };
        let wal = await openWal(options);
        try {
          for (const o of ops) {
            if (o.op === 'reopen') {
              await wal.close();
              wal = await openWal(options);
              expect((await wal.consumers()).sort()).toEqual([...model.consumers.keys()].filter((n) => n).sort());
              continue;
            }
            await step(wal, model, o);
          }
        } finally {
          await wal.close();
        }
      }),
      { numRuns: NUM_RUNS, ...(seed === undefined ? {} : { seed }) },
    );
  }, 120_000);
});
