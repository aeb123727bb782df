/**
 * Temporary namespace directories for tests, and the "crash copy" that stands in for a process
 * killed while the store is open: every byte handed to the OS is in the copy, nothing from close().
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function makeTmpDir(label = 'walrus-test'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${label}-`));
}

export function removeTmpDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The temp dirs of one test, removed together (call `removeAll` from `afterEach`). */
export class TmpDirs {
  readonly #dirs: string[] = [];

  make(label?: string): string {
    const dir = makeTmpDir(label);
    this.#dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const dir of this.#dirs.splice(0)) removeTmpDir(dir);
  }
}

/**
 * Copies a directory that a store still has open, as a SIGKILL would leave it. The copied LOCK
 * names this (live) process, so it is removed: otherwise the copy would look locked.
 */
export function crashCopy(sourceDir: string, tmp: TmpDirs): string {
  const copy = tmp.make('walrus-crash');
  fs.cpSync(sourceDir, copy, { recursive: true });
  fs.rmSync(path.join(copy, 'LOCK'), { force: true });
  return copy;
}

/** A plain copy of a closed directory (fixtures, or a base state shared by table-driven cases). */
export function copyDir(sourceDir: string, tmp: TmpDirs): string {
  const copy = tmp.make('walrus-copy');
  fs.cpSync(sourceDir, copy, { recursive: true });
  return copy;
}

/** The segment files of a namespace directory, full paths in name (age) order. */
export function segmentFilesOf(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.seg'))
    .sort()
    .map((n) => path.join(dir, n));
}
