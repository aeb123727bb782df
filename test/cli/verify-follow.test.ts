/**
 * `walrus verify` (exit 0 on a sound log; exit 1 naming the file and offset of each damaged frame
 * after a payload bit flip, a torn tail or an unreadable CURSORS; the parallel path over many
 * files) and the commands on a WAL a service holds open: `tail --follow` printing entries appended
 * after it started and stopping cleanly on SIGINT, `stats` and `verify` without the lock.
 * Runs `node bin/walrus.mjs` on the BUILT package (`npm test` builds first).
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';
import { ProgressBar, renderProgressLine } from '../../dist/src/cli/progress-bar.js';
import { runWalrus as walrus, startWalrus } from './run-walrus.js';

const FRAME_HEADER_BYTES = 40; // the version-2 frames the engine writes (docs/FORMAT.md §13.1)

const dirs: string[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
const wals: Walrus[] = [];

afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.allSettled(wals.splice(0).map((w) => w.close()));
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-cli-verify-'));
  dirs.push(dir);
  return dir;
}

async function open(dir: string, extra: Partial<Parameters<typeof Walrus.open>[0]> = {}): Promise<Walrus> {
  const wal = await Walrus.open({ dir, writers: 2, segmentBytes: 64 * 1024, blockBytes: 4096, ...extra });
  wals.push(wal);
  return wal;
}

async function closeAll(): Promise<void> {
  await Promise.all(wals.splice(0).map((w) => w.close()));
}

/** The segment and frame offset of the entry whose payload is `payload` (it must be unique). */
function locate(dir: string, payload: string): { file: string; offset: number } {
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.seg'))) {
    const file = path.join(dir, name);
    const at = fs.readFileSync(file).indexOf(payload);
    if (at >= 0) return { file, offset: at - FRAME_HEADER_BYTES };
  }
  throw new Error(`no frame holds ${payload}`);
}

function flipBit(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0]! ^= 0x10;
    fs.writeSync(fd, b, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
}

/** Resolves once `text` appeared in what the child printed; fails (not hangs) if the child exits first. */
function waitForOutput(child: ChildProcessWithoutNullStreams, read: () => string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!read().includes(text)) return;
      child.stdout.off('data', check);
      child.off('exit', exited);
      resolve();
    };
    const exited = (code: number | null): void =>
      reject(new Error(`exited (${code}) before printing ${JSON.stringify(text)}: ${read()}`));
    child.stdout.on('data', check);
    child.once('exit', exited);
    check();
  });
}

function follow(args: string[]): {
  child: ChildProcessWithoutNullStreams;
  out: () => string;
  err: () => string;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
} {
  const child = startWalrus(args);
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  );
  return { child, out: () => stdout, err: () => stderr, exit };
}

describe('walrus verify', () => {
  it('exits 0 on a sound log, and 1 naming file and offset after a payload bit flip', async () => {
    const dir = tempDir();
    const wal = await open(dir);
    for (let i = 0; i < 200; i++) await wal.append(i % 2 === 0 ? 'even' : 'odd', `entry-${String(i).padStart(4, '0')}`);
    await closeAll();

    const sound = await walrus(['verify', dir]);
    expect(sound.code).toBe(0);
    expect(sound.stdout).toMatch(/verified \d+ segment files? .*: OK, no damage/);
    const soundJson = JSON.parse((await walrus(['verify', dir, '--json'])).stdout);
    expect(soundJson).toMatchObject({ ok: true, dir: path.resolve(dir), damage: [] });
    expect(soundJson.files).toBe(fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).length);

    const { file, offset } = locate(dir, 'entry-0100');
    flipBit(file, offset + FRAME_HEADER_BYTES + 3);
    const damaged = await walrus(['verify', dir]);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toContain(
      `damaged frame: ${file} offset ${offset}: payload checksum mismatch (topic "even", seq 50)`,
    );
    expect(damaged.stdout).toMatch(/1 damaged frame/);
    const report = JSON.parse((await walrus(['verify', dir, '--json'])).stdout);
    expect(report.ok).toBe(false);
    expect(report.damage[0]).toEqual({
      kind: 'frame',
      file,
      offset,
      reason: 'payload checksum mismatch',
      topic: 'even',
      seq: 50,
    });
    // Recovery would cut "even" at seq 50: reported as a sequence break, and stats marks the topic.
    expect(
      report.damage.some((d: { kind: string; topic?: string }) => d.kind === 'sequence' && d.topic === 'even'),
    ).toBe(true);
    const stats = JSON.parse((await walrus(['stats', dir, '--json'])).stdout);
    expect(stats.topics.find((t: { name: string }) => t.name === 'even')).toMatchObject({
      appended: 50,
      damaged: true,
    });
    expect(stats.topics.find((t: { name: string }) => t.name === 'odd')).toMatchObject({
      appended: 100,
      damaged: false,
    });
  });

  it('reports a torn tail and an unreadable CURSORS file', async () => {
    const dir = tempDir();
    const wal = await open(dir, { writers: 1 });
    for (let i = 0; i < 20; i++) await wal.append('t', `torn-${i}-${'y'.repeat(50)}`);
    await closeAll();
    const { file, offset } = locate(dir, 'torn-19-');
    fs.truncateSync(file, offset + 40);
    const torn = JSON.parse((await walrus(['verify', dir, '--json'])).stdout);
    expect(torn.damage).toEqual([
      expect.objectContaining({
        kind: 'frame',
        file,
        offset,
        reason: 'torn tail: frame runs past the end of the file',
      }),
    ]);

    fs.writeFileSync(path.join(dir, 'CURSORS'), 'not msgpack at all');
    const run = await walrus(['verify', dir]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`unreadable control file: ${path.join(dir, 'CURSORS')} offset 0`);
    const stats = await walrus(['stats', dir]);
    expect(stats.code).toBe(1);
    expect(stats.stderr).toContain('ERR_CORRUPT');
  });

  it('audits many files in parallel and reports damage in each', async () => {
    const dir = tempDir();
    const wal = await open(dir, { segmentBytes: 1024 * 1024, blockBytes: 64 * 1024 });
    const filler = 'z'.repeat(4000);
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < 2600; i++) pending.push(wal.append(`t${i % 3}`, `big-${String(i).padStart(5, '0')}-${filler}`));
    await Promise.all(pending);
    await closeAll();
    const segments = fs.readdirSync(dir).filter((n) => n.endsWith('.seg'));
    expect(segments.length).toBeGreaterThan(8);
    const a = locate(dir, 'big-00100-');
    const b = locate(dir, 'big-02500-');
    expect(a.file).not.toBe(b.file);
    flipBit(a.file, a.offset + FRAME_HEADER_BYTES + 100);
    flipBit(b.file, b.offset + FRAME_HEADER_BYTES + 100);
    const run = await walrus(['verify', dir, '--json']);
    expect(run.code).toBe(1);
    const frames = JSON.parse(run.stdout).damage.filter((d: { kind: string }) => d.kind === 'frame');
    expect(frames.map((d: { file: string; offset: number }) => [d.file, d.offset]).sort()).toEqual(
      [
        [a.file, a.offset],
        [b.file, b.offset],
      ].sort(),
    );
  });
});

