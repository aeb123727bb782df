/**
 * A FileIo that fails on purpose, driven by a declarative, JSON-serializable fault plan. A test tool:
 * it is not part of the package. The test worker shells (test/tools/workers/, built to
 * dist/test-tools/workers/ and selected with WALRUS_WORKER_DIR) read a plan from the `WALRUS_FAULTS`
 * environment variable (workers copy the parent's environment when they start; functions could not
 * cross) and wrap the production services' FileIo with it; production code never reads it.
 *
 *   [{ op: 'pwrite', pathIncludes: '.seg', after: 3, times: 2, errno: 'ENOSPC' },
 *    { op: 'fdatasync', errno: 'EIO' },
 *    { op: 'pwrite', short: true },
 *    { op: 'rename', errno: 'EIO', whenFileExists: '/tmp/x/armed' }]
 *
 * A rule matches a call by operation and path (fd operations are matched by the path the fd was
 * opened with). `after` skips that many matching calls, `times` bounds how many it faults, and
 * `whenFileExists` makes the rule live only while that file exists: a test arms and disarms
 * faults in a worker by creating and deleting a file, with no message to the worker. `thread`
 * limits a rule to writers or the flusher, and `crash` ends the worker instead of throwing (the
 * hook the flusher-death tests use). Counters are per FileIo instance: each worker counts its own.
 *
 * Injected errors look like the ones Node's fs throws (`code`, `errno`, `syscall`, `path`, the
 * same message shape), because the library maps them by `code` exactly as it maps real ones.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as util from 'node:util';
import { isMainThread } from 'node:worker_threads';
import type { FileIo, OpenMode } from '../../dist/src/storage/file-io.js';

export type FaultOp =
  | 'open'
  | 'close'
  | 'pwrite'
  | 'pread'
  | 'fdatasync'
  | 'fsync'
  | 'ftruncate'
  | 'fileSize'
  | 'fsyncDir'
  | 'rename'
  | 'unlink'
  | 'readdir'
  | 'mkdirp'
  | 'kind'
  | 'readFile'
  | 'tryLock';

export interface FaultRule {
  /** The operation(s) this rule faults. */
  op: FaultOp | FaultOp[];
  /** Only calls whose path (or the path their fd was opened with) contains this string. */
  pathIncludes?: string;
  /** Let this many matching calls succeed first (default 0). */
  after?: number;
  /** Fault at most this many calls (default: every matching call after `after`). */
  times?: number;
  /** Throw an fs-style error with this code (default 'EIO' unless `short` or `crash` is set). */
  errno?: string;
  /**
   * pwrite only: a short write. `true` writes the first half of the range (at least one byte, so
   * a writer that loops always progresses); a number writes at most that many bytes (0: the call
   * accepts nothing and returns 0). With `errno` too, the call after each short write fails with
   * it — what a file system that runs out of space mid-write does (a partial count, then ENOSPC).
   */
  short?: boolean | number;
  /**
   * Kill the thread: in a worker, `process.exit(crashExitCode)` ends that worker abruptly (the
   * engine's 'exit' supervision sees it, as it would see a real crash); on the main thread, where
   * exiting would end the test runner, an Error without a `code` is thrown instead.
   */
  crash?: boolean;
  crashExitCode?: number;
  /** The rule is live only while this file exists (checked on every matching call). */
  whenFileExists?: string;
  /** Only in this kind of thread (the role the FaultyFileIo was created for); default: any. */
  thread?: FaultThread;
}

/** Who owns a FaultyFileIo: the worker shells pass their role, tests usually 'main'. */
export type FaultThread = 'writer' | 'flusher' | 'main';

export type FaultPlan = FaultRule[];

/** The environment variable the test worker shells (test/tools/workers/) read a plan from. */
export const FAULTS_ENV = 'WALRUS_FAULTS';

const FAULT_OPS: ReadonlySet<string> = new Set<FaultOp>([
  'open',
  'close',
  'pwrite',
  'pread',
  'fdatasync',
  'fsync',
  'ftruncate',
  'fileSize',
  'fsyncDir',
  'rename',
  'unlink',
  'readdir',
  'mkdirp',
  'kind',
  'readFile',
  'tryLock',
]);

/** The syscall Node names in its own error for each operation. */
const SYSCALL: Record<FaultOp, string> = {
  open: 'open',
  close: 'close',
  pwrite: 'write',
  pread: 'read',
  fdatasync: 'fdatasync',
  fsync: 'fsync',
  ftruncate: 'ftruncate',
  fileSize: 'fstat',
  fsyncDir: 'fsync',
  rename: 'rename',
  unlink: 'unlink',
  readdir: 'scandir',
  mkdirp: 'mkdir',
  kind: 'stat',
  readFile: 'open',
  tryLock: 'fcntl',
};

