/**
 * A fast-check fuzz of the public API: random calls with random — often bad — arguments against
 * ONE open WAL (real writer workers and flusher). Properties:
 *
 *   - never a hang: every call is bounded by a timeout;
 *   - every rejection is a WalError, with a code the documented contract allows for the bad
 *     arguments given (ERR_INVALID_ARGUMENT / ERR_TOO_LARGE), and every valid call succeeds;
 *   - good calls keep the log consistent with a simple in-memory model (per topic: entries and a
 *     cursor): reads return exactly the model's entries, counts/topics/stats agree;
 *   - no worker crashes (stats().failed stays null), and after close + reopen the log still equals
 *     the model.
 *
 * The cases share one WAL (and the model), so shrinking would replay ops on a different state:
 * it is off (endOnFailure), and the reported counterexample is the sequence that failed. Reproduce
 * a failure with WALRUS_FC_SEED=<seed printed on failure>.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { WalError, Walrus, type Entry, type WalrusOptions } from '../../dist/src/index.js';
import { packValue } from '../../dist/src/value-codec.js';
import { checkMaxBytes, checkSignal, checkTimeoutMs, readCheckpointOption } from '../../dist/src/argument-checks.js';
import { within } from '../helpers/within.js';

const CALL_TIMEOUT_MS = 10_000;
const MAX_ENTRY_BYTES = 4096;
const MAX_BATCH_ENTRIES = 8;
const MAX_TOPIC_BYTES = 4096;
const NUM_RUNS = 80;
/** A loaded machine runs fewer cases rather than hitting the test timeout. */
const TIME_LIMIT_MS = 40_000;
const SEED = process.env.WALRUS_FC_SEED === undefined ? undefined : Number(process.env.WALRUS_FC_SEED);

const OPTIONS: WalrusOptions = {
  writers: 2,
  ringBytes: 64 * 1024,
  segmentBytes: 64 * 1024,
  blockBytes: 4096,
  maxEntryBytes: MAX_ENTRY_BYTES,
  maxBatchEntries: MAX_BATCH_ENTRIES,
  fsync: { intervalMs: 20 },
};

// ───────────────────────────── the model ─────────────────────────────

interface ModelEntry {
  bytes: Buffer;
  codec: 'raw' | 'msgpack';
}

class Model {
  readonly topics = new Map<string, { entries: ModelEntry[]; cursor: number }>();

  topic(name: string): { entries: ModelEntry[]; cursor: number } {
    let t = this.topics.get(name);
    if (!t) this.topics.set(name, (t = { entries: [], cursor: 0 }));
    return t;
  }

  /** Moves the cursor past `n` read entries; reading none never creates a topic (the WAL does not either). */
  consume(name: string, n: number): void {
    if (n > 0) this.topic(name).cursor += n;
  }

  unread(name: unknown): ModelEntry[] {
    const t = typeof name === 'string' ? this.topics.get(name) : undefined;
    return t ? t.entries.slice(t.cursor) : [];
  }
}

const INVALID = 'ERR_INVALID_ARGUMENT';
const TOO_LARGE = 'ERR_TOO_LARGE';

/** What a call should do: succeed (then `check` its result and `apply` it to the model), or fail with one of `codes`. */
type Expectation =
  { ok: true; check: (result: unknown) => void; apply: () => void } | { ok: false; codes: Set<string> };

const fail = (...codes: string[]): Expectation => ({ ok: false, codes: new Set(codes) });
const succeed = (
  check: (result: unknown) => void = () => undefined,
  apply: () => void = () => undefined,
): Expectation => ({ ok: true, check, apply });

function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

function topicOk(topic: unknown): topic is string {
  return (
    typeof topic === 'string' &&
    topic.length > 0 &&
    isWellFormed(topic) &&
    Buffer.byteLength(topic, 'utf8') <= MAX_TOPIC_BYTES
  );
}

/** The codec a call's options select, or null when the options are invalid. */
function codecOf(options: unknown): 'raw' | 'msgpack' | null {
  if (options === undefined) return 'raw';
  if (typeof options !== 'object' || options === null) return null;
  const codec = (options as { codec?: unknown }).codec;
  if (codec === undefined || codec === 'raw') return 'raw';
  return codec === 'msgpack' ? 'msgpack' : null;
}