describe('on a WAL a service has open', () => {
  it('tail --follow prints entries appended after it started and stops cleanly on SIGINT', async () => {
    const dir = tempDir();
    const wal = await open(dir);
    for (let i = 0; i < 15; i++) await wal.append('live', `old-${i}`);
    const existing = follow(['tail', dir, 'live', '--follow', '-n', '2', '--interval', '50']);
    const future = follow(['tail', dir, 'not-yet', '--follow', '--interval', '50', '--format', 'json']);
    await waitForOutput(existing.child, existing.out, 'old-14\n');
    expect(existing.out()).toBe('old-13\nold-14\n');

    await wal.append('live', 'new-1');
    await wal.batchAppend('live', ['new-2', 'new-3']);
    await wal.append('not-yet', 'born');
    await waitForOutput(existing.child, existing.out, 'new-3\n');
    await waitForOutput(future.child, future.out, '"born"');
    expect(existing.out()).toBe('old-13\nold-14\nnew-1\nnew-2\nnew-3\n');
    expect(JSON.parse(future.out())).toEqual({
      ...{ topic: 'not-yet', seq: 0, timeMs: expect.any(Number), codec: 'raw', bytes: 4, text: 'born' },
    });

    existing.child.kill('SIGINT');
    future.child.kill('SIGINT');
    expect(await existing.exit).toEqual([0, null]);
    expect(await future.exit).toEqual([0, null]);
    expect(existing.err()).toBe('');
    expect(future.err()).toBe('');
    // Following read nothing as a consumer: every entry is still unread.
    expect(await wal.count('live')).toBe(18);
  });

  it('stats and verify work without the lock and show who holds it', async () => {
    const dir = tempDir();
    const wal = await open(dir);
    for (let i = 0; i < 30; i++) await wal.append('svc', `s-${i}`);
    for (let i = 0; i < 10; i++) await wal.readNext('svc');
    const stats = await walrus(['stats', dir, '--json']);
    expect(stats.code).toBe(0);
    const report = JSON.parse(stats.stdout);
    expect(report.openBy).toMatchObject({ pid: process.pid, hostname: os.hostname(), alive: true });
    expect(report.topics).toEqual([expect.objectContaining({ name: 'svc', appended: 30, consumed: 10, unread: 20 })]);
    const verify = await walrus(['verify', dir]);
    expect(verify.code).toBe(0);
    // The service is unaffected: it still appends and reads.
    await wal.append('svc', 'after');
    expect((await wal.readNext('svc'))?.text()).toBe('s-10');
  });
});

describe('progress bar', () => {
  it('draws only on a terminal and fits the line', () => {
    const writes: string[] = [];
    const tty = { isTTY: true, columns: 60, write: (s: string) => writes.push(s) > 0 };
    expect(ProgressBar.forStream({ isTTY: false, write: () => true }, 'verify')).toBeNull();
    const bar = ProgressBar.forStream(tty, 'verify')!;
    bar.update(2, 2, 2048, 2048);
    bar.clear();
    expect(writes[0]).toMatch(/^\rverify \[#+\] 100% {2}2\/2 files {2}2\.00 KiB\/2\.00 KiB$/);
    expect(writes[0]!.length).toBeLessThanOrEqual(60);
    expect(writes[1]).toBe('\r\x1b[2K');
    expect(renderProgressLine('verify', 1, 4, 512, 2048, 80)).toContain(' 25%  1/4 files');
  });
});
