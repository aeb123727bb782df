/**
 * Power-loss simulation of the storage core (docs/DURABILITY.md, the power-loss column).
 *
 * A seeded random workload drives a LogStore whose FileIo is the in-memory RecordingFileIo
 * (test/helpers/recording-file-io.ts documents the crash model). At random mutations (every write,
 * sync, create, rename, unlink is a possible cut point, including those inside open, close,
 * snapshots and reclaims) the simulator builds several disk states a power cut could leave, writes
 * and recovers each with `LogStore.open`: most in memory (a fresh RecordingFileIo holding exactly the
 * state's files, all durable), one in DISK_STATE_EVERY written into a real temp directory and
 * recovered through `nodeFileIo` (on tmpfs when /dev/shm exists: what is under test is the crash
 * model, not the disk, and ext4 flushes on every rename over a file). Every state must open, and:
 *
 * - every append acknowledged as durable is present, intact, in order: under 'each' every
 *   acknowledged append; under { intervalMs } those acknowledged before a call that synced
 *   returned (sync(), close(), or any call that ran the interval sync: seen as its cursor-log
 *   fdatasync); in the state that keeps every pending op (what a process crash leaves), every
 *   acknowledged append, whatever the mode;
 * - each topic is a prefix of what was attempted (no entry that was never written, none altered);
 * - no atomic batch is cut: the part of a batch not yet delivered is all there or all gone;
 * - the cursor never points past the recovered data nor past what was delivered, and a
 *   strictly-at-once read acknowledged durable (every one under 'each') is never delivered again;
 *   at-least-once redelivers at most `persistEvery` entries;
 * - an append after recovery gets the next sequence number and, after another reopen, is there
 *   behind the same prefix (old damage never hides new data, ignored frames never come back);
 * - named consumers (FORMAT §18, §21.1 W6–W7): one whose registration returned exists, one whose
 *   deletion returned does not (cut during either: it may or may not), and each consumer's
 *   position on each topic obeys the cursor checks above on its own (SEMANTICS rule 11).
 * - retention (FORMAT §19.2, §21.1 W8; one configuration opens the store with retention.maxBytes):
 *   after a cut inside a reclaim round from its first segment unlink on, every position is at least
 *   the firstSeq the round gave up (no consumer gets an entry below it back); a position jumps past
 *   what its consumer was handed only up to a firstSeq some round may have made durable; after each
 *   round the segment files are within maxBytes, or only the live segment is left.
 *
 * Under fsync 'none' nothing is promised across a power cut, so only the structure is checked (every
 * state opens, holds a prefix of what was written, batches whole), and that no summary or
 * clean-shutdown record written without fsync is trusted after a reboot: a power-loss state is
 * recovered with another boot id, a process-crash state with the workload's own.
 *
 * Some cut points also "crash for real": the workload continues on one of the crash states, so
 * recovery runs over the leftovers of earlier recoveries (torn tails, stale cursor logs, ignored
 * frames). Under { intervalMs }, the test also checks the sync schedule itself: a mutating call made
 * `intervalMs` after the last sync must sync before it returns.
 *
 * Replay: the seed is printed; POWER_LOSS_SEED=<seed> replays it. WALRUS_CRASH_ROUNDS=<n> runs n
 * times the workloads (default 1: at least MIN_STATES_PER_ROUND crash states, asserted by the last
 * test so that a silent drop in coverage fails; under a minute on a 2-core machine).
 */
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LogStore, type LogStoreOptions, type StoredEntry } from '../../src/storage/log-store.js';
import {
  RecordingFileIo,
  Rng,
  crashStateOf,
  materialize,
  randomCrashStates,
  withoutLock,
  type CrashState,
  type ModelSnapshot,
  type MutationRecord,
} from '../helpers/recording-file-io.js';
import { afterGap, unreadCount, type SeqGap } from '../../src/storage/seq-gaps.js';
import { CURSORS_FILE_NAME, decodeCursorSnapshot } from '../../src/storage/cursor-store.js';
import { TmpDirs } from '../helpers/tmp-dir.js';

const SEED = process.env.POWER_LOSS_SEED !== undefined ? Number(process.env.POWER_LOSS_SEED) : randomInt(2 ** 31);
/** Keeps the disk state of a counterexample for inspection (it is removed otherwise). */
const KEEP_FAILED = process.env.POWER_LOSS_KEEP === '1';
/** Runs only the configurations whose name includes this text. */
const ONLY = process.env.POWER_LOSS_ONLY ?? '';
/** Logs every step and mutation (long; with POWER_LOSS_ONLY and a seed). */
const TRACE = process.env.POWER_LOSS_TRACE === '1';
const ROUNDS = Math.max(1, Math.floor(Number(process.env.WALRUS_CRASH_ROUNDS ?? 1)) || 1);
const SEGMENT_BYTES = 64 * 1024;
const BLOCK_BYTES = 4096;
const MAX_BATCH_ENTRIES = 16;
const STEPS_PER_WORKLOAD = 400;
const WORKLOADS = 3 * ROUNDS;
/** Cut points per workload, roughly: each mutation is a cut with this probability. */
const CUT_PROBABILITY = 0.18;
/** Under a retention limit, inside a reclaim() (FORMAT §21.1 W8): most of its mutations are cut points. */
const ROUND_CUT_PROBABILITY = 0.6;
const STATES_PER_CUT = 14;
/** One crash state in this many is recovered from a real directory through nodeFileIo, the rest in memory. */
const DISK_STATE_EVERY = 10;
/** What a run must reach per round (about 12,000; fewer means coverage was lost). */
const MIN_STATES_PER_ROUND = 10_000;
/** Where the on-disk states are written: tmpfs when there is one. */
const STATES_PARENT = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
/** Of the cuts, how many also become the disk the workload continues on. */
const CONTINUE_PROBABILITY = 0.06;
const INTERVAL_MS = 50;
const ALO_EVERY = 3;
const TOPICS = ['orders', 'événements/😀', 't'] as const;
/** Named consumers the workload registers, reads as, deletes and registers again. */
const CONSUMERS = ['audit', 'réplica-β', 'z'] as const;
/** The default consumer's name in the models (as in `stats().consumers`). */
const DEFAULT = '';
/** What a run must reach per round: states with a named consumer to check, and cuts inside a registration or deletion. */
const MIN_NAMED_STATES_PER_ROUND = 5_000;
const MIN_NAMED_IN_FLIGHT_PER_ROUND = 200;
/** FORMAT §21.1 W8: a limit below what a workload writes (several segments), so rounds delete unconsumed segments. */
const RETENTION_MAX_BYTES = 2 * SEGMENT_BYTES;

type Consistency = NonNullable<LogStoreOptions['readConsistency']>;
type Fsync = NonNullable<LogStoreOptions['fsync']>;

interface Config {
  name: string;
  fsync: Fsync;
  readConsistency: Consistency;
  retention?: { maxBytes: number };
}

const CONFIGS: Config[] = [
  { name: "fsync 'each', strictly-at-once", fsync: 'each', readConsistency: 'strictly-at-once' },
  {
    name: `fsync 'each', at-least-once ${ALO_EVERY}`,
    fsync: 'each',
    readConsistency: { atLeastOnce: { persistEvery: ALO_EVERY } },
  },
  {
    name: `fsync { intervalMs: ${INTERVAL_MS} }, strictly-at-once`,
    fsync: { intervalMs: INTERVAL_MS },
    readConsistency: 'strictly-at-once',
  },
  {
    name: `fsync { intervalMs: ${INTERVAL_MS} }, at-least-once ${ALO_EVERY}`,
    fsync: { intervalMs: INTERVAL_MS },
    readConsistency: { atLeastOnce: { persistEvery: ALO_EVERY } },
  },
  // FORMAT §21.1 W8: reclaim rounds delete the oldest sealed segments beyond maxBytes, consumed or
  // not; every cut inside a round (before its firstSeq snapshot is durable, between it and the
  // unlinks, between a segment's unlink and its summary's, before the unlinks are durable) is a cut point.
  {
    name: `fsync { intervalMs: ${INTERVAL_MS} }, strictly-at-once, retention.maxBytes ${RETENTION_MAX_BYTES}`,
    fsync: { intervalMs: INTERVAL_MS },
    readConsistency: 'strictly-at-once',
    retention: { maxBytes: RETENTION_MAX_BYTES },
  },
  // Nothing is promised across a power cut, but what comes back must still be a log: every entry
  // one that was written, batches whole, no summary or clean-shutdown record written without fsync
  // trusted after a reboot (FORMAT §15.4 rule 4, §16), everything acknowledged after a process crash.
  {
    name: `fsync 'none', at-least-once ${ALO_EVERY}`,
    fsync: 'none',
    readConsistency: { atLeastOnce: { persistEvery: ALO_EVERY } },
  },
];