/** Validates a plan (from code or from JSON), so a typo fails loudly instead of faulting nothing. */
export function parseFaultPlan(value: unknown): FaultPlan {
  const plan = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  if (!Array.isArray(plan)) throw new TypeError('a fault plan must be an array of rules');
  for (const [i, rule] of plan.entries()) {
    if (typeof rule !== 'object' || rule === null) throw new TypeError(`fault rule ${i} must be an object`);
    const r = rule as Record<string, unknown>;
    const ops = Array.isArray(r.op) ? r.op : [r.op];
    for (const op of ops)
      if (typeof op !== 'string' || !FAULT_OPS.has(op))
        throw new TypeError(`fault rule ${i}: unknown op ${String(op)}`);
    for (const key of ['after', 'times', 'crashExitCode'] as const) {
      if (r[key] !== undefined && !(Number.isInteger(r[key]) && (r[key] as number) >= 0))
        throw new TypeError(`fault rule ${i}: ${key} must be an integer >= 0`);
    }
    if (r.errno !== undefined && (typeof r.errno !== 'string' || !(r.errno in os.constants.errno))) {
      throw new TypeError(`fault rule ${i}: unknown errno ${String(r.errno)}`);
    }
    if (
      r.short !== undefined &&
      typeof r.short !== 'boolean' &&
      !(Number.isInteger(r.short) && (r.short as number) >= 0)
    ) {
      throw new TypeError(`fault rule ${i}: short must be a boolean or a byte count >= 0`);
    }
    if (r.short !== undefined && r.short !== false && !ops.every((op) => op === 'pwrite'))
      throw new TypeError(`fault rule ${i}: short applies to pwrite only`);
    if (r.thread !== undefined && r.thread !== 'writer' && r.thread !== 'flusher' && r.thread !== 'main') {
      throw new TypeError(`fault rule ${i}: thread must be 'writer', 'flusher' or 'main'`);
    }
    for (const key of ['pathIncludes', 'whenFileExists'] as const) {
      if (r[key] !== undefined && typeof r[key] !== 'string')
        throw new TypeError(`fault rule ${i}: ${key} must be a string`);
    }
  }
  return plan as FaultPlan;
}

/** The plan in `WALRUS_FAULTS`, or null when the variable is unset or empty. */
export function faultPlanFromEnv(env: NodeJS.ProcessEnv = process.env): FaultPlan | null {
  const raw = env[FAULTS_ENV];
  if (raw === undefined || raw.trim() === '') return null;
  return parseFaultPlan(raw);
}

/** `io` itself when `WALRUS_FAULTS` holds no plan. */
export function withFaultsFromEnv(io: FileIo, thread: FaultThread, env: NodeJS.ProcessEnv = process.env): FileIo {
  const plan = faultPlanFromEnv(env);
  return plan === null ? io : new FaultyFileIo(io, plan, thread);
}

/** An error shaped like the one `fs.*Sync` throws for `code`. */
export function systemError(code: string, syscall: string, filePath?: string): NodeJS.ErrnoException {
  const errno = (os.constants.errno as Record<string, number>)[code];
  const description =
    errno === undefined ? 'unknown error' : (util.getSystemErrorMap().get(-errno)?.[1] ?? 'unknown error');
  const where = filePath === undefined ? '' : ` '${filePath}'`;
  const err = new Error(`${code}: ${description}, ${syscall}${where}`) as NodeJS.ErrnoException;
  err.code = code;
  if (errno !== undefined) err.errno = -errno;
  err.syscall = syscall;
  if (filePath !== undefined) err.path = filePath;
  return err;
}

interface RuleState {
  readonly rule: FaultRule;
  readonly ops: ReadonlySet<FaultOp>;
  seen: number;
  fired: number;
  /** A short write with `errno` happened: the next firing throws. */
  failNext: boolean;
}

export class FaultyFileIo implements FileIo {
  readonly #io: FileIo;
  readonly #rules: RuleState[];
  readonly #paths = new Map<number, string>();
  readonly #thread: FaultThread;
  #injected = 0;

