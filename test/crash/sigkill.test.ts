/**
 * docs/SEMANTICS.md rules 3–5; README.md, Tests: a child process appending (single and batch) and
 * reading with checkpoints is killed with SIGKILL at random moments; after each kill the WAL is
 * reopened and compared with what the child saw acknowledged. SIGKILL keeps the page cache, so in
 * every fsync mode every acknowledged append must survive.
 *
 * Cheap kills, so that a CI run makes many of them (at least MIN_KILLS_PER_ROUND, asserted by the
 * last test so that a silent drop in coverage fails):
 * - LANES independent lanes per mode run side by side, each its own directory and its own sequence
 *   of children: one child boots or waits on the disk while another burns CPU.
 * - A child lives a short while (a fraction of a second is thousands of acknowledged operations, and
 *   the directory carries over from one child to the next, so segments roll and get reclaimed);
 *   one kill in KILL_DURING_OPEN_EVERY lands while the child is still opening (recovering) the WAL.
 * - One kill in CLOSE_KILL_EVERY is a close kill: the child calls `close()` after a short workload
 *   and is killed up to CLOSE_KILL_WINDOW_MS after it began, so some kills land during `close()`
 *   (the usual checks: nothing acknowledged lost, no redelivery under strictly-at-once, batches whole)
 *   and some after it completed: then open of the original directory must scan no byte and find the
 *   clean-shutdown record matching (docs/FORMAT.md §16; checkCleanShutdown).
 *   Both counts are asserted by the last test.
 * - Each kill is checked on a copy of the directory with the single-threaded storage core
 *   (`LogStore`, the reference implementation: same format, no worker threads to start). The
 *   engine's own recovery of every crashed directory is what the next child runs, and the next check
 *   holds it to everything acknowledged so far; the last kill of each lane is also checked by
 *   reopening with `Walrus` itself.
 *
 * WALRUS_CRASH_ROUNDS=<n> runs n times the kills (README.md, Tests).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';
import { LogStore } from '../../dist/src/storage/log-store.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crash-child.mjs');
const ROUNDS = Math.max(1, Math.floor(Number(process.env.WALRUS_CRASH_ROUNDS ?? 1)) || 1);
const LANES = 2;
const KILLS_PER_LANE = 36 * ROUNDS;
/** 3 modes × LANES × KILLS_PER_LANE is 216 per round: what a run must reach. */
const MIN_KILLS_PER_ROUND = 200;
const KILL_DURING_OPEN_EVERY = 6;
/**
 * Kills kill % CLOSE_KILL_EVERY === 2 are close kills: even, so never a during-open kill (those are
 * kill % 6 === 5, odd). The child closes the WAL CLOSE_AFTER_MS after READY and is killed
 * 0..CLOSE_KILL_WINDOW_MS after it printed CLOSING. A close() in the child takes about 30–80 ms
 * alone and longer beside the other lane (it prints how long: `CLOSED <ms>`), so some kills land
 * during close() and some after it.
 */
const CLOSE_KILL_EVERY = 4;
const CLOSE_AFTER_MS = { min: 20, max: 120 };
const CLOSE_KILL_WINDOW_MS = 150;
const TOPICS = ['alpha', 'beta', 'gamma', 'delta'];
const SEGMENT_BYTES = 256 * 1024;
const BLOCK_BYTES = 16 * 1024;

interface Acks {
  appended: Map<string, number>; // highest index acknowledged
  consumed: Map<string, number>; // highest seq acknowledged as consumed
  reads: Array<{ topic: string; seq: number }>; // every entry acknowledged as consumed
  lines: number;
}

function parseAcks(stdout: string): Acks {
  const acks: Acks = { appended: new Map(), consumed: new Map(), reads: [], lines: 0 };
  const lines = stdout.split('\n');
  lines.pop(); // a line cut by the kill is not an acknowledgement
  for (const line of lines) {
    if (line === 'CLOSING' || line.startsWith('CLOSED ')) continue; // markers, not acknowledgements
    const [kind, topic, a, b] = line.split(' ');
    if (kind === 'A') acks.appended.set(topic!, Math.max(acks.appended.get(topic!) ?? -1, Number(a)));
    if (kind === 'B') {
      const last = Number(a) + Number(b) - 1;
      acks.appended.set(topic!, Math.max(acks.appended.get(topic!) ?? -1, last));
    }
    if (kind === 'R') {
      acks.consumed.set(topic!, Math.max(acks.consumed.get(topic!) ?? -1, Number(a)));
      acks.reads.push({ topic: topic!, seq: Number(a) });
    }
    if (kind === 'A' || kind === 'B' || kind === 'R') acks.lines++;
  }
  return acks;
}

