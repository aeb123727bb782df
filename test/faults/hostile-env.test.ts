/**
 * docs/SEMANTICS.md rules H1–H7, a hostile environment (issue 12, defects 2–4): a thread that
 * opened the WAL and died leaves no lock behind; no symbolic link planted in the namespace is ever
 * followed and nothing is written or truncated through one; FIFOs and devices where a file of ours
 * belongs are reported, never waited on; files are the owner's only unless `groupAccess` says
 * otherwise; a namespace directory another user controls is refused.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { WalError, Walrus, type WalrusOptions } from '../../dist/src/index.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { within } from '../helpers/within.js';

const distIndex = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));
const OPEN_TIMEOUT_MS = 20_000;
const SMALL: WalrusOptions = { fsync: 'none', writers: 1, segmentBytes: 64 * 1024, blockBytes: 4096 };

/** The code of what `p` rejected with, or 'ok' (after an append and a close) when it opened. */
async function openOutcome(options: WalrusOptions): Promise<string> {
  let wal: Walrus;
  try {
    wal = await within(Walrus.open({ ...SMALL, ...options }), `open ${JSON.stringify(options)}`, OPEN_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof WalError) return err.code;
    throw err;
  }
  await wal.append('t', 'entry');
  await wal.close();
  return 'ok';
}

/**
 * The same in a child process, for what could block the opening thread for good on a FIFO (a
 * blocked event loop cannot time itself out): a hung child is killed and reported as 'hung'.
 */
function openOutcomeInChild(options: WalrusOptions, scratch: string): string {
  // A script file, not `--input-type=module -e`: the engine's own threads are not what is tested here.
  const script = path.join(scratch, 'open.mjs');
  fs.writeFileSync(
    script,
    `
    const { Walrus } = await import(${JSON.stringify(distIndex)});
    try {
      const wal = await Walrus.open(${JSON.stringify({ ...SMALL, ...options })});
      await wal.close();
      console.log('ok');
    } catch (err) {
      console.log(err.code ?? String(err));
    }
  `,
  );
  const child = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: OPEN_TIMEOUT_MS });
  if (child.error || child.signal) return 'hung';
  return child.stdout.trim().split('\n').pop()!;
}

describe('a worker thread that opened the WAL and ended without close() leaves the directory unlocked (README.md, API)', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  const workerCode = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { Walrus } = await import(workerData.distIndex);
      const wal = await Walrus.open(workerData.options);
      await wal.append('t', 'from the worker');
      parentPort.postMessage('opened');
      if (workerData.how === 'exit') process.exit(3);
      // Thrown from a timer, once the message is on its way: an uncaught exception ends the thread.
      if (workerData.how === 'throw') setTimeout(() => { throw new Error('the worker dies of an uncaught exception'); }, 50);
    })();
  `;

  const ways = {
    'process.exit() in the worker': 'exit',
    'worker.terminate()': 'terminate',
    'an uncaught exception in the worker': 'throw',
  } as const;
  for (const [how, code] of Object.entries(ways)) {
    it(`after ${how}, the next open succeeds and sees the worker's entries`, async () => {
      const dir = tmp.make();
      const options = { ...SMALL, dir };
      const worker = new Worker(workerCode, {
        eval: true,
        workerData: { distIndex, options, how: code },
      });
      const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
      // After 'opened', the uncaught exception (an 'error' event) is how that worker is meant to end.
      if (code === 'throw') worker.on('error', () => {});
      await within(
        new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
        'the worker opening the WAL',
      );
      if (code === 'terminate') await worker.terminate();
      await within(exited, 'the worker ending');
      const wal = await within(Walrus.open(options), 'the open after the worker ended');
      try {
        expect((await wal.readNext('t'))?.text()).toBe('from the worker');
      } finally {
        await wal.close();
      }
    });
  }
});

describe('no symbolic link planted in the namespace is followed; nothing is written or truncated through one (docs/SEMANTICS.md rules H1–H7)', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  const PLANTED = [
    'MANIFEST.tmp',
    'CURSORS.tmp',
    'MANIFEST',
    'CURSORS',
    'LOCK',
    'cursors-00000000.log',
    'cursors-00000001.log',
    'cursors-00000002.log',
    '00000001-0000-00000000.seg',
  ];
  const VICTIM_TEXT = 'a file of someone else\n';

  for (const name of PLANTED) {
    it(`a symlink at ${name}: its target is untouched, the open succeeds safely or fails with ERR_CORRUPT`, async () => {
      const dir = tmp.make();
      const elsewhere = tmp.make();
      const victim = path.join(elsewhere, 'victim');
      fs.writeFileSync(victim, VICTIM_TEXT, { mode: 0o644 });
      const dangling = path.join(elsewhere, 'never-created');
      fs.symlinkSync(victim, path.join(dir, name));
      expect(['ok', 'ERR_CORRUPT']).toContain(await openOutcome({ dir }));
      expect(fs.readFileSync(victim, 'utf8')).toBe(VICTIM_TEXT);
      expect(fs.statSync(victim).mode & 0o777).toBe(0o644);

      // A dangling link is not a way to create a file elsewhere either.
      const again = tmp.make();
      fs.symlinkSync(dangling, path.join(again, name));
      expect(['ok', 'ERR_CORRUPT']).toContain(await openOutcome({ dir: again }));
      expect(fs.existsSync(dangling)).toBe(false);
    });
  }

  it('a symlink at a segment of an existing log is reported, the target untouched', async () => {
    const dir = tmp.make();
    expect(await openOutcome({ dir })).toBe('ok');
    const segment = fs.readdirSync(dir).find((n) => n.endsWith('.seg'))!;
    const victim = path.join(tmp.make(), 'victim');
    fs.writeFileSync(victim, VICTIM_TEXT);
    fs.rmSync(path.join(dir, segment));
    fs.symlinkSync(victim, path.join(dir, segment));
    expect(await openOutcome({ dir })).toBe('ERR_CORRUPT');
    expect(fs.readFileSync(victim, 'utf8')).toBe(VICTIM_TEXT);
  });
});

