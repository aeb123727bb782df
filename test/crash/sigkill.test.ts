/**
 * docs/SEMANTICS.md rules 3–5; README.md, Tests: a child process appending (single and batch) and
 * reading with checkpoints is killed with SIGKILL at random moments; after each kill the WAL is
 * reopened and compared with what the child saw acknowledged. SIGKILL keeps the page cache, so in
 * every fsync mode every acknowledged append must survive.
 *
 * Kills per mode: CRASH_KILLS (default 12, so the suite stays within CI's budget).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crash-child.mjs');
const KILLS = Number(process.env.CRASH_KILLS ?? 12);
const TOPICS = ['alpha', 'beta', 'gamma', 'delta'];

interface Acks {
  appended: Map<string, number>; // highest index acknowledged
  batches: Array<{ topic: string; first: number; count: number }>;
  consumed: Map<string, number>; // highest seq acknowledged as consumed
  reads: Array<{ topic: string; seq: number }>; // every entry acknowledged as consumed
}

function parseAcks(stdout: string): Acks {
  const acks: Acks = { appended: new Map(), batches: [], consumed: new Map(), reads: [] };
  const lines = stdout.split('\n');
  lines.pop(); // a line cut by the kill is not an acknowledgement
  for (const line of lines) {
    const [kind, topic, a, b] = line.split(' ');
    if (kind === 'A') acks.appended.set(topic!, Math.max(acks.appended.get(topic!) ?? -1, Number(a)));
    if (kind === 'B') {
      const last = Number(a) + Number(b) - 1;
      acks.appended.set(topic!, Math.max(acks.appended.get(topic!) ?? -1, last));
      acks.batches.push({ topic: topic!, first: Number(a), count: Number(b) });
    }
    if (kind === 'R') {
      acks.consumed.set(topic!, Math.max(acks.consumed.get(topic!) ?? -1, Number(a)));
      acks.reads.push({ topic: topic!, seq: Number(a) });
    }
  }
  return acks;
}

function runChildAndKill(
  dir: string,
  fsync: string,
  consistency: string,
  seed: number,
  lifeMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, fsync, consistency, String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (stdout.length === 0 && chunk.startsWith('READY\n')) setTimeout(() => child.kill('SIGKILL'), lifeMs);
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself (code ${code}): ${stderr}`));
      else resolve(stdout.replace(/^READY\n/, ''));
    });
  });
}

interface TopicState {
  /** Highest index ever acknowledged as appended, across all kills. */
  acked: number;
  /** Highest seq ever acknowledged as consumed. */
  consumed: number;
}

/**
 * Reopens a copy of the crashed directory (so the next child still sees the cursors it left) and
 * drains every topic with checkpoints.
 */
async function verify(dir: string, consistency: string, state: Map<string, TopicState>): Promise<number> {
  const copy = `${dir}-verify`;
  fs.rmSync(copy, { recursive: true, force: true });
  fs.cpSync(dir, copy, { recursive: true });
  const wal = await Walrus.open({
    dir: copy,
    fsync: 'none',
    writers: 2,
    segmentBytes: 256 * 1024,
    blockBytes: 16 * 1024,
  });
  let checked = 0;
  try {
    const stats = await wal.stats();
    for (const topic of TOPICS) {
      const s = state.get(topic)!;
      const cursor = stats.topics[topic]?.consumed ?? 0;
      if (consistency === 'strict') {
        // strictly-at-once: no entry acknowledged as consumed is delivered again
        expect(cursor, `${topic} cursor`).toBeGreaterThan(s.consumed);
      } else {
        const n = Number(consistency.slice(3));
        expect(cursor, `${topic} cursor`).toBeGreaterThanOrEqual(s.consumed + 1 - n);
      }
      const entries = [];
      for (;;) {
        const batch = await wal.batchRead(topic, { maxBytes: 4 * 1024 * 1024 });
        if (batch.length === 0) break;
        entries.push(...batch);
      }
      const batches = new Map<string, { count: number; seen: number }>();
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        expect(e.seq, `${topic} order`).toBe(cursor + i);
        const [t, index, tag] = e.text().split('|');
        expect(t).toBe(topic);
        expect(Number(index), `${topic} payload index`).toBe(e.seq);
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
      for (const [first, b] of batches) expect(b.seen, `${topic} batch ${first}`).toBe(b.count);
    }
  } finally {
    await wal.close();
    fs.rmSync(copy, { recursive: true, force: true });
  }
  return checked;
}

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

describe('rule 5 (docs/SEMANTICS.md): a SIGKILL never loses an acknowledged append (and cursors keep their promise)', () => {
  const modes: Array<[string, string]> = [
    ['interval', 'strict'],
    ['each', 'strict'],
    ['none', 'alo5'],
  ];
  for (const [fsync, consistency] of modes) {
    it(
      `fsync ${fsync}, ${consistency}: ${KILLS} kills`,
      async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-crash-'));
        roots.push(root);
        const dir = path.join(root, 'wal');
        const state = new Map(TOPICS.map((t) => [t, { acked: -1, consumed: -1 }]));
        let checkedEntries = 0;
        let acknowledged = 0;
        const delivered = new Set<string>();
        let seed = 0x5eed + fsync.length * 7919;
        for (let kill = 0; kill < KILLS; kill++) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          const lifeMs = 50 + (seed % 700);
          const stdout = await runChildAndKill(dir, fsync, consistency, seed, lifeMs);
          const acks = parseAcks(stdout);
          acknowledged += stdout.split('\n').length - 1;
          // Strictly-at-once: an entry is handed out once — to one of the concurrent readers, in
          // one life — ever. At-least-once may hand one out again after a kill, never twice in a life.
          if (consistency !== 'strict') delivered.clear();
          for (const r of acks.reads) {
            const key = `${r.topic} ${r.seq}`;
            expect(delivered.has(key), `entry ${key} delivered twice`).toBe(false);
            delivered.add(key);
          }
          for (const t of TOPICS) {
            const s = state.get(t)!;
            s.acked = Math.max(s.acked, acks.appended.get(t) ?? -1);
            s.consumed = Math.max(s.consumed, acks.consumed.get(t) ?? -1);
          }
          checkedEntries += await verify(dir, consistency, state);
        }
        expect(checkedEntries).toBeGreaterThan(0);
        console.log(
          `crash ${fsync}/${consistency}: ${KILLS} kills, ${acknowledged} acknowledged operations, ${checkedEntries} unread entries checked after reopen`,
        );
        expect(acknowledged).toBeGreaterThan(KILLS);
      },
      60_000 + KILLS * 6_000,
    );
  }
});