/** When a child is killed: `delayMs` after OPENING, after READY, or after CLOSING (`closeAfterMs` given). */
type KillAt = { duringOpen: true } | { duringOpen: false; closeAfterMs?: number };

interface ChildRun {
  stdout: string;
  ready: boolean;
  /** It printed CLOSING: its close() began. */
  closing: boolean;
  /** It printed CLOSED: its close() resolved before the kill. */
  closed: boolean;
}

/**
 * Runs one child and kills it: `delayMs` after it reported the WAL open; with `duringOpen`, that
 * long after it announced it was opening (recovering) it; with `closeAfterMs` (the child closes the
 * WAL that long after READY), that long after it announced CLOSING. Resolves with what it printed
 * (every byte: `close` waits for the pipe's end); a child that exits by itself fails the test.
 */
function runChildAndKill(
  dir: string,
  fsync: string,
  consistency: string,
  seed: number,
  delayMs: number,
  at: KillAt,
): Promise<ChildRun> {
  const closeAfterMs = at.duringOpen ? undefined : at.closeAfterMs;
  const args = [CHILD, dir, fsync, consistency, String(seed)];
  if (closeAfterMs !== undefined) args.push(String(closeAfterMs));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let armed = false;
    const arm = () => {
      if (armed) return;
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), delayMs);
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const from = Math.max(0, stdout.length - 16);
      stdout += chunk;
      if (at.duringOpen) {
        if (stdout.startsWith('OPENING\n')) arm();
      } else if (closeAfterMs === undefined) {
        if (stdout.startsWith('OPENING\nREADY\n')) arm();
      } else if (stdout.indexOf('\nCLOSING\n', from) >= 0) arm();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL' || !armed) reject(new Error(`child exited by itself (code ${code}): ${stderr}`));
      else {
        const ready = stdout.startsWith('OPENING\nREADY\n');
        const closing = ready && stdout.includes('\nCLOSING\n');
        const closed = closing && /\nCLOSED \d+\n/.test(stdout);
        resolve({ stdout: stdout.replace(/^OPENING\n(READY\n)?/, ''), ready, closing, closed });
      }
    });
  });
}

interface TopicState {
  /** Highest index ever acknowledged as appended, across all kills. */
  acked: number;
  /** Highest seq ever acknowledged as consumed. */
  consumed: number;
}

interface Recovered {
  cursor: number;
  entries: Array<{ seq: number; text: string }>;
}

/** The single-threaded core (the reference implementation) on `dir`, with the children's layout. */
function openWithLogStore(dir: string): LogStore {
  return LogStore.open({
    dir,
    fsync: 'none',
    segmentBytes: SEGMENT_BYTES,
    blockBytes: BLOCK_BYTES,
    maxBatchEntries: 1_000_000,
  });
}

/** What the single-threaded core recovers from `dir`; a probe append tells where each topic ends. */
function recoverWithLogStore(dir: string): Map<string, Recovered> {
  const store = openWithLogStore(dir);
  const decoder = new TextDecoder();
  const out = new Map<string, Recovered>();
  try {
    for (const topic of TOPICS) {
      const unread = store.batchRead(topic, { maxBytes: 2 ** 30, checkpoint: false });
      const count = store.count(topic);
      expect(unread.length, `${topic}: batchRead returns every unread entry`).toBe(count);
      const cursor = store.append(topic, 'probe') - count;
      out.set(topic, { cursor, entries: unread.map((e) => ({ seq: e.seq, text: decoder.decode(e.data) })) });
    }
  } finally {
    store.close();
  }
  return out;
}

/**
 * After a child's close() completed (it printed CLOSED) and it was killed, on the original directory
 * (a copy never matches: the record names change stamps): open scans no byte, skips no file, and the
 * clean-shutdown record (docs/FORMAT.md §16) matches. (A kill between a segment's creation and its
 * first write leaves a 0-byte segment; an open removes it, so it never holds off a later record.)
 * Opens with `LogStore` and closes it at once: no read moves a cursor, no append adds an entry. Its
 * close writes a record of its own, which the next child opens.
 */
function checkCleanShutdown(dir: string, what: string): void {
  const store = openWithLogStore(dir);
  try {
    const { cleanShutdown, scannedBytes, skippedFiles } = store.recovery;
    expect(scannedBytes, `${what}: bytes scanned by open`).toBe(0);
    expect(skippedFiles, `${what}: segments open could not read`).toEqual([]);
    expect(cleanShutdown, `${what}: clean-shutdown record`).toEqual({ found: true, matched: true });
  } finally {
    store.close();
  }
}