  constructor(io: FileIo, plan: FaultPlan, thread: FaultThread = 'main') {
    this.#io = io;
    this.#thread = thread;
    this.#rules = parseFaultPlan(plan).map((rule) => ({
      rule,
      ops: new Set(Array.isArray(rule.op) ? rule.op : [rule.op]),
      seen: 0,
      fired: 0,
      failNext: false,
    }));
  }

  /** How many faults this instance injected so far. */
  get injected(): number {
    return this.#injected;
  }

  /** The first live rule that fires for this call (counting it), or null. */
  #fire(op: FaultOp, filePath: string | undefined): RuleState | null {
    for (const state of this.#rules) {
      const { rule } = state;
      if (!state.ops.has(op)) continue;
      if (rule.thread !== undefined && rule.thread !== this.#thread) continue;
      if (rule.pathIncludes !== undefined && !(filePath ?? '').includes(rule.pathIncludes)) continue;
      if (rule.whenFileExists !== undefined && !fs.existsSync(rule.whenFileExists)) continue;
      state.seen++;
      if (state.seen <= (rule.after ?? 0)) continue;
      if (rule.times !== undefined && state.fired >= rule.times) continue;
      state.fired++;
      this.#injected++;
      return state;
    }
    return null;
  }

  /** Throws (or exits) for a firing rule that is not a short write. */
  #check(op: FaultOp, filePath: string | undefined): void {
    const state = this.#fire(op, filePath);
    if (state !== null) this.#raise(state.rule, op, filePath);
  }

  #raise(rule: FaultRule, op: FaultOp, filePath: string | undefined): never {
    if (rule.crash) {
      if (!isMainThread) process.exit(rule.crashExitCode ?? 70);
      throw new Error(`injected crash in ${op}${filePath === undefined ? '' : ` of ${filePath}`}`);
    }
    throw systemError(rule.errno ?? 'EIO', SYSCALL[op], filePath);
  }

  open(filePath: string, mode: OpenMode): number {
    this.#check('open', filePath);
    const fd = this.#io.open(filePath, mode);
    this.#paths.set(fd, filePath);
    return fd;
  }

  close(fd: number): void {
    const filePath = this.#paths.get(fd);
    this.#paths.delete(fd);
    this.#check('close', filePath);
    this.#io.close(fd);
  }

  pwrite(fd: number, data: Uint8Array, offset: number, length: number, position: number): number {
    const filePath = this.#paths.get(fd);
    const state = this.#fire('pwrite', filePath);
    if (state !== null) {
      const { rule } = state;
      if (rule.short === undefined || rule.short === false || rule.crash || state.failNext) {
        state.failNext = false;
        this.#raise(rule, 'pwrite', filePath);
      }
      // A real short write: the first part reaches the file, the caller learns how much.
      state.failNext = rule.errno !== undefined;
      const part = rule.short === true ? Math.max(1, Math.floor(length / 2)) : Math.min(length, Number(rule.short));
      return part === 0 ? 0 : this.#io.pwrite(fd, data, offset, part, position);
    }
    return this.#io.pwrite(fd, data, offset, length, position);
  }

  pread(fd: number, into: Uint8Array, offset: number, length: number, position: number): number {
    this.#check('pread', this.#paths.get(fd));
    return this.#io.pread(fd, into, offset, length, position);
  }

  fdatasync(fd: number): void {
    this.#check('fdatasync', this.#paths.get(fd));
    this.#io.fdatasync(fd);
  }

  fsync(fd: number): void {
    this.#check('fsync', this.#paths.get(fd));
    this.#io.fsync(fd);
  }

  ftruncate(fd: number, lengthBytes: number): void {
    this.#check('ftruncate', this.#paths.get(fd));
    this.#io.ftruncate(fd, lengthBytes);
  }

  fileSize(fd: number): number {
    this.#check('fileSize', this.#paths.get(fd));
    return this.#io.fileSize(fd);
  }

  changeStamp(fd: number): string {
    this.#check('fileSize', this.#paths.get(fd));
    return this.#io.changeStamp(fd);
  }

  fsyncDir(dirPath: string): void {
    this.#check('fsyncDir', dirPath);
    this.#io.fsyncDir(dirPath);
  }

  rename(from: string, to: string): void {
    // Matched on either name: a rule for 'CURSORS' should catch 'CURSORS.tmp' → 'CURSORS'.
    const rule = this.#fire('rename', `${from}\n${to}`)?.rule ?? null;
    if (rule !== null) {
      if (rule.crash) this.#raise(rule, 'rename', from);
      const err = systemError(rule.errno ?? 'EIO', 'rename', from);
      err.message = `${err.message} -> '${to}'`;
      (err as NodeJS.ErrnoException & { dest?: string }).dest = to;
      throw err;
    }
    this.#io.rename(from, to);
  }

  unlink(filePath: string): void {
    this.#check('unlink', filePath);
    this.#io.unlink(filePath);
  }

  readdir(dirPath: string): string[] {
    this.#check('readdir', dirPath);
    return this.#io.readdir(dirPath);
  }

  mkdirp(dirPath: string, modeBits: number): void {
    this.#check('mkdirp', dirPath);
    this.#io.mkdirp(dirPath, modeBits);
  }

  kind(filePath: string): 'file' | 'dir' | 'other' | null {
    this.#check('kind', filePath);
    return this.#io.kind(filePath);
  }

  readFile(filePath: string): Uint8Array {
    this.#check('readFile', filePath);
    return this.#io.readFile(filePath);
  }

  tryLock(fd: number): boolean {
    this.#check('tryLock', this.#paths.get(fd));
    return this.#io.tryLock(fd);
  }

  bootId(): string | null {
    return this.#io.bootId();
  }
}
