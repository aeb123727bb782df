/**
 * Corrupt-file fuzzing of `open` (docs/SEMANTICS.md rules 8 and F9; docs/FORMAT.md §5–§8).
 *
 * One real log is written by LogStore (two epochs, several segments per epoch, batches, empty and
 * multi-block entries, a CURSORS snapshot and a cursor log with records, as a crash leaves them).
 * Each case copies it, damages ONE file (a segment, CURSORS, the cursor log or MANIFEST) with
 * seeded random bit flips, truncations, garbage appended or written over, zeroed sectors, or valid
 * bytes copied from elsewhere (frames that are intact but out of place), then opens the copy.
 * The open must either
 *   - recover, returning for every topic only entries equal to what was written, at their seqs,
 *     a prefix of the topic (nothing invented, nothing altered, no cursor past the data); damage in
 *     a control file must lose no entry at all; and after an append and a reopen the same prefix
 *     plus the new entry come back; or
 *   - throw a WalError with code ERR_CORRUPT or ERR_UNSUPPORTED_FORMAT whose details.path names the
 *     damaged file (and whose offset, when given, lies inside it). A damaged SEGMENT never makes
 *     open fail (FORMAT §5: it is reported and the prefix before it is kept).
 * Never a non-WalError, never a hang: the opens run in a child process (the TypeScript sources, via
 * tsx) watched by a timeout that only exists to turn an endless loop into a failure.
 *
 * Then a few corrupted copies go through the engine (the built package, dist/: `npm run build`).
 *
 * Replay: CORRUPT_OPEN_SEED=<printed seed>; CORRUPT_OPEN_DEPTH=<n> multiplies the case count.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalError as BuiltWalError, Walrus } from '../../dist/src/index.js';
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js';
import { Rng } from '../helpers/recording-file-io.js';
import { TmpDirs, copyDir, crashCopy } from '../helpers/tmp-dir.js';
import { within } from '../helpers/within.js';

const SEED = process.env.CORRUPT_OPEN_SEED !== undefined ? Number(process.env.CORRUPT_OPEN_SEED) : randomInt(2 ** 31);
const DEPTH = Math.max(1, Number(process.env.CORRUPT_OPEN_DEPTH ?? 1));
const CASES = 300 * DEPTH;
/** Not a timing assertion: an open that has not answered by then is taken to loop forever. */
const HANG_MS = 60_000;
/** A safety net far above the expected ~20 s, for a heavily loaded machine (and deeper runs). */
const FUZZ_TIMEOUT_MS = 300_000 * DEPTH;
const SEGMENT_BYTES = 64 * 1024;
const BLOCK_BYTES = 4096;
const TOPICS = ['orders', 'événements/😀', 't'] as const;
const SEGMENT_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{8}\.seg$/;
const CURSOR_LOG_NAME = /^cursors-[0-9a-f]{8}\.log$/;

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

const storeOptions = (dir: string): LogStoreOptions => ({
  dir,
  fsync: 'none',
  segmentBytes: SEGMENT_BYTES,
  blockBytes: BLOCK_BYTES,
  maxBatchEntries: 1_000_000,
});

// ---- the base log ------------------------------------------------------------------------------

interface BaseLog {
  dir: string;
  written: Map<string, Buffer[]>;
  /** Cursors in the CURSORS snapshot (what is left if the cursor log is lost). */
  snapshotCursors: Map<string, number>;
  /** Cursors after the cursor log's records (what an undamaged open must find). */
  cursors: Map<string, number>;
}

function entryBytes(rng: Rng, topic: string, seq: number): Buffer {
  const r = rng.next();
  const size =
    r < 0.05
      ? 0
      : r < 0.12
        ? rng.between(BLOCK_BYTES, 2 * BLOCK_BYTES + 500)
        : r < 0.35
          ? rng.between(500, 2000)
          : rng.between(1, 300);
  const out = Buffer.alloc(size);
  const head = Buffer.from(`${topic}#${seq}|`);
  head.copy(out, 0, 0, Math.min(size, head.byteLength));
  for (let i = head.byteLength; i < size; i++) out[i] = (i * 131 + seq * 7) & 0xff;
  return out;
}