/** What the engine recovers from `dir`, draining every topic with checkpoints. */
async function recoverWithWalrus(dir: string): Promise<Map<string, Recovered>> {
  const wal = await Walrus.open({
    dir,
    fsync: 'none',
    writers: 2,
    segmentBytes: SEGMENT_BYTES,
    blockBytes: BLOCK_BYTES,
  });
  const out = new Map<string, Recovered>();
  try {
    const stats = await wal.stats();
    for (const topic of TOPICS) {
      const entries: Recovered['entries'] = [];
      for (;;) {
        const batch = await wal.batchRead(topic, { maxBytes: 4 * 1024 * 1024 });
        if (batch.length === 0) break;
        for (const e of batch) entries.push({ seq: e.seq, text: e.text() });
      }
      out.set(topic, { cursor: stats.topics[topic]?.consumed ?? 0, entries });
    }
  } finally {
    await wal.close();
  }
  return out;
}

/**
 * Checks what was recovered from a copy of the crashed directory (the next child still sees the
 * directory as the kill left it) against everything acknowledged so far. Returns the entries checked.
 */
async function verify(
  dir: string,
  consistency: string,
  state: Map<string, TopicState>,
  engine: boolean,
): Promise<number> {
  const copy = `${dir}-verify`;
  fs.rmSync(copy, { recursive: true, force: true });
  fs.cpSync(dir, copy, { recursive: true });
  let checked = 0;
  try {
    const recovered = engine ? await recoverWithWalrus(copy) : recoverWithLogStore(copy);
    for (const topic of TOPICS) {
      const s = state.get(topic)!;
      const { cursor, entries } = recovered.get(topic)!;
      if (consistency === 'strict') {
        // strictly-at-once: no entry acknowledged as consumed is delivered again
        expect(cursor, `${topic} cursor`).toBeGreaterThan(s.consumed);
      } else {
        const n = Number(consistency.slice(3));
        expect(cursor, `${topic} cursor`).toBeGreaterThanOrEqual(s.consumed + 1 - n);
      }
      const batches = new Map<string, { count: number; seen: number }>();
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        // Plain comparisons, expect() only for a mismatch: a run checks hundreds of thousands of entries.
        if (e.seq !== cursor + i) expect(e.seq, `${topic} order`).toBe(cursor + i);
        const [t, index, tag] = e.text.split('|');
        if (t !== topic || Number(index) !== e.seq)
          expect(`${t}|${index}`, `${topic} entry ${e.seq}: payload names its topic and index`).toBe(
            `${topic}|${e.seq}`,
          );
        const m = /^b(\d+):(\d+)\/(\d+)$/.exec(tag!);
        if (m && Number(m[1]) >= cursor) {
          const b = batches.get(m[1]!) ?? { count: Number(m[3]), seen: 0 };
          b.seen++;
          batches.set(m[1]!, b);
        }
        checked++;
      }
      // every acknowledged append is present (acknowledged ones before the cursor were consumed)
      const last = entries.length > 0 ? entries[entries.length - 1]!.seq : cursor - 1;
      expect(last, `${topic}: acknowledged appends present`).toBeGreaterThanOrEqual(s.acked);
      // atomic batches: all or nothing
      for (const [first, b] of batches) if (b.seen !== b.count) expect(b.seen, `${topic} batch ${first}`).toBe(b.count);
    }
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
  return checked;
}

interface LaneResult {
  kills: number;
  killedDuringOpen: number;
  /** Close kills that landed while close() ran (CLOSING printed, CLOSED not). */
  killedDuringClose: number;
  /** Close kills that landed after close() resolved (CLOSED printed): each record checked matching. */
  closedCleanly: number;
  acknowledged: number;
  checkedEntries: number;
}

