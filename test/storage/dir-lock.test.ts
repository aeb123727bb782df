import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE_NAME, acquireDirLock, type DirLock } from '../../src/storage/dir-lock.js';
import { nodeFileIo, type FileIo } from '../../src/storage/file-io.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

const lockModule = fileURLToPath(new URL('../../src/storage/dir-lock.ts', import.meta.url));
const ioModule = fileURLToPath(new URL('../../src/storage/file-io.ts', import.meta.url));

function lockText(dir: string): string {
  return fs.readFileSync(path.join(dir, LOCK_FILE_NAME), 'utf8');
}

function writeLock(dir: string, pid: number, hostname: string, token: string): void {
  fs.writeFileSync(path.join(dir, LOCK_FILE_NAME), `${pid}\n${hostname}\n${token}\n`);
}

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

/** A separate Node process that takes the lock and keeps it until killed. */
async function childHoldingLock(dir: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  const script = `
    import { acquireDirLock } from ${JSON.stringify(lockModule)};
    import { nodeFileIo } from ${JSON.stringify(ioModule)};
    acquireDirLock(nodeFileIo, ${JSON.stringify(dir)});
    process.stdout.write('locked\\n');
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}: ${stderr}`)));
  });
  return {
    pid: child.pid!,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

describe('acquireDirLock', () => {
  const tmp = new TmpDirs();
  const held: DirLock[] = [];
  afterEach(() => {
    for (const lock of held.splice(0)) lock.release();
    tmp.removeAll();
  });
  const acquire = (dir: string, io: FileIo = nodeFileIo) => {
    const lock = acquireDirLock(io, dir);
    held.push(lock);
    return lock;
  };

  it('writes "<pid>\\n<hostname>\\n<token>\\n" and removes it on release; release is idempotent', () => {
    const dir = tmp.make();
    const lock = acquire(dir);
    const [pid, hostname, token, rest] = lockText(dir).split('\n');
    expect(Number(pid)).toBe(process.pid);
    expect(hostname).toBe(os.hostname());
    expect(token).toMatch(/^\S{16,}$/);
    expect(rest).toBe('');
    lock.release();
    lock.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE_NAME))).toBe(false);
    acquire(dir).release();
  });

  it('refuses a second lock in the same process, also through a symlink, naming this pid', () => {
    const dir = tmp.make();
    acquire(dir);
    const err = expectWalError(() => acquire(dir), 'ERR_LOCKED');
    expect(err.message).toContain(String(process.pid));
    const link = path.join(tmp.make(), 'link');
    fs.symlinkSync(dir, link);
    expectWalError(() => acquire(link), 'ERR_LOCKED');
  });

  it('refuses a lock held by another thread of this process', async () => {
    const dir = tmp.make();
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        (await import('tsx/esm/api')).register();
        const { acquireDirLock } = await import(workerData.lockModule);
        const { nodeFileIo } = await import(workerData.ioModule);
        acquireDirLock(nodeFileIo, workerData.dir);
        parentPort.postMessage('locked');
      })();
    `;
    const worker = new Worker(code, { eval: true, workerData: { dir, lockModule, ioModule } });
    try {
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(Number(lockText(dir).split('\n')[0])).toBe(process.pid);
      expectWalError(() => acquire(dir), 'ERR_LOCKED');
    } finally {
      await worker.terminate();
    }
  });

  it('refuses a lock held by a live process, then takes it over once that process is SIGKILLed', async () => {
    const dir = tmp.make();
    const holder = await childHoldingLock(dir);
    try {
      const err = expectWalError(() => acquire(dir), 'ERR_LOCKED');
      expect(err.message).toContain(`pid ${holder.pid}`);
      expect(Number(lockText(dir).split('\n')[0])).toBe(holder.pid);
    } finally {
      await holder.kill();
    }
    acquire(dir);
    expect(Number(lockText(dir).split('\n')[0])).toBe(process.pid);
  });

  it('takes over a lock whose process is dead', () => {
    const dir = tmp.make();
    writeLock(dir, deadPid(), os.hostname(), 'deadbeef');
    acquire(dir);
    expect(lockText(dir)).not.toContain('deadbeef');
    expect(fs.readdirSync(dir)).toEqual([LOCK_FILE_NAME]);
  });

  it('treats a lock from another host as live, even with a dead pid', () => {
    const dir = tmp.make();
    writeLock(dir, deadPid(), `not-${os.hostname()}`, 'cafe');
    const err = expectWalError(() => acquire(dir), 'ERR_LOCKED');
    expect(err.message).toContain(`not-${os.hostname()}`);
    expect(lockText(dir)).toContain('cafe');
  });

  it('takes over a lock with this pid left by an earlier process (recycled pid)', () => {
    const dir = tmp.make();
    writeLock(dir, process.pid, os.hostname(), '1-0123456789abcdef');
    acquire(dir);
    expect(lockText(dir)).not.toContain('1-0123456789abcdef');
  });

  it('takes over an empty or garbled LOCK (a creator that died before writing it)', () => {
    for (const content of ['', 'garbage', '12\n']) {
      const dir = tmp.make();
      fs.writeFileSync(path.join(dir, LOCK_FILE_NAME), content);
      const lock = acquire(dir);
      expect(Number(lockText(dir).split('\n')[0])).toBe(process.pid);
      lock.release();
    }
  });

  it('release leaves a LOCK that is no longer its own', () => {
    const dir = tmp.make();
    const lock = acquire(dir);
    writeLock(dir, 1, `not-${os.hostname()}`, 'other');
    lock.release();
    expect(lockText(dir)).toContain('other');
  });

  it('reports a failed lock write as an I/O error and leaves no LOCK behind', () => {
    const dir = tmp.make();
    const full: FileIo = {
      ...nodeFileIo,
      pwrite() {
        throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC', syscall: 'write' });
      },
    };
    expectWalError(() => acquire(dir, full), 'ERR_DISK_FULL');
    expect(fs.existsSync(path.join(dir, LOCK_FILE_NAME))).toBe(false);
    acquire(dir);
  });
});