function writeBase(tmp: TmpDirs, rng: Rng): BaseLog {
  const dir = tmp.make('walrus-corrupt-base');
  const written = new Map<string, Buffer[]>(TOPICS.map((t) => [t, []]));
  const appendSome = (store: LogStore, rounds: number) => {
    for (let i = 0; i < rounds; i++) {
      const topic = rng.pick(TOPICS);
      const list = written.get(topic)!;
      if (rng.chance(0.15)) {
        const batch = Array.from({ length: rng.between(2, 5) }, (_, k) => entryBytes(rng, topic, list.length + k));
        store.batchAppend(topic, batch);
        list.push(...batch);
      } else {
        const data = entryBytes(rng, topic, list.length);
        store.append(topic, data);
        list.push(data);
      }
    }
  };
  const readSome = (store: LogStore, cursors: Map<string, number>, reads: number) => {
    for (let i = 0; i < reads; i++) {
      const topic = rng.pick(TOPICS);
      if (store.readNext(topic) !== null) cursors.set(topic, (cursors.get(topic) ?? 0) + 1);
    }
  };
  const cursors = new Map<string, number>(TOPICS.map((t) => [t, 0]));
  let store = LogStore.open(storeOptions(dir));
  appendSome(store, 120);
  readSome(store, cursors, 40);
  store.close();
  const snapshotCursors = new Map(cursors);
  store = LogStore.open(storeOptions(dir));
  appendSome(store, 120);
  readSome(store, cursors, 40);
  // As a crash leaves it: the cursor log holds the records of the reads since the snapshot.
  const base = crashCopy(dir, tmp);
  store.close();
  return { dir: base, written, snapshotCursors, cursors };
}

// ---- damage ------------------------------------------------------------------------------------

type FileKind = 'segment' | 'CURSORS' | 'cursor log' | 'MANIFEST';

interface Damage {
  file: string;
  kind: FileKind;
  how: string;
}

function filesOf(dir: string): Array<{ file: string; kind: FileKind }> {
  return fs.readdirSync(dir).flatMap((name): Array<{ file: string; kind: FileKind }> => {
    const file = path.join(dir, name);
    if (SEGMENT_NAME.test(name)) return [{ file, kind: 'segment' }];
    if (CURSOR_LOG_NAME.test(name)) return [{ file, kind: 'cursor log' }];
    if (name === 'CURSORS') return [{ file, kind: 'CURSORS' }];
    if (name === 'MANIFEST') return [{ file, kind: 'MANIFEST' }];
    return [];
  });
}