/** The entry a valid datum becomes, or the error code it must produce. */
function entryOf(data: unknown, codec: 'raw' | 'msgpack', forcePack = false): ModelEntry | string {
  let entry: ModelEntry;
  if (typeof data === 'string' && !forcePack) {
    if (!isWellFormed(data)) return INVALID;
    entry = { bytes: Buffer.from(data, 'utf8'), codec: 'raw' };
  } else if (data instanceof Uint8Array && !forcePack) {
    entry = { bytes: Buffer.from(data), codec: 'raw' };
  } else if (codec === 'msgpack') {
    if (typeof data === 'string' && !isWellFormed(data)) return INVALID;
    try {
      entry = { bytes: Buffer.from(packValue(data)), codec: 'msgpack' };
    } catch {
      return INVALID;
    }
  } else {
    return INVALID;
  }
  return entry.bytes.byteLength > MAX_ENTRY_BYTES ? TOO_LARGE : entry;
}

function expectEntry(actual: unknown, expected: ModelEntry | undefined, label: string): void {
  if (expected === undefined) {
    expect(actual, label).toBeNull();
    return;
  }
  const e = actual as Entry;
  expect(e.codec, label).toBe(expected.codec);
  expect(Buffer.from(e.data).equals(expected.bytes), `${label}: bytes`).toBe(true);
}

/** Whether a validator of the product (src/argument-checks.ts, shared by every surface) accepts the input. */
function accepts(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

function readCheckpoint(options: unknown): boolean | null {
  return accepts(() => readCheckpointOption(options)) ? readCheckpointOption(options) : null;
}

// ───────────────────────────── operations ─────────────────────────────

type Op =
  | { kind: 'append'; topic: unknown; data: unknown; options: unknown }
  | { kind: 'batchAppend'; topic: unknown; entries: unknown; options: unknown }
  | { kind: 'readNext'; topic: unknown; options: unknown }
  | { kind: 'readBurst'; topic: unknown; n: number }
  | { kind: 'batchRead'; topic: unknown; options: unknown }
  | { kind: 'count'; topic: unknown }
  | { kind: 'waitForWrites'; topic: unknown; options: unknown }
  | { kind: 'appendBurst'; appends: Array<{ topic: unknown; data: unknown }> }
  | { kind: 'topics' | 'stats' | 'sync' | 'verify' | 'reclaim' };

const GOOD_TOPICS = ['a', 'b', 'ü/ñ', '🙂 emoji', 'x'.repeat(MAX_TOPIC_BYTES)];

const topicArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom(...GOOD_TOPICS), weight: 8 },
  // New topics, sometimes empty, sometimes with lone surrogates.
  { arbitrary: fc.string({ unit: 'binary', maxLength: 6 }), weight: 1 },
  {
    arbitrary: fc.constantFrom('', 'y'.repeat(MAX_TOPIC_BYTES + 1), 'é'.repeat(2049), '\uD800', 'a\uDFFFb'),
    weight: 1,
  },
  { arbitrary: fc.anything(), weight: 1 },
);

const dataArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 6 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 20 }), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 200 }), weight: 4 },
  {
    arbitrary: fc
      .integer({ min: MAX_ENTRY_BYTES - 3, max: MAX_ENTRY_BYTES + 3 })
      .map((n) => new Uint8Array(n).fill(n & 0xff)),
    weight: 1,
  },
  { arbitrary: fc.integer({ min: 2040, max: 2055 }).map((n) => 'é'.repeat(n)), weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 2 },
  { arbitrary: fc.anything(), weight: 1 },
);

const appendOptionsArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 6 },
  { arbitrary: fc.constantFrom({}, { codec: 'raw' }, { codec: 'msgpack' }, { codec: undefined }), weight: 3 },
  { arbitrary: fc.constantFrom(null, 42, 'msgpack', { codec: 'json' }, { codec: 1 }, { codec: null }), weight: 1 },
  { arbitrary: fc.anything(), weight: 1 },
);

const readOptionsArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom(undefined, {}, { checkpoint: true }, { checkpoint: false }), weight: 6 },
  { arbitrary: fc.constantFrom(null, 1, 'peek', { checkpoint: 'false' }, { checkpoint: 0 }), weight: 1 },
  { arbitrary: fc.anything(), weight: 1 },
);

const maxBytesArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 10_000 }), weight: 6 },
  { arbitrary: fc.constant(Infinity), weight: 1 },
  { arbitrary: fc.constantFrom(0, -1, 1.5, Number.NaN, -Infinity, 2 ** 53, '100', null, 5n), weight: 2 },
  { arbitrary: fc.anything(), weight: 1 },
);

const batchReadOptionsArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    arbitrary: fc.record(
      { maxBytes: maxBytesArb, checkpoint: fc.option(fc.boolean(), { nil: undefined }) },
      { requiredKeys: ['maxBytes'] },
    ),
    weight: 8,
  },
  { arbitrary: fc.record({ maxBytes: maxBytesArb, checkpoint: fc.anything() }), weight: 1 },
  { arbitrary: fc.anything(), weight: 1 },
);

/** Controlled: a valid waitForWrites without a timeout may legitimately wait forever. */
const waitOptionsArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 5 }).map((timeoutMs) => ({ timeoutMs })), weight: 4 },
  { arbitrary: fc.constant({ signal: AbortSignal.abort(), timeoutMs: 1000 }), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      42,
      null,
      'x',
      { timeoutMs: -1 },
      { timeoutMs: 'x' },
      { signal: 'x', timeoutMs: 1 },
      { signal: {}, timeoutMs: 1 },
    ),
    weight: 2,
  },
);

const entriesArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.array(dataArb, { maxLength: MAX_BATCH_ENTRIES + 2 }), weight: 8 },
  { arbitrary: fc.anything(), weight: 1 },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      topic: topicArb,
      data: dataArb,
      options: appendOptionsArb,
    }),
    weight: 10,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('batchAppend' as const),
      topic: topicArb,
      entries: entriesArb,
      options: appendOptionsArb,
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('readNext' as const), topic: topicArb, options: readOptionsArb }),
    weight: 6,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('readBurst' as const),
      topic: fc.constantFrom(...GOOD_TOPICS),
      n: fc.integer({ min: 2, max: 6 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('batchRead' as const), topic: topicArb, options: batchReadOptionsArb }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant('count' as const), topic: topicArb }), weight: 2 },
  {
    arbitrary: fc.record({ kind: fc.constant('waitForWrites' as const), topic: topicArb, options: waitOptionsArb }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('appendBurst' as const),
      appends: fc.array(fc.record({ topic: topicArb, data: dataArb }), { minLength: 2, maxLength: 12 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.constantFrom<Op>(
      { kind: 'topics' },
      { kind: 'stats' },
      { kind: 'sync' },
      { kind: 'verify' },
      { kind: 'reclaim' },
    ),
    weight: 2,
  },
);

/** The expectation of one append, given the model as it is when the call is made. */
function expectAppend(model: Model, topic: unknown, data: unknown, options: unknown): Expectation {
  const codes: string[] = [];
  if (!topicOk(topic)) codes.push(INVALID);
  const codec = codecOf(options);
  if (codec === null) codes.push(INVALID);
  else {
    const entry = entryOf(data, codec);
    if (typeof entry === 'string') codes.push(entry);
    else if (codes.length === 0) return succeed(undefined, () => model.topic(topic as string).entries.push(entry));
  }
  return fail(...codes);
}

function expectBatch(model: Model, topic: unknown, entries: unknown, options: unknown): Expectation {
  if (!Array.isArray(entries)) return fail(INVALID);
  const codes: string[] = [];
  if (entries.length > MAX_BATCH_ENTRIES) codes.push(TOO_LARGE);
  if (!topicOk(topic)) codes.push(INVALID);
  const codec = codecOf(options);
  if (codec === null) return fail(INVALID, ...codes);
  // A batch holding any value under msgpack stores every entry packed (one codec per batch).
  const packAll = codec === 'msgpack' && entries.some((e) => typeof e !== 'string' && !(e instanceof Uint8Array));
  const made: ModelEntry[] = [];
  for (const e of [...entries]) {
    const entry = entryOf(e, codec, packAll && !(typeof e === 'string' && !isWellFormed(e)));
    if (typeof entry === 'string') codes.push(entry);
    else made.push(entry);
  }
  if (codes.length > 0) return fail(...codes);
  return succeed(undefined, () => model.topic(topic as string).entries.push(...made));
}

function expectOp(model: Model, op: Op): Expectation {
  switch (op.kind) {
    case 'append':
      return expectAppend(model, op.topic, op.data, op.options);
    case 'batchAppend':
      return expectBatch(model, op.topic, op.entries, op.options);
    case 'readNext': {
      const checkpoint = readCheckpoint(op.options);
      if (!topicOk(op.topic) || checkpoint === null) return fail(INVALID);
      const next = model.unread(op.topic)[0];
      return succeed(
        (result) => expectEntry(result, next, 'readNext'),
        () => {
          if (next && checkpoint) model.consume(op.topic as string, 1);
        },
      );
    }
    case 'batchRead': {
      const options = op.options as { maxBytes?: unknown; checkpoint?: unknown } | null;
      if (!topicOk(op.topic) || typeof options !== 'object' || options === null) return fail(INVALID);
      const checkpoint = readCheckpoint(options);
      if (!accepts(() => checkMaxBytes(options.maxBytes)) || checkpoint === null) return fail(INVALID);
      const maxBytes = checkMaxBytes(options.maxBytes);
      // At least one if any, at most maxBatchEntries, otherwise within maxBytes of payload.
      const unread = model.unread(op.topic);
      const expected: ModelEntry[] = [];
      let bytes = 0;
      for (const e of unread) {
        if (expected.length >= MAX_BATCH_ENTRIES) break;
        if (expected.length > 0 && bytes + e.bytes.byteLength > maxBytes) break;
        expected.push(e);
        bytes += e.bytes.byteLength;
      }
      return succeed(
        (result) => {
          const got = result as Entry[];
          expect(got.length, 'batchRead length').toBe(expected.length);
          got.forEach((e, i) => expectEntry(e, expected[i], `batchRead[${i}]`));
        },
        () => {
          if (checkpoint) model.consume(op.topic as string, expected.length);
        },
      );
    }
    case 'count':
      if (!topicOk(op.topic)) return fail(INVALID);
      return succeed((result) => expect(result, 'count').toBe(model.unread(op.topic).length));
    case 'waitForWrites': {
      const o = op.options as { timeoutMs?: unknown; signal?: unknown } | null;
      const optionsOk =
        typeof o === 'object' &&
        o !== null &&
        accepts(() => checkSignal(o.signal)) &&
        accepts(() => checkTimeoutMs(o.timeoutMs));
      return topicOk(op.topic) && optionsOk ? succeed() : fail(INVALID);
    }
    case 'topics':
      return succeed((result) => expect(result, 'topics').toEqual([...model.topics.keys()].sort()));
    case 'stats':
      return succeed((result) => {
        const stats = result as Awaited<ReturnType<Walrus['stats']>>;
        expect(stats.failed, 'stats.failed').toBeNull();
        for (const [name, t] of model.topics) {
          expect(stats.topics[name], `stats of ${name}`).toMatchObject({
            appended: t.entries.length,
            consumed: t.cursor,
            unread: t.entries.length - t.cursor,
          });
        }
      });
    case 'verify':
      return succeed((result) => expect((result as { ok: boolean }).ok, 'verify').toBe(true));
    case 'reclaim':
      return succeed((result) => expect(result, 'reclaim').toBeGreaterThanOrEqual(0));
    case 'sync':
      return succeed();
    case 'readBurst':
    case 'appendBurst':
      throw new Error('bursts are run by runOp');
  }
}

function call(wal: Walrus, op: Op): Promise<unknown> {
  // Any synchronous throw would itself be a bug: public methods reject instead.
  switch (op.kind) {
    case 'append':
      return wal.append(op.topic as string, op.data, op.options as never);
    case 'batchAppend':
      return wal.batchAppend(op.topic as string, op.entries, op.options as never);
    case 'readNext':
      return wal.readNext(op.topic as string, op.options as never);
    case 'batchRead':
      return wal.batchRead(op.topic as string, op.options as never);
    case 'count':
      return wal.count(op.topic as string);
    case 'waitForWrites':
      return wal.waitForWrites(op.topic as string, op.options as never);
    case 'topics':
      return wal.topics();
    case 'stats':
      return wal.stats();
    case 'sync':
      return wal.sync();
    case 'verify':
      return wal.verify();
    case 'reclaim':
      return wal.reclaim();
    default:
      throw new Error(`not a single call: ${op.kind}`);
  }
}

function describeOp(op: Op): string {
  return JSON.stringify(op, (_k, v: unknown) =>
    typeof v === 'bigint'
      ? `${v}n`
      : typeof v === 'symbol'
        ? String(v)
        : v instanceof Uint8Array
          ? `<${v.byteLength} bytes>`
          : typeof v === 'string' && v.length > 40
            ? `<${v.length} chars>`
            : v,
  ).slice(0, 300);
}

async function settleAgainst(
  expectation: Expectation,
  outcome: PromiseSettledResult<unknown>,
  label: string,
): Promise<void> {
  if (expectation.ok) {
    expect(
      outcome.status,
      `${label} should succeed, got ${outcome.status === 'rejected' ? String(outcome.reason) : ''}`,
    ).toBe('fulfilled');
    expectation.check((outcome as PromiseFulfilledResult<unknown>).value);
    expectation.apply();
  } else {
    expect(outcome.status, `${label} should fail with ${[...expectation.codes].join('|')}`).toBe('rejected');
    const reason = (outcome as PromiseRejectedResult).reason as unknown;
    expect(reason, `${label}: ${String(reason)}`).toBeInstanceOf(WalError);
    expect([...expectation.codes], `${label}: got ${(reason as WalError).code}`).toContain((reason as WalError).code);
  }
}

async function runOp(wal: Walrus, model: Model, op: Op): Promise<void> {
  const label = describeOp(op);
  if (op.kind === 'appendBurst') {
    // Concurrent appends: validity is decided at the call, order per topic is call order.
    const expectations = op.appends.map((a) => expectAppend(model, a.topic, a.data, undefined));
    const outcomes = await within(
      Promise.allSettled(op.appends.map((a) => wal.append(a.topic as string, a.data))),
      label,
      CALL_TIMEOUT_MS,
    );
    for (let i = 0; i < outcomes.length; i++) await settleAgainst(expectations[i]!, outcomes[i]!, `${label}[${i}]`);
    return;
  }
  if (op.kind === 'readBurst') {
    // Concurrent consumers of one topic: each entry goes to exactly one of them, in order.
    const unread = model.unread(op.topic);
    const outcomes = await within(
      Promise.all(Array.from({ length: op.n }, () => wal.readNext(op.topic as string))),
      label,
      CALL_TIMEOUT_MS,
    );
    outcomes.forEach((got, i) => expectEntry(got, unread[i], `${label}[${i}]`));
    // Only a topic that has entries exists: reading an unknown one must not create it in the model.
    model.consume(op.topic as string, Math.min(op.n, unread.length));
    return;
  }
  const expectation = expectOp(model, op);
  let promise: Promise<unknown>;
  try {
    promise = call(wal, op);
  } catch (err) {
    throw new Error(`${label} threw synchronously instead of rejecting: ${String(err)}`);
  }
  const [outcome] = await within(Promise.allSettled([promise]), label, CALL_TIMEOUT_MS);
  await settleAgainst(expectation, outcome!, label);
}

// ───────────────────────────── the test ─────────────────────────────

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-fuzz-'));
const opened: Walrus[] = [];

afterAll(async () => {
  await Promise.allSettled(opened.map((w) => w.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('API fuzz: random calls with random arguments against one open WAL', () => {
  it('never hangs, rejects only with fitting WalErrors, keeps the log equal to the model, survives a reopen', async () => {
    const wal = await within(Walrus.open({ ...OPTIONS, dir }), 'open', CALL_TIMEOUT_MS);
    opened.push(wal);
    const model = new Model();

    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40, size: 'max' }), async (ops) => {
        for (const op of ops) await runOp(wal, model, op);
        // After every case: no worker died, and every topic reads back as the model says.
        const stats = await within(wal.stats(), 'stats', CALL_TIMEOUT_MS);
        expect(stats.failed).toBeNull();
        for (const [name] of model.topics) {
          const peek = await within(
            wal.batchRead(name, { maxBytes: Infinity, checkpoint: false }),
            'peek',
            CALL_TIMEOUT_MS,
          );
          const unread = model.unread(name);
          expect(peek.length).toBe(Math.min(unread.length, MAX_BATCH_ENTRIES));
          peek.forEach((e, i) => expectEntry(e, unread[i], `${name} peek[${i}]`));
        }
      }),
      {
        numRuns: NUM_RUNS,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        markInterruptAsFailure: false,
        endOnFailure: true,
        ...(SEED === undefined ? {} : { seed: SEED }),
      },
    );

    // Close and reopen: the same entries, the same cursors, no damage.
    await within(wal.close(), 'close', CALL_TIMEOUT_MS);
    const again = await within(Walrus.open({ ...OPTIONS, dir }), 'reopen', CALL_TIMEOUT_MS);
    opened.push(again);
    expect((await within(again.stats(), 'stats', CALL_TIMEOUT_MS)).recovery.damage).toEqual([]);
    const reopenedTopics = await within(again.topics(), 'topics', CALL_TIMEOUT_MS);
    for (const [name, t] of model.topics) {
      if (t.entries.length > 0) expect(reopenedTopics).toContain(name);
      const got: Entry[] = [];
      for (;;) {
        const batch = await within(again.batchRead(name, { maxBytes: Infinity }), 'drain', CALL_TIMEOUT_MS);
        if (batch.length === 0) break;
        got.push(...batch);
      }
      const unread = model.unread(name);
      expect(got.length, `${name} after reopen`).toBe(unread.length);
      got.forEach((e, i) => expectEntry(e, unread[i], `${name} after reopen [${i}]`));
    }
  });
});
