/**
 * docs/SEMANTICS.md rule D17 (with rules 5 and 10): a child process writing with `write()` (and a
 * few awaited appends) and calling `flush()` is killed with SIGKILL at random moments; after each
 * kill the WAL is reopened and compared with what the child saw acknowledged. Every entry up to the
 * last resolved flush() of its topic must be there, and what survives of each topic is a gapless
 * prefix of what was written, in order: an accepted entry is recovered or, if it was not covered by
 * a resolved flush(), missing only at the tail — never silently dropped from the middle. The child
 * reports every 'error' and rejected flush() ('E' lines); with no faults injected there must be none.
 *
 * Kills per mode: 12 per round (so the suite stays within CI's budget); WALRUS_CRASH_ROUNDS=n for n rounds.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'write-child.mjs');
const ROUNDS = Math.max(1, Math.floor(Number(process.env.WALRUS_CRASH_ROUNDS ?? 1)) || 1);
const KILLS = 12 * ROUNDS;
const TOPICS = ['alpha', 'beta', 'gamma'];

interface Acks {
  /** Highest index covered by a resolved flush() or a resolved append, per topic. */
  acked: Map<string, number>;
  errors: string[];
  flushes: number;
}

function parseAcks(stdout: string): Acks {
  const acks: Acks = { acked: new Map(), errors: [], flushes: 0 };
  const lines = stdout.split('\n');
  lines.pop(); // a line cut by the kill is not an acknowledgement
  for (const line of lines) {
    const [kind, a, b] = line.split(' ');
    if (kind === 'F' || kind === 'A') acks.acked.set(a!, Math.max(acks.acked.get(a!) ?? -1, Number(b)));
    if (kind === 'F') acks.flushes++;
    if (kind === 'E') acks.errors.push(a!);
  }
  return acks;
}

function runChildAndKill(dir: string, fsync: string, seed: number, lifeMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, fsync, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Reopens a copy of the crashed directory and checks every topic against the acknowledged indexes. */
async function verify(dir: string, acked: Map<string, number>): Promise<number> {
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
    for (const topic of TOPICS) {
      let expectedSeq = 0;
      let mismatch: string | null = null;
      // Consuming reads of the copy (its cursors are thrown away with it); plain comparisons per
      // entry, one assertion per topic: an expect() per entry made a run of millions take minutes.
      for (;;) {
        const batch = await wal.batchRead(topic, { maxBytes: 4 * 1024 * 1024 });
        if (batch.length === 0) break;
        for (const e of batch) {
          const text = e.text();
          const cut = text.indexOf('|', topic.length + 1);
          const ok =
            e.seq === expectedSeq &&
            text.startsWith(`${topic}|`) &&
            text.slice(topic.length + 1, cut) === String(e.seq);
          if (!ok && mismatch === null) mismatch = `seq ${e.seq} (expected ${expectedSeq}): ${text.slice(0, 40)}`;
          expectedSeq++;
          checked++;
        }
      }
      expect(mismatch, `${topic}: a gapless prefix of what was written, in order`).toBeNull();
      expect(expectedSeq - 1, `${topic}: every flushed or acknowledged entry present`).toBeGreaterThanOrEqual(
        acked.get(topic) ?? -1,
      );
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

describe('rule D17 (docs/SEMANTICS.md): after a SIGKILL, nothing is lost once flush() resolved, and what write() accepted is a gapless prefix', () => {
  for (const fsync of ['each', 'interval', 'none']) {
    it(
      `fsync ${fsync}: ${KILLS} kills`,
      async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-crash-write-'));
        roots.push(root);
        const dir = path.join(root, 'wal');
        const acked = new Map<string, number>();
        let checked = 0;
        let flushes = 0;
        let seed = 0x3b1d + fsync.length * 7919;
        for (let kill = 0; kill < KILLS; kill++) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          const lifeMs = 50 + (seed % 400);
          const acks = parseAcks(await runChildAndKill(dir, fsync, seed, lifeMs));
          expect(acks.errors, 'no write() failure without faults').toEqual([]);
          flushes += acks.flushes;
          for (const [t, i] of acks.acked) acked.set(t, Math.max(acked.get(t) ?? -1, i));
          checked += await verify(dir, acked);
        }
        console.log(`crash write/${fsync}: ${KILLS} kills, ${flushes} resolved flushes, ${checked} entries checked`);
        expect(flushes).toBeGreaterThan(KILLS);
        expect(checked).toBeGreaterThan(0);
      },
      60_000 + KILLS * 6_000,
    );
  }
});