function randomBytes(rng: Rng, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

/** Damages one file of `dir` in a random way; returns what was done. */
function damage(dir: string, rng: Rng): Damage {
  const files = filesOf(dir);
  const r = rng.next();
  const wanted: FileKind = r < 0.55 ? 'segment' : r < 0.7 ? 'CURSORS' : r < 0.85 ? 'cursor log' : 'MANIFEST';
  const candidates = files.filter((f) => f.kind === wanted && fs.statSync(f.file).size > 0);
  const { file, kind } = rng.pick(
    candidates.length > 0 ? candidates : files.filter((f) => fs.statSync(f.file).size > 0),
  );
  const bytes = fs.readFileSync(file);
  const size = bytes.byteLength;
  // Frame headers (and control-file fields) are where damage is most interesting: aim there often.
  const offset = (): number => (rng.chance(0.4) ? Math.min(size - 1, rng.int(Math.min(size, 96))) : rng.int(size));
  const m = rng.next();
  let out: Buffer;
  let how: string;
  if (m < 0.3) {
    const flips = rng.chance(0.6) ? 1 : rng.between(2, 8);
    out = Buffer.from(bytes);
    const at: string[] = [];
    for (let i = 0; i < flips; i++) {
      const o = offset();
      const bit = rng.int(8);
      out[o] = out[o]! ^ (1 << bit);
      at.push(`${o}.${bit}`);
    }
    how = `bit flips at ${at.join(', ')}`;
  } else if (m < 0.5) {
    const to = rng.chance(0.5) ? Math.max(0, size - rng.between(1, 64)) : rng.int(size);
    out = bytes.subarray(0, to);
    how = `truncated from ${size} to ${to} bytes`;
  } else if (m < 0.62) {
    const n = rng.chance(0.5) ? rng.between(1, 40) : rng.between(41, 5000);
    out = Buffer.concat([bytes, rng.chance(0.2) ? Buffer.alloc(n) : randomBytes(rng, n)]);
    how = `${n} bytes of garbage appended`;
  } else if (m < 0.8) {
    const o = offset();
    const n = Math.min(size - o, rng.chance(0.5) ? rng.between(1, 16) : rng.between(17, 700));
    out = Buffer.from(bytes);
    randomBytes(rng, n).copy(out, o);
    how = `${n} bytes at ${o} replaced by garbage`;
  } else if (m < 0.9) {
    const sector = rng.int(Math.ceil(size / 512)) * 512;
    out = Buffer.from(bytes);
    out.fill(0, sector, Math.min(size, sector + 512));
    how = `sector at ${sector} zeroed`;
  } else {
    // Intact frames in the wrong place: a chunk of the file (8-aligned, so headers stay aligned)
    // copied over another position.
    const n = Math.min(size, rng.between(32, 3000));
    const from = Math.floor(rng.int(Math.max(1, size - n)) / 8) * 8;
    const to = Math.floor(rng.int(Math.max(1, size - n)) / 8) * 8;
    out = Buffer.from(bytes);
    bytes.copy(out, to, from, from + n);
    how = `${n} bytes copied from ${from} to ${to}`;
  }
  fs.writeFileSync(file, out);
  return { file, kind, how: `${path.basename(file)} (${kind}): ${how}` };
}

// ---- the open, in a child process ------------------------------------------------------------

interface TopicResult {
  count: number;
  unread: Array<{ seq: number; data: Uint8Array }>;
  nextSeq: number;
}

type OpenResult =
  | {
      ok: true;
      topics: string[];
      byTopic: Record<string, TopicResult>;
      damage: number;
      second: { ok: true; byTopic: Record<string, TopicResult> } | { ok: false; error: ErrorInfo };
    }
  | { ok: false; phase: 'open' | 'reading what was recovered'; error: ErrorInfo };

interface ErrorInfo {
  isWalError: boolean;
  name: string;
  code?: string;
  details?: { path?: string; offset?: number };
  message: string;
}

/**
 * Opens a directory, reads every topic's unread entries without moving the cursor, appends a probe
 * to learn the next seq, closes, and opens once more to read everything again.
 */
const CHILD_SOURCE = `
const { LogStore } = await import(${JSON.stringify(pathToFileURL(path.join(repoRoot, 'src/storage/log-store.ts')).href)});
const { WalError } = await import(${JSON.stringify(pathToFileURL(path.join(repoRoot, 'src/errors.ts')).href)});
const errorInfo = (err) => ({
  isWalError: err instanceof WalError,
  name: err?.name ?? typeof err,
  code: err?.code,
  details: err instanceof WalError ? { path: err.details.path, offset: err.details.offset } : undefined,
  message: String(err?.stack ?? err),
});
const inspect = (store, topics, probe) => {
  const out = {};
  for (const topic of topics) {
    const count = store.count(topic);
    const unread = store.batchRead(topic, { maxBytes: 2 ** 30, checkpoint: false }).map((e) => ({ seq: e.seq, data: new Uint8Array(e.data) }));
    const nextSeq = probe ? store.append(topic, 'probe ' + topic) : -1;
    out[topic] = { count, unread, nextSeq };
  }
  return out;
};
process.on('message', ({ dir, topics, options }) => {
  let reply;
  let phase = 'open';
  try {
    const store = LogStore.open({ ...options, dir });
    phase = 'reading what was recovered';
    let byTopic, names, damage;
    try {
      names = store.topics();
      damage = store.recovery.damage.length;
      byTopic = inspect(store, [...new Set([...topics, ...names])], true);
    } finally {
      store.close();
    }
    let second;
    try {
      const again = LogStore.open({ ...options, dir });
      try { second = { ok: true, byTopic: inspect(again, [...new Set([...topics, ...names])], false) }; } finally { again.close(); }
    } catch (err) {
      second = { ok: false, error: errorInfo(err) };
    }
    reply = { ok: true, topics: names, byTopic, damage, second };
  } catch (err) {
    reply = { ok: false, phase, error: errorInfo(err) };
  }
  process.send(reply);
});
process.send('ready');
`;

class OpenRunner {
  #child: ChildProcess | null = null;
  #ready: Promise<void> | null = null;

  start(): Promise<void> {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const child = spawn(
      process.execPath,
      ['--import', pathToFileURL(tsx).href, '--input-type=module', '-e', CHILD_SOURCE],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      },
    );
    this.#child = child;
    this.#ready = new Promise((resolve, reject) => {
      child.once('message', (m) =>
        m === 'ready' ? resolve() : reject(new Error(`unexpected first message ${String(m)}`)),
      );
      child.once('exit', (code) => reject(new Error(`the open runner exited (${code}) before it was ready`)));
    });
    return this.#ready;
  }

  /** Opens `dir` in the child; rejects if it does not answer within HANG_MS (the child is then killed). */
  open(dir: string): Promise<OpenResult> {
    const child = this.#child!;
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`the open runner died (exit ${code}) while opening ${dir}`));
      const timer = setTimeout(() => {
        child.off('exit', onExit);
        child.kill('SIGKILL');
        reject(new Error(`HANG: opening ${dir} did not finish within ${HANG_MS} ms`));
      }, HANG_MS);
      child.once('exit', onExit);
      child.once('message', (result: OpenResult) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(result);
      });
      child.send({ dir, topics: [...TOPICS], options: storeOptions(dir) });
    });
  }

  stop(): void {
    if (this.#child !== null && this.#child.exitCode === null) this.#child.kill();
    this.#child = null;
  }
}

