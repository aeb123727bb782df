/**
 * Issue 7: the mirror process killed with SIGKILL mid-stream (while it appends and publishes with
 * acks in flight) and restarted, JETSTREAM_KILLS times (default 8); a last run finishes. Then every
 * entry the WAL holds is in the stream exactly once, in per-topic order. Redelivered entries must
 * show up as JetStream duplicates, never as second copies. A local named consumer reads the same
 * topics in the same process all along (issue 17): strictly-at-once, it is never handed an entry
 * twice across the kills, always in order, and ends with every entry consumed.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';
import { checkExactlyOnce, describeWithNats, readStream } from './nats-harness.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'mirror-child.mjs');
const KILLS = Number(process.env.JETSTREAM_KILLS ?? 8);
const TOPICS = ['alpha', 'beta', 'topic with spaces.and.dots'];
// Enough entries that every life can be killed mid-stream (each publishes up to 750 before its kill).
const PER_TOPIC = Math.max(4000, KILLS * 400);

interface ChildRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  published: number;
  /** As last reported: entries JetStream recognized as already stored, windows that fell back. */
  duplicates: number;
  unconfirmedWindows: number;
  stdout: string;
  stderr: string;
}

/** The local consumer's reads printed by one life ("L <topic index> <seq>"), complete lines only. */
function localReads(stdout: string): Array<[topic: number, seq: number]> {
  return [...stdout.matchAll(/^L (\d+) (\d+)\n/gm)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** Runs the child; with `killAfterPublished`, SIGKILLs it once it reported that many more published entries. */
function runChild(dir: string, servers: string[], killAfterPublished: number | null): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [CHILD, dir, 'mirrored', servers.join(','), 'KILLS', String(PER_TOPIC), JSON.stringify(TOPICS)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let published = 0;
    let duplicates = 0;
    let unconfirmedWindows = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const m = /P (\d+) \d+ (\d+) (\d+)\n(?![\s\S]*P \d+)/.exec(stdout.slice(-200));
      if (m) {
        published = Number(m[1]);
        duplicates = Number(m[2]);
        unconfirmedWindows = Number(m[3]);
      }
      if (killAfterPublished !== null && published >= killAfterPublished && child.exitCode === null)
        child.kill('SIGKILL');
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (exitCode, signal) => {
      clearTimeout(guard);
      resolve({ exitCode, signal, published, duplicates, unconfirmedWindows, stdout, stderr });
    });
  });
}

describeWithNats('mirror process killed with SIGKILL and restarted', 1, (suite) => {
  it(`${KILLS} kills mid-stream, then a clean finish: every entry exactly once, in order`, async () => {
    const dir = suite.tmp.make('walrus-js-kill');
    let killedMidStream = 0;
    const redelivery = { duplicates: 0, unconfirmedWindows: 0 };
    const localNext = TOPICS.map(() => 0);
    const localProblems: string[] = [];
    let localHanded = 0;
    const noteLocal = (run: ChildRun): void => {
      for (const [t, seq] of localReads(run.stdout)) {
        localHanded++;
        // A kill may lose the printing of entries already handed out (consumed): a gap, never a repeat.
        if (seq < localNext[t]!)
          localProblems.push(`local ${TOPICS[t]}: ${seq} handed out again (next was ${localNext[t]})`);
        localNext[t] = seq + 1;
      }
    };
    for (let k = 0; k < KILLS; k++) {
      // A different point each time: after 150-750 more published entries of this life.
      const run = await runChild(dir, suite.fleet.servers, 150 + Math.floor(Math.random() * 600));
      expect(run.signal, `child ${k} ended by itself: ${run.stderr}`).toBe('SIGKILL');
      if (!run.stdout.includes('DONE')) killedMidStream++;
      redelivery.duplicates += run.duplicates;
      redelivery.unconfirmedWindows += run.unconfirmedWindows;
      noteLocal(run);
    }
    const last = await runChild(dir, suite.fleet.servers, null);
    redelivery.duplicates += last.duplicates;
    redelivery.unconfirmedWindows += last.unconfirmedWindows;
    noteLocal(last);
    // How much redelivery the kills caused (as last reported by each life): for the record, not asserted.
    console.log(
      `mirror SIGKILL: ${KILLS} kills, ${JSON.stringify(redelivery)}; the local consumer was handed ${localHanded} entries (printed)`,
    );
    expect(localProblems).toEqual([]);
    expect(localHanded, 'the local consumer read beside the mirror').toBeGreaterThan(0);
    expect(last.exitCode, last.stderr).toBe(0);
    expect(killedMidStream).toBe(KILLS);

    const wal = await Walrus.open({ dir, key: 'mirrored', fsync: 'none' });
    const stats = await wal.stats();
    await wal.close();
    // The mirror and the local consumer each consumed everything through their own position; the
    // default consumer nothing.
    for (const t of TOPICS) {
      expect(stats.topics[t]).toMatchObject({ appended: PER_TOPIC, unread: PER_TOPIC });
      expect(stats.consumers['mirror:KILLS']!.topics[t]).toEqual({ position: PER_TOPIC, lag: 0 });
      expect(stats.consumers['local']!.topics[t]).toEqual({ position: PER_TOPIC, lag: 0 });
    }
    const stored = await readStream(suite.fleet.servers, 'KILLS');
    expect(checkExactlyOnce(stored, new Map(TOPICS.map((t) => [t, PER_TOPIC])), (t, s) => `${t}:${s}`)).toEqual([]);
  });
});
