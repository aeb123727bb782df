/**
 * A failed `Walrus.open` gives back everything it took: the cursor log's descriptor, the lock, the
 * workers and their ports, and the reclaim interval (which held the instance and its rings).
 * Measured in a child process so the count of open descriptors (/proc/self/fd) and of live timers
 * (async_hooks) is that of the opens alone, after 30 failed opens of each kind; the child must then
 * exit on its own.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TmpDirs } from '../helpers/tmp-dir.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const FAILED_OPENS = 30;
/** A bound for a child that hangs (something it took keeps it alive), not a timing assertion. */
const HANG_GUARD_MS = 120_000;

const CHILD_SOURCE = `
import { createHook } from 'node:async_hooks';
import * as fs from 'node:fs';
import * as path from 'node:path';
const [indexUrl, logStoreUrl, mode, root, opens] = process.argv.slice(2);
const liveTimers = new Set();
createHook({
  init: (id, type) => { if (type === 'Timeout') liveTimers.add(id); },
  destroy: (id) => liveTimers.delete(id),
}).enable();
const { Walrus } = await import(indexUrl);
const { LogStore } = await import(logStoreUrl);
const dir = path.join(root, 'ns');
let holder = null;
if (mode === 'locked') holder = LogStore.open({ dir, fsync: 'none' });
if (mode === 'corrupt-manifest') {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'MANIFEST'), 'not a manifest');
}
if (mode === 'workers-fail') {
  // An install whose worker files are broken: the workers start and die at once.
  const broken = path.join(root, 'broken-workers');
  fs.mkdirSync(broken);
  for (const name of ['writer.worker', 'flusher.worker', 'scan.task'])
    fs.writeFileSync(path.join(broken, name + '.js'), "throw new Error('broken install');\\n");
  process.env.WALRUS_WORKER_DIR = broken;
}
const settle = async () => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };
const fds = () => fs.readdirSync('/proc/self/fd').length;
await settle();
const before = { fds: fds(), timers: liveTimers.size };
const codes = new Set();
for (let i = 0; i < Number(opens); i++) {
  try {
    await (await Walrus.open({ dir, fsync: 'none', writers: 2 })).close();
    codes.add('opened');
  } catch (err) {
    codes.add(err.code ?? String(err));
  }
}
await settle();
const after = { fds: fds(), timers: liveTimers.size };
holder?.close();
console.log(JSON.stringify({ codes: [...codes], before, after }));
`;

interface ChildReport {
  codes: string[];
  before: { fds: number; timers: number };
  after: { fds: number; timers: number };
}

describe('a failed open releases everything it took', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it.each([
    ['a locked directory', 'locked', 'ERR_LOCKED'],
    ['a corrupt MANIFEST', 'corrupt-manifest', 'ERR_CORRUPT'],
    ['workers that die as they start', 'workers-fail', 'ERR_WORKER_FAILED'],
  ])('%s: descriptors and timers are where they were, and the process exits', (_label, mode, code) => {
    const root = tmp.make('walrus-failed-open');
    const script = path.join(root, 'child.mjs');
    fs.writeFileSync(script, CHILD_SOURCE);
    const dist = (p: string): string => pathToFileURL(path.join(repoRoot, 'dist/src', p)).href;
    const child = spawnSync(
      process.execPath,
      [script, dist('index.js'), dist('storage/log-store.js'), mode, root, String(FAILED_OPENS)],
      { encoding: 'utf8', timeout: HANG_GUARD_MS, env: { ...process.env, WALRUS_WORKER_DIR: '' } },
    );
    expect(child.error, 'the child exits on its own').toBeUndefined();
    expect(child.status, child.stderr).toBe(0);
    const report = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as ChildReport;
    expect(report.codes).toEqual([code]);
    expect(report.after.fds, 'open descriptors').toBe(report.before.fds);
    expect(report.after.timers, 'live timers').toBe(report.before.timers);
  });
});