// ---- checks ------------------------------------------------------------------------------------

function checkTopic(topic: string, got: TopicResult, written: readonly Buffer[], where: string): void {
  const cursor = got.nextSeq - got.count;
  expect(got.count, `${where}: count of ${topic}`).toBeGreaterThanOrEqual(0);
  expect(got.unread.length, `${where}: unread entries of ${topic} vs count()`).toBe(got.count);
  expect(got.nextSeq, `${where}: ${topic} has more entries than were written`).toBeLessThanOrEqual(written.length);
  got.unread.forEach((entry, i) => {
    expect(entry.seq, `${where}: seq of unread entry ${i} of ${topic}`).toBe(cursor + i);
    const want = written[entry.seq];
    expect(
      want !== undefined && Buffer.from(entry.data).equals(want),
      `${where}: ${topic}#${entry.seq} is not what was written`,
    ).toBe(true);
  });
}

function checkError(error: ErrorInfo, d: Damage, where: string): void {
  expect(error.isWalError, `${where}: threw a non-WalError: ${error.message}`).toBe(true);
  expect(['ERR_CORRUPT', 'ERR_UNSUPPORTED_FORMAT'], `${where}: error code (${error.message})`).toContain(error.code);
  expect(error.details?.path, `${where}: details.path must name the damaged file (${error.message})`).toBe(d.file);
  if (error.details?.offset !== undefined) {
    expect(error.details.offset, `${where}: details.offset`).toBeGreaterThanOrEqual(0);
    expect(error.details.offset, `${where}: details.offset`).toBeLessThanOrEqual(fs.statSync(d.file).size);
  }
}

interface Tally {
  recovered: number;
  refused: number;
  lossy: number;
  byKind: Record<string, number>;
  /** CURSORS has no checksum: a flip can change a cursor and still parse. */
  silentCursorChanges: number;
}