describe('a FIFO or a device where a file of ours belongs is reported as ERR_CORRUPT, never waited on (docs/SEMANTICS.md rules H1–H7)', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  const mkfifo = (p: string) => spawnSync('mkfifo', [p]).status === 0;

  for (const name of ['MANIFEST', 'CURSORS', 'LOCK', 'cursors-00000000.log', '00000001-0000-00000000.seg']) {
    it(`a FIFO at ${name}`, () => {
      const dir = tmp.make();
      expect(mkfifo(path.join(dir, name)), 'mkfifo').toBe(true);
      expect(openOutcomeInChild({ dir }, tmp.make())).toBe('ERR_CORRUPT');
    });
  }

  it.skipIf(process.geteuid?.() !== 0)('a character device (a copy of /dev/null) at MANIFEST', () => {
    const dir = tmp.make();
    expect(spawnSync('mknod', [path.join(dir, 'MANIFEST'), 'c', '1', '3']).status).toBe(0);
    expect(openOutcomeInChild({ dir }, tmp.make())).toBe('ERR_CORRUPT');
  });
});

describe('files are readable by their owner only unless groupAccess is set (docs/SEMANTICS.md rules H1–H7)', () => {
  const tmp = new TmpDirs();
  let savedUmask: number | null = null;
  afterEach(() => {
    if (savedUmask !== null) process.umask(savedUmask);
    savedUmask = null;
    tmp.removeAll();
  });

  /** Modes of the namespace directory and of every file in it after an open, appends and a close. */
  async function modesAfterUse(options: WalrusOptions): Promise<{ dir: number; files: Map<string, number> }> {
    // umask 0: modes must be set by walrus, not left to a umask of 022 that happens to narrow them.
    savedUmask = process.umask(0);
    expect(await openOutcome(options)).toBe('ok');
    const nsDir = path.join(options.dir!, options.key!);
    const files = new Map(fs.readdirSync(nsDir).map((n) => [n, fs.statSync(path.join(nsDir, n)).mode & 0o777]));
    return { dir: fs.statSync(nsDir).mode & 0o777, files };
  }

  it('by default the namespace directory is 0700 and every file 0600', async () => {
    const { dir, files } = await modesAfterUse({ dir: tmp.make(), key: 'ns' });
    expect(dir.toString(8)).toBe('700');
    expect([...files.keys()].some((n) => n.endsWith('.seg'))).toBe(true);
    for (const [name, mode] of files) expect(`${name} ${mode.toString(8)}`).toBe(`${name} 600`);
  });

  it('groupAccess: true gives the group read access: 0750 and 0640, never write', async () => {
    const { dir, files } = await modesAfterUse({ dir: tmp.make(), key: 'ns', groupAccess: true });
    expect(dir.toString(8)).toBe('750');
    for (const [name, mode] of files) expect(`${name} ${mode.toString(8)}`).toBe(`${name} 640`);
  });

  it('an existing namespace directory of ours is brought to the mode the option asks for', async () => {
    const base = tmp.make();
    fs.mkdirSync(path.join(base, 'ns'), { mode: 0o777 });
    fs.chmodSync(path.join(base, 'ns'), 0o777);
    const { dir } = await modesAfterUse({ dir: base, key: 'ns' });
    expect(dir.toString(8)).toBe('700');
  });

  it('groupAccess must be a boolean', async () => {
    for (const groupAccess of ['yes', 1, null]) {
      expect(await openOutcome({ dir: tmp.make(), groupAccess: groupAccess as unknown as boolean })).toBe(
        'ERR_INVALID_ARGUMENT',
      );
    }
  });
});

describe('a namespace directory another user controls is refused (docs/SEMANTICS.md rules H1–H7)', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());
  const isRoot = process.geteuid?.() === 0;
  const NOBODY_UID = 65534;

  it.skipIf(!isRoot)('a namespace directory owned by another user', async () => {
    const base = tmp.make();
    fs.mkdirSync(path.join(base, 'ns'));
    fs.chownSync(path.join(base, 'ns'), NOBODY_UID, NOBODY_UID);
    expect(await openOutcome({ dir: base, key: 'ns' })).toBe('ERR_INVALID_ARGUMENT');
    expect(fs.readdirSync(path.join(base, 'ns'))).toEqual([]);
  });

  it.skipIf(!isRoot)("a symlink planted at the namespace's name by another user", async () => {
    const base = tmp.make();
    const target = tmp.make();
    fs.symlinkSync(target, path.join(base, 'ns'));
    fs.lchownSync(path.join(base, 'ns'), NOBODY_UID, NOBODY_UID);
    expect(await openOutcome({ dir: base, key: 'ns' })).toBe('ERR_INVALID_ARGUMENT');
    expect(fs.readdirSync(target)).toEqual([]);
  });

  it('a symlink of our own to a directory of our own is followed (an operator moving data elsewhere)', async () => {
    const base = tmp.make();
    const target = tmp.make();
    fs.symlinkSync(target, path.join(base, 'ns'));
    expect(await openOutcome({ dir: base, key: 'ns' })).toBe('ok');
    expect(fs.readdirSync(target)).toContain('MANIFEST');
  });
});