/** One lane: KILLS_PER_LANE children in turn on one directory, each killed and checked. */
async function runLane(root: string, fsync: string, consistency: string, seed: number): Promise<LaneResult> {
  const dir = path.join(root, 'wal');
  const state = new Map(TOPICS.map((t) => [t, { acked: -1, consumed: -1 }]));
  const result = emptyResult();
  const delivered = new Set<string>();
  for (let kill = 0; kill < KILLS_PER_LANE; kill++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const duringOpen = kill % KILL_DURING_OPEN_EVERY === KILL_DURING_OPEN_EVERY - 1;
    const closeKill = !duringOpen && kill % CLOSE_KILL_EVERY === 2;
    let delayMs: number;
    let at: KillAt;
    if (duringOpen) {
      delayMs = (seed >>> 8) % 200;
      at = { duringOpen };
    } else if (closeKill) {
      delayMs = (seed >>> 20) % (CLOSE_KILL_WINDOW_MS + 1);
      at = {
        duringOpen,
        closeAfterMs: CLOSE_AFTER_MS.min + ((seed >>> 8) % (CLOSE_AFTER_MS.max - CLOSE_AFTER_MS.min + 1)),
      };
    } else {
      delayMs = 20 + ((seed >>> 8) % 230);
      at = { duringOpen };
    }
    const run = await runChildAndKill(dir, fsync, consistency, seed, delayMs, at);
    const acks = parseAcks(run.stdout);
    result.kills++;
    if (!run.ready) result.killedDuringOpen++;
    if (run.closing && !run.closed) result.killedDuringClose++;
    if (run.closed) {
      result.closedCleanly++;
      checkCleanShutdown(dir, `${fsync}/${consistency} seed ${seed} kill ${kill}`);
    }
    result.acknowledged += acks.lines;
    // Strictly-at-once: an entry is handed out once — to one of the concurrent readers, in one
    // life — ever. At-least-once may hand one out again after a kill, never twice in one life.
    if (consistency !== 'strict') delivered.clear();
    for (const r of acks.reads) {
      const key = `${r.topic} ${r.seq}`;
      if (delivered.has(key)) expect.fail(`entry ${key} delivered twice (kill ${kill})`);
      delivered.add(key);
    }
    for (const t of TOPICS) {
      const s = state.get(t)!;
      s.acked = Math.max(s.acked, acks.appended.get(t) ?? -1);
      s.consumed = Math.max(s.consumed, acks.consumed.get(t) ?? -1);
    }
    result.checkedEntries += await verify(dir, consistency, state, kill === KILLS_PER_LANE - 1);
  }
  return result;
}

function emptyResult(): LaneResult {
  return {
    kills: 0,
    killedDuringOpen: 0,
    killedDuringClose: 0,
    closedCleanly: 0,
    acknowledged: 0,
    checkedEntries: 0,
  };
}

function describeKills(r: LaneResult): string {
  return (
    `${r.kills} kills (${r.killedDuringOpen} while opening, ${r.killedDuringClose} during close(), ` +
    `${r.closedCleanly} after a clean close: each clean-shutdown record matched, open scanning 0 bytes)`
  );
}

const roots: string[] = [];
const totals = emptyResult();
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  console.log(
    `crash: ${describeKills(totals)}, ${totals.acknowledged} acknowledged operations, ${totals.checkedEntries} unread entries checked after reopen`,
  );
});

describe('rule 5 (docs/SEMANTICS.md): a SIGKILL never loses an acknowledged append (and cursors keep their promise)', () => {
  const modes: Array<[string, string]> = [
    ['interval', 'strict'],
    ['each', 'strict'],
    ['none', 'alo5'],
  ];
  modes.forEach(([fsync, consistency], modeIndex) => {
    it(
      `fsync ${fsync}, ${consistency}: ${LANES} lanes of ${KILLS_PER_LANE} kills`,
      async () => {
        const lanes = Array.from({ length: LANES }, (_, lane) => {
          const root = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-crash-'));
          roots.push(root);
          return runLane(root, fsync, consistency, 0x5eed + modeIndex * 7919 + lane * 104_729);
        });
        const results = await Promise.all(lanes);
        const sum = emptyResult();
        for (const r of results)
          for (const key of Object.keys(sum) as Array<keyof LaneResult>) {
            sum[key] += r[key];
            totals[key] += r[key];
          }
        console.log(
          `crash ${fsync}/${consistency}: ${describeKills(sum)}, ${sum.acknowledged} acknowledged operations, ${sum.checkedEntries} unread entries checked after reopen`,
        );
        expect(sum.kills).toBe(LANES * KILLS_PER_LANE);
        expect(sum.checkedEntries).toBeGreaterThan(0);
        expect(sum.acknowledged).toBeGreaterThan(sum.kills);
      },
      60_000 + KILLS_PER_LANE * 6_000,
    );
  });

  it(`killed and checked at least ${MIN_KILLS_PER_ROUND} children per round`, () => {
    expect(totals.kills, 'SIGKILLs checked').toBeGreaterThanOrEqual(MIN_KILLS_PER_ROUND * ROUNDS);
    expect(totals.killedDuringOpen, 'SIGKILLs while the WAL was opening').toBeGreaterThan(0);
    expect(totals.killedDuringClose, 'SIGKILLs during close()').toBeGreaterThan(0);
    expect(totals.closedCleanly, 'SIGKILLs after a clean close()').toBeGreaterThan(0);
  });
});