function checkCase(base: BaseLog, d: Damage, result: OpenResult, where: string, tally: Tally): void {
  tally.byKind[d.kind] = (tally.byKind[d.kind] ?? 0) + 1;
  if (!result.ok) {
    tally.refused++;
    expect(d.kind, `${where}: a damaged segment made ${result.phase} fail (${result.error.message})`).not.toBe(
      'segment',
    );
    expect(result.phase, `${where}: ${result.error.message}`).toBe('open');
    checkError(result.error, d, where);
    return;
  }
  tally.recovered++;
  for (const topic of result.topics)
    expect(TOPICS as readonly string[], `${where}: recovery invented topic ${JSON.stringify(topic)}`).toContain(topic);
  let lost = false;
  for (const topic of TOPICS) {
    const written = base.written.get(topic)!;
    const got = result.byTopic[topic]!;
    checkTopic(topic, got, written, where);
    const cursor = got.nextSeq - got.count;
    if (got.nextSeq < written.length) lost = true;
    // Only a damaged segment may cost entries: control files carry no entries.
    if (d.kind !== 'segment')
      expect(got.nextSeq, `${where}: ${topic} lost entries to damage in ${d.kind}`).toBe(written.length);
    const logged = base.cursors.get(topic)!;
    if (got.nextSeq >= logged) {
      if (d.kind === 'segment' || d.kind === 'MANIFEST') expect(cursor, `${where}: cursor of ${topic}`).toBe(logged);
      if (d.kind === 'cursor log') {
        // A damaged log keeps the records before the damage: between the snapshot and the last record.
        expect(cursor, `${where}: cursor of ${topic}`).toBeGreaterThanOrEqual(base.snapshotCursors.get(topic)!);
        expect(cursor, `${where}: cursor of ${topic}`).toBeLessThanOrEqual(logged);
      }
      if (d.kind === 'CURSORS' && cursor !== logged) tally.silentCursorChanges++;
    }
    // A second open, after the probe append: the same entries, then the probe.
    if (!result.second.ok)
      return expect.fail(`${where}: the reopen after recovery failed: ${result.second.error.message}`);
    const again = result.second.byTopic[topic]!;
    expect(again.count, `${where}: ${topic} after a probe append and a reopen`).toBe(got.count + 1);
    expect(
      again.unread.slice(0, -1).map((e) => e.seq),
      `${where}: ${topic} seqs after a reopen`,
    ).toEqual(got.unread.map((e) => e.seq));
    expect(again.unread.at(-1)?.seq, `${where}: the probe of ${topic} after a reopen`).toBe(got.nextSeq);
    expect(Buffer.from(again.unread.at(-1)!.data).toString(), `${where}: the probe of ${topic}`).toBe(`probe ${topic}`);
    checkTopic(
      topic,
      { ...again, unread: again.unread.slice(0, -1), count: again.count - 1, nextSeq: got.nextSeq },
      written,
      `${where} (reopened)`,
    );
  }
  if (lost) tally.lossy++;
}

// ---- the runs ----------------------------------------------------------------------------------

const tmp = new TmpDirs();
const runner = new OpenRunner();
let base: BaseLog;

beforeAll(async () => {
  console.log(
    `corrupt-open: seed ${SEED}, depth ${DEPTH} (replay with CORRUPT_OPEN_SEED=${SEED} CORRUPT_OPEN_DEPTH=${DEPTH})`,
  );
  base = writeBase(tmp, new Rng(SEED));
  await runner.start();
});

afterAll(() => {
  runner.stop();
  tmp.removeAll();
});

describe(`corrupt files at open (seed ${SEED})`, () => {
  it('the base log itself opens with every entry and cursor', async () => {
    const files = filesOf(base.dir).map((f) => f.kind);
    expect(files.filter((k) => k === 'segment').length, 'several segments').toBeGreaterThanOrEqual(3);
    expect(files).toContain('cursor log');
    expect(
      fs.statSync(filesOf(base.dir).find((f) => f.kind === 'cursor log')!.file).size,
      'cursor records',
    ).toBeGreaterThan(0);
    const copy = copyDir(base.dir, tmp);
    const result = await runner.open(copy);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.damage).toBe(0);
    for (const topic of TOPICS) {
      const got = result.byTopic[topic]!;
      expect(got.nextSeq).toBe(base.written.get(topic)!.length);
      expect(got.nextSeq - got.count).toBe(base.cursors.get(topic));
      checkTopic(topic, got, base.written.get(topic)!, 'undamaged');
    }
  });

  it(
    `${CASES} damaged copies: a valid prefix of every topic, or ERR_CORRUPT / ERR_UNSUPPORTED_FORMAT naming the file`,
    async () => {
      const rng = new Rng(SEED ^ 0x5bd1e995);
      const tally: Tally = { recovered: 0, refused: 0, lossy: 0, byKind: {}, silentCursorChanges: 0 };
      for (let i = 0; i < CASES; i++) {
        const copy = copyDir(base.dir, tmp);
        const d = damage(copy, rng);
        const where = `case ${i} (seed ${SEED}): ${d.how}`;
        const result = await runner.open(copy);
        checkCase(base, d, result, where, tally);
        fs.rmSync(copy, { recursive: true, force: true });
      }
      console.log(
        `corrupt-open: ${CASES} cases (${Object.entries(tally.byKind)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ')}): ` +
          `${tally.recovered} recovered (${tally.lossy} with entries lost to the damage), ${tally.refused} refused; ` +
          `${tally.silentCursorChanges} cursor changes from CURSORS damage that parsed (no checksum there)`,
      );
      // The fuzzer must have exercised both outcomes and lost data somewhere, or it damaged nothing.
      expect(tally.recovered).toBeGreaterThan(0);
      expect(tally.refused).toBeGreaterThan(0);
      expect(tally.lossy).toBeGreaterThan(0);
    },
    FUZZ_TIMEOUT_MS,
  );
});