/** The boot a power-loss state is recovered in (the workload's are `recorded-boot-<n>`). */
const REBOOTED_BOOT_ID = 'rebooted';

// ---- a controllable clock: the interval schedule must replay exactly from the seed -------------

const realNow = Date.now.bind(Date);
let fakeNow: number | null = null;

function withClock<T>(now: number, fn: () => T): T {
  fakeNow = now;
  try {
    return fn();
  } finally {
    fakeNow = null;
  }
}

// ---- what the workload knows, and what a crash state must show -------------------------------

interface TopicModel {
  /** Entry bytes by seq: every append attempted (acknowledged or in flight). */
  attempted: Buffer[];
  /** Appends that returned. */
  acked: number;
  /** Appends that must survive a power cut. */
  durable: number;
  batches: Array<{ first: number; count: number }>;
  /** Per consumer (DEFAULT, or a registered name): its position on this topic. */
  positions: Map<string, PositionModel>;
  /**
   * The highest cursorMax any consumer ever had here, deleted ones included (a read in flight, a
   * registration at the end): seqs below it may lie behind a durable position, so a recorded gap
   * (FORMAT §7.3) may hold them; none above it may.
   */
  positionMax: number;
  /**
   * Retention (FORMAT §19.2, W8): the topic's firstSeq that must be durable — every position is at
   * least it after recovery, so no consumer gets an entry below it back — and the highest one that
   * may be (a reclaim round in flight): only entries below it may be lost to retention, and a
   * position may jump up to it.
   */
  floorDurable: number;
  floorMax: number;
}

/** One consumer's position on one topic. */
interface PositionModel {
  /** The cursor as the store has it (checkpointed reads that returned). */
  cursor: number;
  /** Where a read in flight may have moved the cursor to. */
  cursorMax: number;
  /** The cursor a power cut must keep (minus the at-least-once slack). */
  durableCursor: number;
}

/**
 * A named consumer at the cut: 'registered' once its registration returned (it must exist after
 * recovery), 'in flight' while a registration or deletion runs (it may exist or not). One not in
 * the map must not exist: never registered, or its deletion returned.
 */
type NamedState = 'registered' | 'in flight';

interface Expectations {
  /** Per topic, a copy of its model at the cut (with `durable` as the crash state demands). */
  topics: Map<string, TopicModel>;
  /** Named consumers at the cut; each has a position in every topic's `positions`. */
  consumers: Map<string, NamedState>;
  /** Entries at-least-once may redeliver (0 in strictly-at-once). */
  slack: number;
  /**
   * The boot id the state is recovered in: the workload's own for a process crash (everything
   * kept: the page cache survived), another for a power cut. Under fsync 'none' that decides
   * whether summaries and the clean-shutdown record, written without fsync, may be trusted.
   */
  bootId: string;
  /** fsync 'none': summaries and the record name their boot instead of being synced. */
  unsynced: boolean;
  /**
   * Not fsync 'each': a position (a cursor record, a CURSORS snapshot) may become durable before
   * the entries it passed, so recovery may raise a topic's end past entries that were lost.
   */
  positionsMayOutrunEntries: boolean;
}

interface Recovered {
  nextSeq: number;
  /** Per consumer that exists after recovery (DEFAULT included): its position. */
  positions: Map<string, number>;
}

class Failure extends Error {}

function fail(message: string): never {
  throw new Failure(message);
}

let payloadCounter = 0;

/** Bytes unique to this attempt (a counter in the head), so a stale frame never passes for a new one. */
function payload(rng: Rng, topic: string, seq: number, sizeBytes: number): Buffer {
  const head = Buffer.from(`${topic}#${seq}@${payloadCounter++}|`);
  if (sizeBytes <= 0) return Buffer.alloc(0);
  const out = Buffer.alloc(sizeBytes);
  head.copy(out, 0, 0, Math.min(head.byteLength, sizeBytes));
  const salt = rng.int(256);
  for (let i = head.byteLength; i < sizeBytes; i++) out[i] = (i * 31 + salt) & 0xff;
  return out;
}

function entrySize(rng: Rng): number {
  const r = rng.next();
  if (r < 0.04) return 0;
  if (r < 0.14) return rng.between(BLOCK_BYTES - 64, 2 * BLOCK_BYTES + 300); // frames that span blocks
  if (r < 0.5) return rng.between(600, 2500);
  return rng.between(1, 400);
}

function storeOptions(dir: string, config: Config, io?: RecordingFileIo): LogStoreOptions {
  const options: LogStoreOptions = {
    dir,
    fsync: config.fsync,
    readConsistency: config.readConsistency,
    segmentBytes: SEGMENT_BYTES,
    blockBytes: BLOCK_BYTES,
    maxBatchEntries: MAX_BATCH_ENTRIES,
  };
  if (io) options.io = io;
  if (config.retention) options.retention = config.retention;
  return options;
}

// ---- checking one crash state ------------------------------------------------------------------

let stateDirCounter = 0;

/**
 * Recovers `state` and checks it against `exp`: `onDisk`, from a real directory through nodeFileIo;
 * otherwise in memory, from a RecordingFileIo holding the state's files (rooted at `workDir`'s
 * empty `in-memory` directory, which exists only so the directory lock can resolve its name). With
 * `reopen`, also appends a probe per topic, reopens and checks the prefix plus the probe again.
 * Returns what was recovered.
 */
