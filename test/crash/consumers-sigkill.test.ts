/**
 * docs/SEMANTICS.md rule 11 (each position obeys rules 3–4 on its own) across SIGKILL: a child with
 * three named consumers and the default one, each reading two topics with two concurrent readers,
 * is killed at random moments; the next child prints where every consumer starts. Under
 * strictly-at-once no consumer is ever handed an entry twice (in one life or after a kill); under
 * at-least-once a kill redelivers at most `persistEvery` entries per consumer and topic, and never
 * one twice in one life. The last kill is also checked by reopening in this process.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'consumers-child.mjs');
const ROUNDS = Math.max(1, Math.floor(Number(process.env.WALRUS_CRASH_ROUNDS ?? 1)) || 1);
const KILLS = 12 * ROUNDS;
const CONSUMERS = ['c1', 'c2', 'c3', '-'];
const TOPICS = ['t', 'u'];

interface Life {
  /** Where each consumer started on each topic ("<consumer> <topic>" → seq). */
  starts: Map<string, number>;
  /** Every acknowledged read, per "<consumer> <topic>". */
  reads: Map<string, number[]>;
}

function parse(stdout: string): Life {
  const life: Life = { starts: new Map(), reads: new Map() };
  const lines = stdout.split('\n');
  lines.pop(); // a line cut by the kill is no acknowledgement
  for (const line of lines) {
    const [kind, consumer, topic, seq] = line.split(' ');
    const key = `${consumer} ${topic}`;
    if (kind === 'P') life.starts.set(key, Number(seq));
    if (kind === 'R') {
      const list = life.reads.get(key) ?? [];
      list.push(Number(seq));
      life.reads.set(key, list);
    }
  }
  return life;
}

function runAndKill(dir: string, consistency: string, seed: number, delayMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, consistency, String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let armed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (!armed && stdout.includes('READY\n')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL' || !armed) reject(new Error(`child exited by itself (code ${code}): ${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The highest seq acknowledged so far per "<consumer> <topic>" (-1: none). */
type Acked = Map<string, number>;

/** Checks the starts of a new life against what earlier lives acknowledged; returns the redeliveries. */
function checkStarts(starts: Map<string, number>, acked: Acked, allowed: number, what: string): number {
  let redelivered = 0;
  for (const c of CONSUMERS) {
    for (const t of TOPICS) {
      const key = `${c} ${t}`;
      const start = starts.get(key);
      expect(start, `${what}: start of ${key}`).toBeTypeOf('number');
      const owed = (acked.get(key) ?? -1) + 1;
      // strictly-at-once (allowed 0): never before what was acknowledged, i.e. nothing again.
      if (start! < owed - allowed)
        expect.fail(`${what}: ${key} restarts at ${start}, below ${owed} by more than ${allowed}`);
      redelivered += Math.max(0, owed - start!);
    }
  }
  return redelivered;
}

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

describe('rule 11 (docs/SEMANTICS.md): each named consumer keeps its read consistency across SIGKILL', () => {
  // [consistency, entries a kill may deliver again per consumer and topic (rules 3–4)]
  const modes: Array<[string, number]> = [
    ['strict', 0],
    ['alo5', 5],
  ];
  for (const [consistency, allowed] of modes) {
    it(
      `${consistency}: ${KILLS} kills, ${CONSUMERS.length} consumers × ${TOPICS.length} topics each checked on its own`,
      async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-consumers-crash-'));
        roots.push(root);
        const dir = path.join(root, 'wal');
        const acked: Acked = new Map();
        const everDelivered = new Map<string, Set<number>>();
        let seed = 0xc0ffee + allowed;
        let reads = 0;
        let redelivered = 0;
        for (let kill = 0; kill < KILLS; kill++) {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          const life = parse(await runAndKill(dir, consistency, seed, 60 + ((seed >>> 8) % 300)));
          if (kill > 0) redelivered += checkStarts(life.starts, acked, allowed, `kill ${kill}`);
          if (consistency !== 'strict') everDelivered.clear(); // at-least-once: only within one life
          for (const [key, seqs] of life.reads) {
            const seen = everDelivered.get(key) ?? new Set<number>();
            for (const seq of seqs) {
              if (seen.has(seq)) expect.fail(`kill ${kill}: ${key} was handed seq ${seq} twice`);
              seen.add(seq);
              acked.set(key, Math.max(acked.get(key) ?? -1, seq));
            }
            everDelivered.set(key, seen);
            reads += seqs.length;
          }
        }
        // The last kill, checked by reopening here.
        const wal = await Walrus.open({ dir, readConsistency: 'strictly-at-once', writers: 2 });
        try {
          expect((await wal.consumers()).sort()).toEqual(['c1', 'c2', 'c3']);
          const { consumers } = await wal.stats();
          const starts = new Map<string, number>();
          for (const c of CONSUMERS)
            for (const t of TOPICS) starts.set(`${c} ${t}`, consumers[c === '-' ? '' : c]!.topics[t]!.position);
          redelivered += checkStarts(starts, acked, allowed, 'final reopen');
        } finally {
          await wal.close();
        }
        console.log(
          `consumers crash ${consistency}: ${KILLS} kills, ${reads} acknowledged reads over ${CONSUMERS.length} consumers, ${redelivered} redelivered`,
        );
        expect(reads).toBeGreaterThan(KILLS * CONSUMERS.length);
        if (consistency === 'strict') expect(redelivered).toBe(0);
        else expect(redelivered).toBeLessThanOrEqual((KILLS + 1) * CONSUMERS.length * TOPICS.length * allowed);
      },
      60_000 + KILLS * 5_000,
    );
  }
});