// ---- the same through the engine ----------------------------------------------------------------

const ENGINE_CALL_MS = 60_000;

describe('corrupt files at open, through the engine (dist/)', () => {
  it(
    'Walrus.open recovers a valid prefix of every topic or rejects with the file named',
    async () => {
      const rng = new Rng(SEED ^ 0x1234567);
      let recovered = 0;
      let refused = 0;
      for (let i = 0; i < 8; i++) {
        const copy = copyDir(base.dir, tmp);
        const d = damage(copy, rng);
        const where = `engine case ${i} (seed ${SEED}): ${d.how}`;
        let wal: Walrus;
        try {
          wal = await within(
            Walrus.open({
              dir: copy,
              writers: 2,
              ringBytes: 64 * 1024,
              segmentBytes: SEGMENT_BYTES,
              blockBytes: BLOCK_BYTES,
              fsync: 'none',
            }),
            `open, ${where}`,
            ENGINE_CALL_MS,
          );
        } catch (err) {
          refused++;
          expect(err, `${where}: rejected with a non-WalError: ${String(err)}`).toBeInstanceOf(BuiltWalError);
          const e = err as BuiltWalError;
          expect(d.kind, `${where}: a damaged segment made open fail (${e.message})`).not.toBe('segment');
          checkError(
            { isWalError: true, name: e.name, code: e.code, details: e.details, message: e.message },
            d,
            where,
          );
          continue;
        }
        recovered++;
        try {
          for (const topic of await wal.topics())
            expect(TOPICS as readonly string[], `${where}: invented topic`).toContain(topic);
          for (const topic of TOPICS) {
            const written = base.written.get(topic)!;
            const count = await wal.count(topic);
            const unread = await within(
              wal.batchRead(topic, { maxBytes: 16 << 20, checkpoint: false }),
              `batchRead, ${where}`,
              ENGINE_CALL_MS,
            );
            expect(unread.length, `${where}: unread entries of ${topic} vs count()`).toBe(count);
            unread.forEach((entry, k) => {
              if (k > 0) expect(entry.seq, `${where}: ${topic} seqs`).toBe(unread[k - 1]!.seq + 1);
              const want = written[entry.seq];
              expect(
                want !== undefined && Buffer.from(entry.data).equals(want),
                `${where}: ${topic}#${entry.seq} is not what was written`,
              ).toBe(true);
            });
            if (d.kind !== 'segment' && unread.length > 0) {
              expect(unread.at(-1)!.seq, `${where}: ${topic} lost entries to damage in ${d.kind}`).toBe(
                written.length - 1,
              );
            }
          }
        } finally {
          await within(wal.close(), `close, ${where}`, ENGINE_CALL_MS);
        }
        fs.rmSync(copy, { recursive: true, force: true });
      }
      console.log(`corrupt-open through the engine: ${recovered} recovered, ${refused} refused`);
      expect(recovered + refused).toBe(8);
    },
    FUZZ_TIMEOUT_MS,
  );
});