function checkCrashState(
  state: CrashState,
  exp: Expectations,
  root: string,
  workDir: string,
  reopen: boolean,
  onDisk: boolean,
): Map<string, Recovered> {
  const dir = path.join(workDir, onDisk ? `state-${stateDirCounter}` : 'in-memory');
  stateDirCounter++;
  let io: RecordingFileIo | undefined;
  if (onDisk) materialize(state, root, dir);
  else {
    fs.mkdirSync(dir, { recursive: true });
    io = new RecordingFileIo(dir, exp.bootId);
    const files = new Map<string, Uint8Array>();
    for (const [filePath, bytes] of withoutLock(state.files, root)) {
      const target = path.join(dir, path.relative(root, filePath));
      io.mkdirp(path.dirname(target));
      files.set(target, bytes);
    }
    io.resetTo(files);
  }
  try {
    const recoveryOptions: LogStoreOptions = {
      ...(io === undefined ? {} : { io }),
      dir,
      fsync: 'none',
      segmentBytes: SEGMENT_BYTES,
      blockBytes: BLOCK_BYTES,
      maxBatchEntries: 1_000_000,
    };
    const recovered = new Map<string, Recovered>();
    const probes = new Map<string, Buffer>();
    let store = openOrFail(recoveryOptions, 'first recovery');
    // docs/FORMAT.md §15.4: the states that reopen through trusted summaries, and the summaries not
    // trusted: in memory none may be (a published summary always matches its durable segment); a
    // state copied to a real directory has new inodes, so each of its summaries is distrusted.
    const clean = store.recovery.cleanShutdown;
    if (store.recovery.summarizedFiles > 0) summaryStates.trusted++;
    if (clean.found) summaryStates.cleanFound++;
    if (clean.matched) summaryStates.cleanMatched++;
    // A state copied to a real directory is read with the machine's boot id: another boot too.
    const rebooted = exp.unsynced && (onDisk || exp.bootId === REBOOTED_BOOT_ID);
    if (rebooted) {
      // §15.4 rule 4, §16: written without fsync, they vouch for a page cache a reboot lost.
      summaryStates.unsyncedRebooted++;
      if (store.recovery.summarizedFiles > 0)
        fail(`${store.recovery.summarizedFiles} summaries written without fsync were trusted after a reboot`);
      if (clean.matched) fail('a clean-shutdown record written without fsync matched after a reboot');
    } else if (exp.unsynced) {
      // A process crash keeps the boot, but files written without fsync in an earlier boot (the
      // workload goes on after a power cut) may still lie there, torn: distrusting them is right.
      summaryStates.unsyncedSameBoot++;
    } else {
      // §16: a clean-shutdown record that survived a cut was written last, after everything it
      // names was durable, and an open replaces it durably before any other write: in memory it
      // must match.
      if (clean.found && !clean.matched && !onDisk)
        fail(`a clean-shutdown record did not match its power-loss state: ${clean.why}`);
      if (onDisk) summaryStates.copiedDistrusted += store.recovery.distrustedSummaries.length;
      else
        for (const d of store.recovery.distrustedSummaries)
          fail(`a published summary was not trusted in a power-loss state: ${d.path}: ${d.why}`);
    }
    try {
      for (const topic of store.topics())
        if (!exp.topics.has(topic)) fail(`recovery invented topic ${JSON.stringify(topic)}`);
      // W7: a registration or deletion is durable once it returned; cut inside it, either outcome.
      const present = store.consumers();
      for (const name of present)
        if (!exp.consumers.has(name))
          fail(`consumer ${JSON.stringify(name)} exists after recovery: never registered, or its deletion returned`);
      for (const [name, named] of exp.consumers) {
        const found = present.includes(name);
        if (named === 'registered' && !found)
          fail(`LOST consumer ${JSON.stringify(name)}, whose registration returned`);
        if (named === 'in flight') namedStates[found ? 'inFlightPresent' : 'inFlightAbsent']++;
      }
      if (present.length > 0) namedStates.withNamed++;
      const readers = [DEFAULT, ...present];
      const stateGaps = gapsOf(store);
      const cursorsFile = state.files.get(path.join(root, CURSORS_FILE_NAME));
      if (cursorsFile !== undefined && [...firstSeqsIn(cursorsFile).values()].some((f) => f > 0))
        retentionStats.statesWithFirstSeq++;
      for (const [topic, model] of exp.topics) {
        // Every consumer's position, count and unread entries, before the probe append moves the end.
        const reads = readers.map((name) => {
          const options = name === DEFAULT ? {} : { consumer: name };
          const cursor = store.position(topic, options);
          const count = store.count(topic, options);
          const unread = store.batchRead(topic, { maxBytes: 2 ** 30, checkpoint: false, ...options });
          return { name, cursor, count, unread };
        });
        const probe = Buffer.from(`probe ${topic} ${stateDirCounter}`);
        const nextSeq = store.append(topic, probe);
        probes.set(topic, probe);
        const positions = new Map<string, number>();
        // A recovered end is at least every position (FORMAT §18.1): a batch may end cut there.
        const highest = Math.max(...reads.map((r) => r.cursor));
        // Seqs some consumer was ever handed: the only ones a recorded gap may hold (FORMAT §7.3).
        const passed = model.positionMax;
        for (const { name, cursor, count, unread } of reads) {
          const who = name === DEFAULT ? '' : `, consumer ${JSON.stringify(name)}`;
          const where = `topic ${JSON.stringify(topic)}${who} (recovered end ${nextSeq}, cursor ${cursor})`;
          if (cursor > nextSeq) fail(`${where}: cursor points past the recovered data`);
          if (unread.length !== count)
            fail(`${where}: count() says ${count} unread, batchRead returned ${unread.length}`);
          checkEntriesAcrossGaps(unread, cursor, nextSeq, passed, model.attempted, where);
          const position = model.positions.get(name)!;
          // W8: a firstSeq that was durable holds every position at or above it after any cut.
          if (cursor < model.floorDurable)
            fail(`${where}: RETENTION: entries below the durable firstSeq ${model.floorDurable} are readable again`);
          // Past what was delivered only up to a firstSeq some reclaim round may have made durable.
          if (cursor > Math.max(position.cursorMax, model.floorMax)) {
            fail(
              `${where}: cursor is past what was ever delivered (${position.cursorMax}) and any retention firstSeq (${model.floorMax}): entries were skipped`,
            );
          }
          if (cursor > position.cursorMax) retentionStats.positionsRaised++;
          // Counted in entries: seqs of a recorded gap between are not delivered again (none are stored).
          if (unreadCount(stateGaps.get(topic), cursor, position.durableCursor) > exp.slack) {
            fail(
              `${where}: REDELIVERY: a durable checkpoint had the cursor at ${position.durableCursor} (slack ${exp.slack})`,
            );
          }
          positions.set(name, cursor);
        }
        const where = `topic ${JSON.stringify(topic)} (recovered end ${nextSeq})`;
        if (nextSeq > model.attempted.length)
          fail(`${where}: ${nextSeq} entries recovered, only ${model.attempted.length} were ever written`);
        if (nextSeq < model.durable) {
          fail(
            `${where}: LOST acknowledged durable appends (or the end moved back, to reuse seqs): ${model.durable} must survive`,
          );
        }
        for (const batch of model.batches) {
          // The part of a batch still to be delivered is all there or all gone. (A batch may end
          // up cut at a cursor: its first entries were read before the crash, which under
          // { intervalMs } may lose the rest, not yet durable, while a cursor snapshot was.)
          if (Math.max(batch.first, highest) < nextSeq && nextSeq < batch.first + batch.count) {
            fail(`${where}: batch [${batch.first}, ${batch.first + batch.count}) is cut at ${nextSeq}`);
          }
        }
        recovered.set(topic, { nextSeq, positions });
      }
    } finally {
      store.close();
    }
    if (!reopen) return recovered;
    store = openOrFail(recoveryOptions, 'second recovery (after a probe append)');
    try {
      for (const [topic, model] of exp.topics) {
        const { nextSeq, positions } = recovered.get(topic)!;
        const written = [...model.attempted.slice(0, nextSeq), probes.get(topic)!];
        const passed = model.positionMax;
        for (const [name, position] of positions) {
          const options = name === DEFAULT ? {} : { consumer: name };
          const who = name === DEFAULT ? '' : `, consumer ${JSON.stringify(name)}`;
          const where = `topic ${JSON.stringify(topic)}${who} after a probe append and a reopen`;
          if (store.position(topic, options) !== position)
            fail(`${where}: position ${store.position(topic, options)}, expected ${position}`);
          const unread = store.batchRead(topic, { maxBytes: 2 ** 30, checkpoint: false, ...options });
          const count = store.count(topic, options);
          if (unread.length !== count) fail(`${where}: batchRead returned ${unread.length} of ${count}`);
          // The probe, appended after any gap, survives the reopen and comes last.
          if (unread.at(-1)?.seq !== nextSeq) fail(`${where}: LOST the probe appended at ${nextSeq}`);
          checkEntriesAcrossGaps(unread, position, nextSeq + 1, passed, written, where);
        }
      }
    } finally {
      store.close();
    }
    return recovered;
  } finally {
    if (onDisk) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * FORMAT §21.1 W8: states whose CURSORS had a firstSeq > 0 (retention had given seqs up), positions
 * a retention firstSeq moved past what their consumer was delivered, and cuts inside a round that
 * gave seqs up, by where in the round (§19.2's steps).
 */
const retentionStats = {
  ...{ statesWithFirstSeq: 0, positionsRaised: 0, rounds: 0 },
  cuts: {
    'before the firstSeq snapshot was durable': 0,
    'between the snapshot and the unlinks': 0,
    "between a segment's unlink and its summary's": 0,
    'unlinks not yet durable': 0,
  } as Record<RoundCut, number>,
};

type RoundCut =
  | 'before the firstSeq snapshot was durable'
  | 'between the snapshot and the unlinks'
  | "between a segment's unlink and its summary's"
  | 'unlinks not yet durable';

/** Each topic's firstSeq in a CURSORS file (by topic name). */
function firstSeqsIn(bytes: Uint8Array): Map<string, number> {
  const snapshot = decodeCursorSnapshot(bytes, CURSORS_FILE_NAME);
  return new Map(snapshot.topics.map(([name, , firstSeq]) => [name, firstSeq]));
}

/**
 * Where in a reclaim round that gave seqs up (its mutations `ms`) a cut after mutation `k` falls.
 * §19.2: the firstSeq snapshot (its directory fsync the last before the first segment unlink), the
 * unlinks (each segment, then its summary), one directory fsync; null after that.
 */
function roundCutOf(ms: readonly MutationRecord[], k: number): RoundCut | null {
  const firstUnlink = ms.findIndex(isSegmentUnlink);
  const durable = ms.slice(0, firstUnlink).findLastIndex((m) => m.op === 'fsyncDir');
  if (k < durable) return 'before the firstSeq snapshot was durable';
  if (k < firstUnlink) return 'between the snapshot and the unlinks';
  if (isSegmentUnlink(ms[k]!)) return "between a segment's unlink and its summary's";
  if (k === ms.length - 1 && ms[k]!.op === 'fsyncDir') return null;
  return 'unlinks not yet durable';
}

function isSegmentUnlink(m: MutationRecord): boolean {
  return m.op === 'unlink' && m.path.endsWith('.seg');
}

/** States with a named consumer to check, and registrations or deletions cut in flight by outcome. */
const namedStates = { withNamed: 0, inFlightPresent: 0, inFlightAbsent: 0, gapStates: 0 };

/** How many recovered states took some segment from a summary, and how many distrusted one. */
const summaryStates = {
  ...{ trusted: 0, copiedDistrusted: 0, cleanFound: 0, cleanMatched: 0 },
  /** fsync 'none': states recovered after a reboot (nothing unsynced trusted), and after a process crash. */
  ...{ unsyncedRebooted: 0, unsyncedSameBoot: 0 },
};

function openOrFail(options: LogStoreOptions, what: string): LogStore {
  try {
    return LogStore.open(options);
  } catch (err) {
    return fail(`${what} failed to open: ${(err as Error).stack ?? String(err)}`);
  }
}

function checkEntries(entries: StoredEntry[], from: number, attempted: readonly Buffer[], where: string): void {
  entries.forEach((entry, i) => {
    const seq = from + i;
    if (entry.seq !== seq) fail(`${where}: entry ${i} has seq ${entry.seq}, expected ${seq}`);
    const want = attempted[seq];
    if (want === undefined) fail(`${where}: entry ${seq} was never written`);
    if (!Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength).equals(want)) {
      fail(`${where}: entry ${seq} is ALTERED (${entry.data.byteLength} bytes, expected ${want.byteLength})`);
    }
  });
}

/**
 * `entries` are what a consumer at `from` has left before `end`: in seq order, each as written, and
 * every seq they skip is below `passed` (some consumer had been handed it: a recorded gap holds only
 * such seqs, FORMAT §7.3). Each skipped run is counted in namedStates.gapStates.
 */
function checkEntriesAcrossGaps(
  entries: StoredEntry[],
  from: number,
  end: number,
  passed: number,
  attempted: readonly Buffer[],
  where: string,
): void {
  let expected = from;
  let skipped = false;
  for (const entry of entries) {
    if (entry.seq < expected) fail(`${where}: entry ${entry.seq} out of order (expected ${expected} or later)`);
    if (entry.seq > expected) {
      if (entry.seq > passed)
        fail(`${where}: seqs ${expected}..${entry.seq - 1} missing, and no consumer had passed them`);
      skipped = true;
    }
    checkEntries([entry], entry.seq, attempted, where);
    expected = entry.seq + 1;
  }
  if (expected < end && end > passed)
    fail(`${where}: entries ${expected}..${end - 1} missing, and no consumer had passed them`);
  if (skipped || expected < end) namedStates.gapStates++;
}

/** A store's recorded gaps (FORMAT §7.3) by topic name, as the model's counts need them. */
function gapsOf(store: LogStore): Map<string, SeqGap[]> {
  const byTopic = new Map<string, SeqGap[]>();
  for (const g of store.recovery.gaps) {
    const list = byTopic.get(g.topic) ?? [];
    list.push({ topicId: 0, fromSeq: g.fromSeq, toSeq: g.toSeq });
    byTopic.set(g.topic, list);
  }
  return byTopic;
}

// ---- the workload ------------------------------------------------------------------------------

interface Cut {
  snapshot: ModelSnapshot;
  mutation: MutationRecord;
  step: number;
  action: string;
  exp: Expectations;
  /** What a process crash (every pending op kept) must show: every acknowledged append and read. */
  expAll: Expectations;
  continueHere: boolean;
}

/** A reclaim() in progress: its mutations, and the cuts taken inside it (after mutation `at` of them). */
interface ReclaimRound {
  mutations: MutationRecord[];
  cuts: Array<{ cut: Cut; at: number }>;
}

interface RunStats {
  cuts: number;
  states: number;
  /** Of the states, those recovered from a real directory. */
  onDisk: number;
  continued: number;
  steps: number;
}

class Workload {
  readonly #config: Config;
  readonly #rng: Rng;
  readonly #io: RecordingFileIo;
  readonly #root: string;
  readonly #workDir: string;
  readonly #label: string;
  readonly #topics = new Map<string, TopicModel>(TOPICS.map((t) => [t, newTopic()]));
  /** Named consumers now (between steps all 'registered'); their positions are in each TopicModel. */
  readonly #consumers = new Map<string, NamedState>();
  readonly #slack: number;
  readonly #cuts: Cut[] = [];
  #store: LogStore | null = null;
  /** The store's recorded gaps as of its open, by topic name (counts leave them out). */
  #gaps = new Map<string, SeqGap[]>();
  #round: ReclaimRound | null = null;
  #clock = 1_700_000_000_000;
  #lastSyncClock = 0;
  #syncsThisCall = 0;
  #step = 0;
  #action = 'open';
  readonly stats: RunStats = { cuts: 0, states: 0, onDisk: 0, continued: 0, steps: 0 };

  constructor(config: Config, seed: number, root: string, workDir: string, label: string) {
    this.#config = config;
    this.#rng = new Rng(seed);
    this.#root = root;
    this.#workDir = workDir;
    this.#label = label;
    // Its boot id changes at each resetTo: the workload going on after a power cut is a new boot.
    this.#io = new RecordingFileIo(root);
    this.#slack = config.readConsistency === 'strictly-at-once' ? 0 : config.readConsistency.atLeastOnce.persistEvery;
    this.#io.onMutation = (m) => this.#onMutation(m);
  }

  run(steps: number): void {
    this.#open();
    for (this.#step = 1; this.#step <= steps; this.#step++) {
      this.#doStep();
      if (TRACE) console.log(`step ${this.#step}: ${this.#action}`);
      this.stats.steps++;
      this.#processCuts();
    }
    this.#action = 'final close';
    this.#call(() => this.#store!.close());
    this.#markAllDurable();
    this.#processCuts();
    this.#io.onMutation = null;
  }

  // ---- steps -----------------------------------------------------------------------------------

  #doStep(): void {
    const rng = this.#rng;
    const topic = rng.pick(TOPICS);
    if (rng.chance(0.04)) {
      // Registrations and deletions are rare (each is a CURSORS snapshot), as in a real program.
      const name = rng.pick(CONSUMERS);
      if (this.#consumers.has(name) && rng.chance(0.6)) this.#deleteConsumer(name);
      else this.#register(name);
      return;
    }
    const r = rng.next();
    const reader = this.#pickReader();
    if (r < 0.3) this.#append(topic);
    else if (r < 0.4) this.#batchAppend(topic);
    else if (r < 0.52) this.#readNext(topic, true, reader);
    else if (r < 0.55) this.#readNext(topic, false, reader);
    else if (r < 0.65) this.#batchRead(topic, true, reader);
    else if (r < 0.68) this.#batchRead(topic, false, reader);
    else if (r < 0.8) {
      this.#action = 'clock';
      this.#clock += rng.int(2 * INTERVAL_MS);
    } else if (r < 0.84) {
      this.#action = 'sync()';
      this.#call(() => this.#store!.sync());
      this.#markAllDurable();
    } else if (r < 0.88) {
      this.#reclaim();
    } else if (r < 0.9) {
      this.#action = 'close() and reopen';
      this.#call(() => this.#store!.close());
      this.#markAllDurable();
      this.#open();
    } else {
      this.#action = `count(${topic}) of consumer ${JSON.stringify(reader)}`;
      const model = this.#topics.get(topic)!;
      const expected = unreadCount(this.#gaps.get(topic), model.positions.get(reader)!.cursor, model.attempted.length);
      this.#expect(this.#store!.count(topic, selector(reader)) === expected, `count is not ${expected}`);
    }
  }

  /** Who a read is for: the default consumer half the time, else a registered named one. */
  #pickReader(): string {
    const named = [...this.#consumers.keys()];
    return named.length > 0 && this.#rng.chance(0.5) ? this.#rng.pick(named) : DEFAULT;
  }

  /** `consumer(name, { startAt })`: registers a new name durably; a known one changes nothing. */
  #register(name: string): void {
    const startAt = this.#rng.chance(0.5) ? 'earliest' : 'latest';
    const known = this.#consumers.has(name);
    this.#action = `consumer(${JSON.stringify(name)}, ${startAt})${known ? ' (registered already)' : ''}`;
    if (!known) {
      // In flight: if it survives a cut it starts at most at the end and has read nothing.
      this.#consumers.set(name, 'in flight');
      for (const m of this.#topics.values()) {
        m.positions.set(name, { cursor: 0, cursorMax: m.attempted.length, durableCursor: 0 });
        m.positionMax = Math.max(m.positionMax, m.attempted.length);
      }
    }
    this.#mutatingCall(!known, () => this.#store!.consumer(name, { startAt }));
    this.#consumers.set(name, 'registered');
    for (const [topic, m] of this.#topics) {
      const cursor = this.#store!.position(topic, { consumer: name });
      if (known) {
        this.#expect(cursor === m.positions.get(name)!.cursor, `a known consumer moved to ${cursor} on ${topic}`);
        continue;
      }
      if (startAt === 'latest')
        this.#expect(cursor === m.attempted.length, `'latest' started at ${cursor} on ${topic}`);
      // 'earliest': the first entry still stored, and nothing any consumer has not read is gone (rule 12).
      else
        for (const [other, p] of m.positions)
          if (other !== name)
            this.#expect(
              // A position inside a recorded gap reads from its end on (FORMAT §7.3).
              cursor <= afterGap(this.#gaps.get(topic), p.cursor),
              `'earliest' started at ${cursor} on ${topic}, past ${JSON.stringify(other)}`,
            );
      // The registration's snapshot holds the start: durable (in every fsync mode).
      m.positions.set(name, { cursor, cursorMax: cursor, durableCursor: cursor });
    }
  }

  #deleteConsumer(name: string): void {
    this.#action = `deleteConsumer(${JSON.stringify(name)})`;
    this.#consumers.set(name, 'in flight');
    this.#mutatingCall(true, () => this.#store!.deleteConsumer(name));
    this.#consumers.delete(name);
    for (const m of this.#topics.values()) m.positions.delete(name);
  }

  #append(topic: string): void {
    const model = this.#topics.get(topic)!;
    const seq = model.attempted.length;
    const data = payload(this.#rng, topic, seq, entrySize(this.#rng));
    model.attempted.push(data);
    this.#action = `append(${topic}) #${seq} (${data.byteLength} B)`;
    const got = this.#mutatingCall(true, () => this.#store!.append(topic, data));
    this.#expect(got === seq, `append returned seq ${got}, expected ${seq}`);
    model.acked = seq + 1;
    this.#afterAck();
  }

  #batchAppend(topic: string): void {
    const model = this.#topics.get(topic)!;
    const first = model.attempted.length;
    const count = this.#rng.between(1, 6);
    const entries = Array.from({ length: count }, (_, i) =>
      payload(this.#rng, topic, first + i, this.#rng.chance(0.1) ? entrySize(this.#rng) : this.#rng.between(0, 700)),
    );
    model.attempted.push(...entries);
    model.batches.push({ first, count });
    this.#action = `batchAppend(${topic}) #${first}..${first + count - 1}`;
    const got = this.#mutatingCall(true, () => this.#store!.batchAppend(topic, entries));
    this.#expect(got.join() === entries.map((_, i) => first + i).join(), `batchAppend returned seqs ${got.join()}`);
    model.acked = first + count;
    this.#afterAck();
  }

  #readNext(topic: string, checkpoint: boolean, reader: string): void {
    const model = this.#topics.get(topic)!;
    const position = model.positions.get(reader)!;
    const gaps = this.#gaps.get(topic);
    const unread = unreadCount(gaps, position.cursor, model.attempted.length);
    // A read skips a recorded gap (FORMAT §7.3): the entry it returns is the first one after it.
    const seq = afterGap(gaps, position.cursor);
    this.#action = `readNext(${topic}, checkpoint ${checkpoint}${ofConsumer(reader)}) at ${position.cursor}`;
    if (checkpoint && unread > 0) this.#mayHandOut(model, position, seq + 1);
    const entry = this.#mutatingCall(checkpoint && unread > 0, () =>
      this.#store!.readNext(topic, { checkpoint, ...selector(reader) }),
    );
    if (unread === 0) {
      this.#expect(entry === null, `readNext(${topic}) returned an entry past the end`);
      return;
    }
    this.#expect(entry !== null, `readNext(${topic}) returned null with ${unread} unread`);
    this.#checkRead([entry!], model, [seq]);
    if (checkpoint) this.#consumed(position, seq + 1);
  }

  #batchRead(topic: string, checkpoint: boolean, reader: string): void {
    const model = this.#topics.get(topic)!;
    const position = model.positions.get(reader)!;
    const gaps = this.#gaps.get(topic);
    const maxBytes = this.#rng.chance(0.2) ? 1 : this.#rng.between(200, 12_000);
    // What the call must return, per docs/SEMANTICS.md rule D2: at least one, then within maxBytes
    // and the cap; LogStore's batches go on past a recorded gap.
    const seqs: number[] = [];
    let bytes = 0;
    for (
      let seq = afterGap(gaps, position.cursor);
      seq < model.attempted.length && seqs.length < MAX_BATCH_ENTRIES;
      seq = afterGap(gaps, seq + 1)
    ) {
      const size = model.attempted[seq]!.byteLength;
      if (seqs.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      seqs.push(seq);
    }
    const n = seqs.length;
    this.#action = `batchRead(${topic}, ${maxBytes} B, checkpoint ${checkpoint}${ofConsumer(reader)}) at ${position.cursor}`;
    if (checkpoint && n > 0) this.#mayHandOut(model, position, seqs.at(-1)! + 1);
    const got = this.#mutatingCall(checkpoint && n > 0, () =>
      this.#store!.batchRead(topic, { maxBytes, checkpoint, ...selector(reader) }),
    );
    this.#expect(got.length === n, `batchRead returned ${got.length} entries, expected ${n}`);
    this.#checkRead(got, model, seqs);
    if (checkpoint && n > 0) this.#consumed(position, seqs.at(-1)! + 1);
  }

  /** `entries` are exactly the entries `seqs`, as written. */
  #checkRead(entries: StoredEntry[], model: TopicModel, seqs: readonly number[]): void {
    try {
      entries.forEach((entry, i) => checkEntries([entry], seqs[i]!, model.attempted, this.#action));
    } catch (err) {
      this.#fail((err as Error).message);
    }
  }

  /** A checkpointed read in flight may move the position up to `cursor`. */
  #mayHandOut(model: TopicModel, position: PositionModel, cursor: number): void {
    position.cursorMax = Math.max(position.cursorMax, cursor);
    model.positionMax = Math.max(model.positionMax, cursor);
  }

  /** A checkpointed read moved the position to `cursor`. */
  #consumed(position: PositionModel, cursor: number): void {
    position.cursor = cursor;
    // 'each' syncs every persisted cursor record before the read returns.
    if (this.#config.fsync === 'each') position.durableCursor = position.cursor;
  }

  /**
   * reclaim(): under a retention limit it may give seqs up (FORMAT §19.2), which the model learns
   * from CURSORS once it returned. The cuts taken inside the round are then told the bound: entries
   * below the new firstSeq may be gone (and positions moved up to it); after the first segment
   * unlink the firstSeq must be durable (step 1 comes before any unlink).
   */
  #reclaim(): void {
    this.#action = 'reclaim()';
    const round: ReclaimRound = { mutations: [], cuts: [] };
    this.#round = round;
    try {
      this.#call(() => this.#store!.reclaim());
    } finally {
      this.#round = null;
    }
    const firstSeqs = this.#firstSeqsOnDisk();
    const firstUnlink = round.mutations.findIndex(isSegmentUnlink);
    let raised = false;
    for (const [topic, m] of this.#topics) {
      const firstSeq = firstSeqs.get(topic) ?? 0;
      this.#expect(firstSeq >= m.floorDurable, `the firstSeq of ${topic} moved back to ${firstSeq}`);
      if (firstSeq === m.floorDurable) continue;
      this.#expect(this.#config.retention !== undefined, `the firstSeq of ${topic} rose without a retention limit`);
      this.#expect(firstUnlink >= 0, `the firstSeq of ${topic} rose to ${firstSeq} and no segment was deleted`);
      raised = true;
      for (const { cut, at } of round.cuts) {
        for (const exp of [cut.exp, cut.expAll]) {
          const t = exp.topics.get(topic)!;
          t.floorMax = Math.max(t.floorMax, firstSeq);
          if (at >= firstUnlink) t.floorDurable = firstSeq;
        }
      }
      m.floorDurable = m.floorMax = firstSeq;
      for (const [name, p] of m.positions) {
        // Rule D22: a consumer behind continues from the first retained entry (durably: CURSORS).
        const cursor = Math.max(p.cursor, firstSeq);
        const got = this.#store!.position(topic, selector(name));
        this.#expect(got === cursor, `position(${topic}${ofConsumer(name)}) is ${got} after retention, not ${cursor}`);
        p.cursor = cursor;
        p.cursorMax = Math.max(p.cursorMax, cursor);
        p.durableCursor = Math.max(p.durableCursor, cursor);
      }
    }
    if (raised) {
      retentionStats.rounds++;
      for (const { at } of round.cuts) {
        const where = roundCutOf(round.mutations, at);
        if (where !== null) retentionStats.cuts[where]++;
      }
    }
    if (this.#config.retention !== undefined) this.#checkWithinLimit(this.#config.retention.maxBytes);
  }

  /** After a round under maxBytes: the segment files are within it, or only the newest (live) one is left to delete. */
  #checkWithinLimit(maxBytes: number): void {
    const unreadable = new Set(this.#store!.recovery.skippedFiles.map((f) => path.basename(f)));
    const names = this.#io
      .readdir(this.#root)
      .filter((name) => name.endsWith('.seg'))
      .sort();
    const total = names.reduce((n, name) => n + this.#io.readFile(path.join(this.#root, name)).byteLength, 0);
    const sealed = names.slice(0, -1).filter((name) => !unreadable.has(name));
    this.#expect(
      total <= maxBytes || sealed.length === 0,
      `after reclaim() ${total} segment bytes exceed retention.maxBytes ${maxBytes}, and ${sealed.length} sealed segments remain`,
    );
  }

  /** Each topic's firstSeq in the workload's CURSORS. */
  #firstSeqsOnDisk(): Map<string, number> {
    return firstSeqsIn(this.#io.readFile(path.join(this.#root, CURSORS_FILE_NAME)));
  }

  #afterAck(): void {
    if (this.#config.fsync === 'each') for (const model of this.#topics.values()) model.durable = model.acked;
  }

  /** A call that must sync first when a sync is due ({ intervalMs }: the schedule under test). */
  #mutatingCall<T>(mutating: boolean, fn: () => T): T {
    const interval = typeof this.#config.fsync === 'object';
    const due = interval && mutating && this.#clock - this.#lastSyncClock >= INTERVAL_MS;
    const before = [...this.#topics.values()].map((m) => ({
      m,
      acked: m.acked,
      cursors: [...m.positions].map(([name, p]) => [name, p.cursor] as const),
    }));
    this.#syncsThisCall = 0;
    const result = this.#call(fn);
    if (due)
      this.#expect(
        this.#syncsThisCall > 0,
        `a sync was due (${this.#clock - this.#lastSyncClock} ms since the last) but ${this.#action} did not sync`,
      );
    if (interval && this.#syncsThisCall > 0) {
      // The sync ran before this call wrote anything: what was acknowledged before the call is
      // durable now. (Only from here on: a cut inside the call is not held to it, so the order of
      // the steps inside sync() is not assumed.)
      for (const { m, acked, cursors } of before) {
        m.durable = Math.max(m.durable, acked);
        for (const [name, cursor] of cursors) {
          const p = m.positions.get(name);
          if (p !== undefined) p.durableCursor = Math.max(p.durableCursor, cursor);
        }
      }
    }
    return result;
  }

  #call<T>(fn: () => T): T {
    try {
      return withClock(this.#clock, fn);
    } catch (err) {
      if (err instanceof Failure) throw err;
      return this.#fail(`${this.#action} threw: ${(err as Error).stack ?? String(err)}`);
    }
  }

  #open(): void {
    this.#action = 'open';
    this.#store = this.#call(() => LogStore.open(storeOptions(this.#root, this.#config, this.#io)));
    this.#lastSyncClock = this.#clock;
    this.#gaps = gapsOf(this.#store);
    const names = [...this.#consumers.keys()].sort();
    const listed = this.#store.consumers();
    this.#expect(
      listed.join() === names.join(),
      `consumers() is ${JSON.stringify(listed)}, expected ${JSON.stringify(names)}`,
    );
    for (const [topic, model] of this.#topics) {
      for (const [name, p] of model.positions) {
        const count = this.#store.count(topic, selector(name));
        const expected = unreadCount(this.#gaps.get(topic), p.cursor, model.attempted.length);
        // A clean close persisted every cursor: nothing is delivered again, in either consistency.
        this.#expect(
          count === expected,
          `after a clean reopen, count(${topic}${ofConsumer(name)}) is ${count}, expected ${expected}`,
        );
      }
    }
  }

  #markAllDurable(): void {
    // Under fsync 'none' neither sync() nor close() fsyncs: nothing becomes durable.
    if (this.#config.fsync === 'none') return;
    for (const model of this.#topics.values()) {
      model.durable = model.acked;
      for (const p of model.positions.values()) p.durableCursor = p.cursor;
    }
  }

  // ---- cut points ----------------------------------------------------------------------------

  #onMutation(m: MutationRecord): void {
    if (TRACE) console.log(`  #${m.index} ${m.op} ${path.basename(m.path)} ${m.detail}`);
    this.#round?.mutations.push(m);
    // Every LogStore.sync() fdatasyncs the cursor log (under { intervalMs } nothing else does):
    // that is how a call is seen to have synced.
    if (m.op === 'fdatasync' && /^cursors-[0-9a-f]{8}\.log$/.test(path.basename(m.path))) {
      this.#syncsThisCall++;
      this.#lastSyncClock = this.#clock;
    }
    // W8: under a retention limit a reclaim round is cut much more often (a round is a few mutations).
    const inRound = this.#round !== null && this.#config.retention !== undefined;
    if (!this.#rng.chance(inRound ? ROUND_CUT_PROBABILITY : CUT_PROBABILITY)) return;
    const cut: Cut = {
      snapshot: this.#io.snapshot(),
      mutation: m,
      step: this.#step,
      action: this.#action,
      exp: this.#expectations(false),
      expAll: this.#expectations(true),
      continueHere: this.#rng.chance(CONTINUE_PROBABILITY),
    };
    this.#cuts.push(cut);
    if (this.#round !== null) this.#round.cuts.push({ cut, at: this.#round.mutations.length - 1 });
  }

  #expectations(everythingKept: boolean): Expectations {
    const topics: Expectations['topics'] = new Map();
    for (const [topic, m] of this.#topics) {
      topics.set(topic, {
        attempted: m.attempted.slice(),
        acked: m.acked,
        durable: everythingKept ? m.acked : m.durable,
        batches: m.batches.slice(),
        positionMax: m.positionMax,
        floorDurable: m.floorDurable,
        floorMax: m.floorMax,
        positions: new Map(
          [...m.positions].map(([name, p]) => [
            name,
            { cursor: p.cursor, cursorMax: p.cursorMax, durableCursor: everythingKept ? p.cursor : p.durableCursor },
          ]),
        ),
      });
    }
    return {
      topics,
      consumers: new Map(this.#consumers),
      slack: this.#slack,
      bootId: everythingKept ? this.#io.bootId()! : REBOOTED_BOOT_ID,
      unsynced: this.#config.fsync === 'none',
      positionsMayOutrunEntries: this.#config.fsync !== 'each',
    };
  }

  #processCuts(): void {
    let continueWith: { state: CrashState; recovered: Map<string, Recovered> } | null = null;
    for (const cut of this.#cuts.splice(0)) {
      this.stats.cuts++;
      const states = randomCrashStates(cut.snapshot, this.#rng, STATES_PER_CUT);
      for (const state of states) {
        this.stats.states++;
        const onDisk = this.stats.states % DISK_STATE_EVERY === 0;
        if (onDisk) this.stats.onDisk++;
        const exp = state.style === 'all' ? cut.expAll : cut.exp;
        let recovered: Map<string, Recovered>;
        try {
          recovered = checkCrashState(state, exp, this.#root, this.#workDir, this.#rng.chance(0.3), onDisk);
        } catch (err) {
          if (!(err instanceof Failure)) throw err;
          const kept = KEEP_FAILED ? fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-power-counterexample-')) : null;
          if (kept !== null) materialize(state, this.#root, kept);
          throw new Error(
            [
              `POWER-LOSS COUNTEREXAMPLE (${this.#label}): ${err.message}`,
              `  cut at mutation #${cut.mutation.index} (${cut.mutation.op} ${path.basename(cut.mutation.path)} ${cut.mutation.detail}) during step ${cut.step}: ${cut.action}`,
              `  crash state (${state.style}): ${state.description}`,
              `  choice: ${JSON.stringify(state.choice)}`,
              kept === null ? '  (POWER_LOSS_KEEP=1 keeps the state on disk)' : `  the state is kept in ${kept}`,
            ].join('\n'),
            { cause: err },
          );
        }
        if (cut.continueHere && continueWith === null && state.style === 'random') continueWith = { state, recovered };
      }
    }
    if (continueWith !== null) this.#continueAfterCrash(continueWith.state, continueWith.recovered);
  }

  /** The power came back with `state` on disk: the old store is abandoned, the workload goes on. */
  #continueAfterCrash(state: CrashState, recovered: Map<string, Recovered>): void {
    this.stats.continued++;
    this.#action = 'abandoning the crashed store';
    const hook = this.#io.onMutation;
    this.#io.onMutation = null;
    // Only to release its lock registration: what it writes lands in the model being replaced.
    try {
      withClock(this.#clock, () => this.#store!.close());
    } catch {
      // the crashed store's fate does not matter
    }
    this.#io.resetTo(withoutLock(state.files, this.#root));
    // A reclaim round cut in flight gave its seqs up or not: the state's CURSORS decides, before
    // the reopen (whose own cuts are held to it). Recovery keeps each firstSeq as loaded.
    const cursorsFile = state.files.get(path.join(this.#root, CURSORS_FILE_NAME));
    const firstSeqs = cursorsFile === undefined ? new Map<string, number>() : firstSeqsIn(cursorsFile);
    for (const [topic, model] of this.#topics) model.floorDurable = model.floorMax = firstSeqs.get(topic) ?? 0;
    this.#io.onMutation = hook;
    // A registration or deletion cut in flight went either way: the state decides.
    const present = [...recovered.values().next().value!.positions.keys()].filter((name) => name !== DEFAULT);
    this.#consumers.clear();
    for (const name of present) this.#consumers.set(name, 'registered');
    for (const [topic, model] of this.#topics) {
      const { nextSeq, positions } = recovered.get(topic)!;
      model.attempted.length = nextSeq;
      model.acked = model.durable = nextSeq;
      // Seqs from nextSeq on are appended afresh; below it, what positions may have passed stays so.
      model.positionMax = Math.min(model.positionMax, nextSeq);
      // A batch the crash cut at a cursor (see checkCrashState) is gone past it: its seqs get reused.
      model.batches = model.batches.filter((b) => b.first + b.count <= nextSeq);
      model.positions = new Map(
        [...positions].map(([name, cursor]) => [name, { cursor, cursorMax: cursor, durableCursor: cursor }]),
      );
    }
    this.#action = `reopen after a crash (state: ${state.description})`;
    if (TRACE) console.log(`${this.#action}, recovered ${JSON.stringify([...recovered])}`);
    this.#open();
  }

  #expect(ok: boolean, message: string): void {
    if (!ok) this.#fail(message);
  }

  #fail(message: string): never {
    throw new Error(`WORKLOAD FAILURE (${this.#label}) at step ${this.#step}, ${this.#action}: ${message}`);
  }
}

function newTopic(): TopicModel {
  const positions = new Map([[DEFAULT, { cursor: 0, cursorMax: 0, durableCursor: 0 }]]);
  return { attempted: [], acked: 0, durable: 0, batches: [], positions, positionMax: 0, floorDurable: 0, floorMax: 0 };
}

/** The read options that name `consumer` (none for the default one). */
function selector(consumer: string): { consumer?: string } {
  return consumer === DEFAULT ? {} : { consumer };
}

function ofConsumer(consumer: string): string {
  return consumer === DEFAULT ? '' : `, consumer ${JSON.stringify(consumer)}`;
}

// ---- the simulator itself: a lenient model would hide bugs --------------------------------------

describe('the crash model of RecordingFileIo', () => {
  const setUp = () => {
    const root = fs.realpathSync(tmp.make('walrus-model'));
    const io = new RecordingFileIo(root);
    return { root, io, file: (name: string) => path.join(root, name) };
  };
  const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

  it('keeps synced bytes, drops or keeps unsynced ones, and tears a write only at 512-byte sectors', () => {
    const { io, file } = setUp();
    const fd = io.open(file('f'), 'write');
    io.fsyncDir(path.dirname(file('f')));
    io.pwrite(fd, bytes(2000, 1), 0, 2000, 0);
    io.fdatasync(fd);
    io.pwrite(fd, bytes(1500, 2), 0, 1500, 2000);
    const snapshot = io.snapshot();
    const durable = crashStateOf(snapshot, { dirOps: [0], files: {} }).files.get(file('f'))!;
    expect(durable).toEqual(bytes(2000, 1));
    const all = randomCrashStates(snapshot, new Rng(1), 2)[1]!;
    expect(all.files.get(file('f'))).toEqual(new Uint8Array([...bytes(2000, 1), ...bytes(1500, 2)]));
    let torn = 0;
    for (const state of randomCrashStates(snapshot, new Rng(2), 400)) {
      const content = state.files.get(file('f'))!;
      expect(content.subarray(0, 2000)).toEqual(bytes(2000, 1));
      expect(content.byteLength).toBeLessThanOrEqual(3500);
      // Sector by sector (file offsets 2000..2047 are the tail of sector 3): all new bytes or none.
      for (let sector = 1536; sector < content.byteLength; sector += 512) {
        const part = [...content.subarray(Math.max(sector, 2000), Math.min(sector + 512, content.byteLength))];
        expect(part.every((b) => b === 2) || part.every((b) => b === 0)).toBe(true);
      }
      if (content.byteLength > 2000 && content.byteLength < 3500) torn++;
    }
    expect(torn, 'some states tear the unsynced write').toBeGreaterThan(0);
  });

  it('loses a created file whose directory was not fsynced, even if the file itself was', () => {
    const { io, file } = setUp();
    const fd = io.open(file('new'), 'create-exclusive');
    io.pwrite(fd, bytes(10, 7), 0, 10, 0);
    io.fsync(fd);
    const snapshot = io.snapshot();
    expect(crashStateOf(snapshot, { dirOps: [0], files: {} }).files.has(file('new'))).toBe(false);
    expect(crashStateOf(snapshot, { dirOps: [1], files: {} }).files.get(file('new'))).toEqual(bytes(10, 7));
    io.fsyncDir(path.dirname(file('new')));
    expect(crashStateOf(io.snapshot(), { dirOps: [0], files: {} }).files.get(file('new'))).toEqual(bytes(10, 7));
  });

  it('undoes a rename or an unlink that no directory fsync made durable', () => {
    const { io, file } = setUp();
    for (const [name, fill] of [
      ['target', 1],
      ['doomed', 3],
    ] as const) {
      const fd = io.open(file(name), 'write');
      io.pwrite(fd, bytes(4, fill), 0, 4, 0);
      io.fsync(fd);
      io.close(fd);
    }
    io.fsyncDir(path.dirname(file('target')));
    const fd = io.open(file('target.tmp'), 'write');
    io.pwrite(fd, bytes(4, 2), 0, 4, 0);
    io.fsync(fd);
    io.close(fd);
    io.rename(file('target.tmp'), file('target'));
    io.unlink(file('doomed'));
    const snapshot = io.snapshot();
    const before = crashStateOf(snapshot, { dirOps: [0], files: {} }).files;
    expect(before.get(file('target'))).toEqual(bytes(4, 1));
    expect(before.get(file('doomed'))).toEqual(bytes(4, 3));
    const renamed = crashStateOf(snapshot, { dirOps: [2], files: {} }).files;
    expect(renamed.get(file('target'))).toEqual(bytes(4, 2));
    expect(renamed.has(file('target.tmp'))).toBe(false);
    expect(renamed.get(file('doomed'))).toEqual(bytes(4, 3));
    expect(crashStateOf(snapshot, { dirOps: [3], files: {} }).files.has(file('doomed'))).toBe(false);
  });
});

// ---- the runs ----------------------------------------------------------------------------------

const tmp = new TmpDirs();
const totals: RunStats = { cuts: 0, states: 0, onDisk: 0, continued: 0, steps: 0 };

beforeAll(() => {
  console.log(
    `power-loss: seed ${SEED}, ${ROUNDS} round(s) (replay with POWER_LOSS_SEED=${SEED} WALRUS_CRASH_ROUNDS=${ROUNDS})`,
  );
  vi.spyOn(Date, 'now').mockImplementation(() => fakeNow ?? realNow());
});

/** State directories on tmpfs (STATES_PARENT), removed like the others. */
const tmpStates: string[] = [];
afterEach(() => {
  tmp.removeAll();
  for (const dir of tmpStates.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

afterAll(() => {
  vi.restoreAllMocks();
  console.log(
    `power-loss: ${totals.states} crash states recovered (${totals.onDisk} from a real directory) at ${totals.cuts} cut points, ${totals.continued} continued, ${totals.steps} workload steps`,
  );
});

describe(`power loss (seed ${SEED})`, () => {
  CONFIGS.forEach((config, configIndex) => {
    if (!config.name.includes(ONLY)) return;
    it(
      `${config.name}: every crash state recovers what was promised`,
      () => {
        let states = 0;
        for (let w = 0; w < WORKLOADS; w++) {
          const seed = (SEED + configIndex * 1_000_003 + w * 7919) >>> 0;
          const root = fs.realpathSync(tmp.make('walrus-power-root'));
          const workDir = fs.mkdtempSync(path.join(STATES_PARENT, 'walrus-power-states-'));
          tmpStates.push(workDir);
          const workload = new Workload(config, seed, root, workDir, `${config.name}, seed ${SEED}, workload ${w}`);
          workload.run(STEPS_PER_WORKLOAD);
          for (const key of Object.keys(totals) as Array<keyof RunStats>) totals[key] += workload.stats[key];
          states += workload.stats.states;
          expect(workload.stats.cuts, 'cut points were taken').toBeGreaterThan(0);
        }
        expect(states).toBeGreaterThan(0);
      },
      240_000 * ROUNDS,
    );
  });

  it.skipIf(ONLY !== '')(`recovered at least ${MIN_STATES_PER_ROUND} crash states per round`, () => {
    expect(totals.states, 'crash states recovered').toBeGreaterThanOrEqual(MIN_STATES_PER_ROUND * ROUNDS);
    expect(totals.onDisk, 'crash states recovered from a real directory').toBeGreaterThanOrEqual(
      (MIN_STATES_PER_ROUND * ROUNDS) / DISK_STATE_EVERY,
    );
    // Summaries are in the crash model (drafted unsynced, published after their segment's fdatasync,
    // torn, reordered, lost with their directory entry): states must reopen through them, and every
    // such state passed the checks above.
    console.log(
      `power-loss: ${summaryStates.trusted} states reopened through trusted summaries; ` +
        `${summaryStates.copiedDistrusted} summaries of states copied to a real directory distrusted (new inodes)`,
    );
    expect(summaryStates.trusted, 'states that reopened through a trusted summary').toBeGreaterThan(0);
    // Cuts inside close() before, at and after its MANIFEST write (the record) are in the crash model.
    console.log(
      `power-loss: ${summaryStates.cleanFound} states held a clean-shutdown record, ${summaryStates.cleanMatched} matched`,
    );
    expect(summaryStates.cleanMatched, 'states that reopened after a clean close').toBeGreaterThan(0);
    // fsync 'none': nothing written without fsync was trusted after a reboot, and after a process
    // crash (same boot) the same files reopened as promised.
    console.log(
      `power-loss: fsync 'none': ${summaryStates.unsyncedRebooted} states recovered after a reboot (no summary or record trusted), ` +
        `${summaryStates.unsyncedSameBoot} after a process crash`,
    );
    expect(summaryStates.unsyncedRebooted, "fsync 'none' states after a reboot").toBeGreaterThan(0);
    expect(summaryStates.unsyncedSameBoot, "fsync 'none' states after a process crash").toBeGreaterThan(0);
    expect(summaryStates.cleanFound - summaryStates.cleanMatched, 'records not matched').toBeLessThanOrEqual(
      totals.onDisk,
    );
    // FORMAT §21.3 P4: named consumers are in the crash model (registrations, reads, deletions, W6–W7).
    console.log(
      `power-loss: ${namedStates.withNamed} states with named consumers checked; registrations or deletions cut in flight: ` +
        `${namedStates.inFlightPresent} came back registered, ${namedStates.inFlightAbsent} not; ` +
        `${namedStates.gapStates} consumer reads went past a recorded gap (entries lost after another consumer passed them)`,
    );
    expect(namedStates.withNamed, 'states with a named consumer').toBeGreaterThanOrEqual(
      MIN_NAMED_STATES_PER_ROUND * ROUNDS,
    );
    expect(
      namedStates.inFlightPresent + namedStates.inFlightAbsent,
      'registrations or deletions cut',
    ).toBeGreaterThanOrEqual(MIN_NAMED_IN_FLIGHT_PER_ROUND * ROUNDS);
    expect(namedStates.inFlightPresent, 'cut in flight, registered after recovery').toBeGreaterThan(0);
    expect(namedStates.inFlightAbsent, 'cut in flight, not registered after recovery').toBeGreaterThan(0);
    // FORMAT §21.3 P4, W8: retention rounds that gave unconsumed seqs up, cut at every step of §19.2.
    const roundCuts = Object.entries(retentionStats.cuts);
    console.log(
      `power-loss: retention (W8): ${retentionStats.rounds} rounds gave seqs up; ` +
        `${roundCuts.reduce((n, [, c]) => n + c, 0)} cuts inside them (${roundCuts.map(([k, c]) => `${c} ${k}`).join(', ')}); ` +
        `${retentionStats.statesWithFirstSeq} states had a firstSeq > 0, ${retentionStats.positionsRaised} positions were moved up to one`,
    );
    expect(retentionStats.rounds, 'retention rounds that gave seqs up').toBeGreaterThan(0);
    for (const [where, count] of roundCuts) expect(count, `cuts inside a retention round, ${where}`).toBeGreaterThan(0);
    expect(retentionStats.statesWithFirstSeq, 'states after retention gave seqs up').toBeGreaterThan(0);
    expect(retentionStats.positionsRaised, 'positions moved up to a retention firstSeq').toBeGreaterThan(0);
  });
});
