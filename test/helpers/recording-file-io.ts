/**
 * A power-loss simulator: a `FileIo` that keeps the whole namespace in memory and remembers, for
 * every file and directory, what is durable and what is not yet, so that at any moment it can say
 * which disk states a power cut at that moment may leave behind.
 *
 * THE MODEL (what survives a power cut), chosen to be at least as hostile as ext4/xfs on Linux:
 *
 * - File data. Each file (inode) has its durable bytes, as of its last `fdatasync`/`fsync`, and
 *   the ordered list of writes and truncates issued since ("pending"). After a crash each pending
 *   op has a fate, chosen independently for every file:
 *     - in-order mode (most states): the pending ops survive as a PREFIX in issue order; the first
 *       op not kept, if it is a write, may be TORN: any subset of its 512-byte sectors (sectors
 *       are aligned to the file offset, a sector is atomic) lands, or a prefix of them;
 *     - reorder mode (some states): every pending write is kept, dropped or torn independently of
 *       the others (page-cache writeback has no order); truncates, being journaled metadata, are
 *       kept in order.
 *   A torn or reordered write may leave the file longer than what landed (a size update that
 *   reached the journal while the data did not): the gap reads as zeros, as it would on xfs.
 *   Not modelled: a sector that is itself half old and half new (sectors are atomic here), data
 *   that was durable becoming damaged (that is the corrupt-file fuzzer's job), and unsynced
 *   overwrites of synced bytes reverting partially (the store never overwrites durable bytes).
 * - Directories. Each directory has its durable entries, as of its last `fsyncDir`, and the ordered
 *   list of creations, renames and unlinks since. After a crash a PREFIX of those survives (ext4's
 *   journal commits metadata in order): a created file whose directory was not fsynced may be
 *   missing, a rename may be undone (the old target comes back), an unlink may be undone (the file
 *   comes back with its durable data and its own pending writes' fate). `fsync` of a file does NOT
 *   make its directory entry durable. `mkdirp` is durable at once (the namespace directory is
 *   created once, before anything else, and recreating it is not what is under test).
 * - Different files, and a file versus its directory, are independent: a cursor-log write can
 *   survive while the segment write that preceded it does not.
 *
 * A `CrashChoice` is the serializable description of one crash state (the fate of every pending op),
 * so a counterexample can be pinned in a regression test and replayed exactly. `materialize` writes
 * a state into a real directory for `LogStore.open` (with `nodeFileIo`) to recover.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FileIo, OpenMode } from '../../src/storage/file-io.js';

export const SECTOR_BYTES = 512;

type FileOp =
  | { readonly kind: 'write'; readonly position: number; readonly bytes: Uint8Array }
  | { readonly kind: 'truncate'; readonly length: number };

type DirOp =
  | { readonly kind: 'link'; readonly name: string; readonly inode: number }
  | { readonly kind: 'unlink'; readonly name: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string };

interface Inode {
  readonly id: number;
  /** Current content (what reads see): `data[0, length)`. */
  data: Uint8Array;
  length: number;
  /** Content as of the last data sync; never mutated in place, so snapshots can share it. */
  durable: Uint8Array;
  pending: FileOp[];
}

interface Dir {
  readonly path: string;
  /** Current entries: name → inode id. */
  entries: Map<string, number>;
  durable: Map<string, number>;
  pending: DirOp[];
}

interface OpenFile {
  readonly inode: number;
  readonly path: string;
  readonly writable: boolean;
}

/** One mutating call, as reported to `onMutation` (for cut points and traces). */
export interface MutationRecord {
  /** 1-based index of this mutation since the io was created. */
  readonly index: number;
  readonly op: 'create' | 'pwrite' | 'ftruncate' | 'fdatasync' | 'fsync' | 'fsyncDir' | 'rename' | 'unlink';
  readonly path: string;
  readonly detail: string;
}

/** What a crash at one moment may leave: immutable, so it can be kept while the io moves on. */
export interface ModelSnapshot {
  readonly mutationIndex: number;
  readonly dirs: ReadonlyArray<{
    readonly path: string;
    readonly durable: ReadonlyMap<string, number>;
    readonly pending: readonly DirOp[];
  }>;
  readonly inodes: ReadonlyMap<number, { readonly durable: Uint8Array; readonly pending: readonly FileOp[] }>;
}

/** The fate of one pending file op: kept, dropped, or (writes only) torn into these sectors. */
export type OpFate = 'k' | 'd' | { sectors: number[]; extend: boolean };

/** The full description of one crash state of a snapshot (JSON-serializable, for regressions). */
export interface CrashChoice {
  /** Per directory (snapshot order): how many of its pending ops survive (a prefix). */
  dirOps: number[];
  /** Per inode id with pending ops: the fate of each of them; absent = all dropped. */
  files: Record<string, OpFate[]>;
}

export interface CrashState {
  /** Absolute path → content, every file that exists after the crash. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly choice: CrashChoice;
  /** Human-readable summary of the choice, with file names. */
  readonly description: string;
  /** A digest of the resulting files: equal digests are equal states. */
  readonly key: string;
}

/** Deterministic PRNG (mulberry32): every random choice of a run derives from one printed seed. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

function fsError(code: string, syscall: string, filePath: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: simulated, ${syscall} '${filePath}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  err.path = filePath;
  return err;
}

export class RecordingFileIo implements FileIo {
  readonly root: string;
  /** Called after every mutating call, with the model already updated. */
  onMutation: ((record: MutationRecord) => void) | null = null;
  #mutations = 0;
  #nextInode = 1;
  #nextFd = 1000;
  readonly #inodes = new Map<number, Inode>();
  readonly #dirs = new Map<string, Dir>();
  readonly #fds = new Map<number, OpenFile>();
  readonly #locks = new Map<number, number>();
  /** Each reset (a machine coming back up) is a new boot. */
  #boot = 1;
  /** A boot id that stays what it is (a state checked as the same boot or another), else one per resetTo. */
  readonly #fixedBootId: string | null;

  /** `root` is the namespace directory; it (and only what is below it) lives in memory. */
  constructor(root: string, fixedBootId: string | null = null) {
    this.root = path.resolve(root);
    this.#fixedBootId = fixedBootId;
    this.#dirs.set(this.root, { path: this.root, entries: new Map(), durable: new Map(), pending: [] });
  }

  get mutationCount(): number {
    return this.#mutations;
  }

  // ---- FileIo ----------------------------------------------------------------------------------

  open(filePath: string, mode: OpenMode): number {
    const { dir, name, full } = this.#locate(filePath, 'open');
    let id = dir.entries.get(name);
    if (id !== undefined && mode === 'create-exclusive') throw fsError('EEXIST', 'open', full);
    if (id === undefined) {
      if (mode === 'read') throw fsError('ENOENT', 'open', full);
      id = this.#nextInode++;
      this.#inodes.set(id, { id, data: new Uint8Array(0), length: 0, durable: new Uint8Array(0), pending: [] });
      dir.entries.set(name, id);
      dir.pending.push({ kind: 'link', name, inode: id });
      this.#mutated('create', full, `inode ${id}`);
    }
    const fd = this.#nextFd++;
    this.#fds.set(fd, { inode: id, path: full, writable: mode !== 'read' });
    return fd;
  }

  close(fd: number): void {
    this.#file(fd, 'close');
    this.#fds.delete(fd);
    for (const [inode, holder] of this.#locks) if (holder === fd) this.#locks.delete(inode);
  }

  /** Like an OFD lock: per open (descriptor here), released by close. Not part of the crash model. */
  bootId(): string | null {
    return this.#fixedBootId ?? `recorded-boot-${this.#boot}`;
  }

  tryLock(fd: number): boolean {
    const { inode } = this.#file(fd, 'fcntl');
    const holder = this.#locks.get(inode);
    if (holder !== undefined && holder !== fd) return false;
    this.#locks.set(inode, fd);
    return true;
  }

  pwrite(fd: number, data: Uint8Array, offset: number, length: number, position: number): number {
    const file = this.#file(fd, 'write');
    if (!file.writable) throw fsError('EBADF', 'write', file.path);
    const inode = this.#inodes.get(file.inode)!;
    const bytes = data.slice(offset, offset + length);
    applyWrite(inode, position, bytes);
    inode.pending.push({ kind: 'write', position, bytes });
    this.#mutated('pwrite', file.path, `[${position}, ${position + length})`);
    return length;
  }

  pread(fd: number, into: Uint8Array, offset: number, length: number, position: number): number {
    const file = this.#file(fd, 'read');
    const inode = this.#inodes.get(file.inode)!;
    const n = Math.max(0, Math.min(length, inode.length - position));
    into.set(inode.data.subarray(position, position + n), offset);
    return n;
  }

  fdatasync(fd: number): void {
    this.#sync(fd, 'fdatasync');
  }

  fsync(fd: number): void {
    this.#sync(fd, 'fsync');
  }

  ftruncate(fd: number, lengthBytes: number): void {
    const file = this.#file(fd, 'ftruncate');
    if (!file.writable) throw fsError('EINVAL', 'ftruncate', file.path);
    const inode = this.#inodes.get(file.inode)!;
    applyTruncate(inode, lengthBytes);
    inode.pending.push({ kind: 'truncate', length: lengthBytes });
    this.#mutated('ftruncate', file.path, `to ${lengthBytes}`);
  }

  fileSize(fd: number): number {
    return this.#inodes.get(this.#file(fd, 'fstat').inode)!.length;
  }

  /** The model has no ctime: a digest of the content changes exactly when the content does, and survives a reboot. */
  changeStamp(fd: number): string {
    const inode = this.#inodes.get(this.#file(fd, 'fstat').inode)!;
    return createHash('sha1').update(inode.data.subarray(0, inode.length)).digest('hex');
  }

  fsyncDir(dirPath: string): void {
    const dir = this.#dirs.get(path.resolve(dirPath));
    if (dir === undefined) {
      if (this.#isAncestorOfRoot(dirPath)) return;
      throw fsError('ENOENT', 'open', dirPath);
    }
    dir.durable = new Map(dir.entries);
    dir.pending = [];
    this.#mutated('fsyncDir', dir.path, '');
  }

  rename(from: string, to: string): void {
    const a = this.#locate(from, 'rename');
    const b = this.#locate(to, 'rename');
    if (a.dir !== b.dir) throw fsError('EXDEV', 'rename', a.full);
    const id = a.dir.entries.get(a.name);
    if (id === undefined) throw fsError('ENOENT', 'rename', a.full);
    if (a.name === b.name) return;
    a.dir.entries.delete(a.name);
    a.dir.entries.set(b.name, id);
    a.dir.pending.push({ kind: 'rename', from: a.name, to: b.name });
    this.#mutated('rename', a.full, `-> ${b.name}`);
  }

  unlink(filePath: string): void {
    const { dir, name, full } = this.#locate(filePath, 'unlink');
    if (!dir.entries.has(name)) throw fsError('ENOENT', 'unlink', full);
    dir.entries.delete(name);
    dir.pending.push({ kind: 'unlink', name });
    this.#mutated('unlink', full, '');
  }

  readdir(dirPath: string): string[] {
    const resolved = path.resolve(dirPath);
    const dir = this.#dirs.get(resolved);
    if (dir === undefined) throw fsError('ENOENT', 'scandir', resolved);
    const subdirs = [...this.#dirs.keys()]
      .filter((p) => path.dirname(p) === resolved && p !== resolved)
      .map((p) => path.basename(p));
    return [...dir.entries.keys(), ...subdirs].sort();
  }

  mkdirp(dirPath: string): void {
    const resolved = path.resolve(dirPath);
    if (this.#isAncestorOfRoot(resolved)) return;
    if (!resolved.startsWith(this.root + path.sep)) throw fsError('EACCES', 'mkdir', resolved);
    for (let p = resolved; p !== this.root; p = path.dirname(p)) {
      if (!this.#dirs.has(p)) this.#dirs.set(p, { path: p, entries: new Map(), durable: new Map(), pending: [] });
    }
  }

  kind(filePath: string): 'file' | 'dir' | 'other' | null {
    const resolved = path.resolve(filePath);
    if (this.#dirs.has(resolved) || this.#isAncestorOfRoot(resolved)) return 'dir';
    const dir = this.#dirs.get(path.dirname(resolved));
    return dir?.entries.has(path.basename(resolved)) ? 'file' : null;
  }

  readFile(filePath: string): Uint8Array {
    const { dir, name, full } = this.#locate(filePath, 'open');
    const id = dir.entries.get(name);
    if (id === undefined) throw fsError('ENOENT', 'open', full);
    const inode = this.#inodes.get(id)!;
    return inode.data.slice(0, inode.length);
  }

  /** The inode a path names now: how a test builds a `CrashChoice` for a file it knows by name. */
  inodeOf(filePath: string): number | undefined {
    const { dir, name } = this.#locate(filePath, 'stat');
    return dir.entries.get(name);
  }

  // ---- crash states ------------------------------------------------------------------------------

  /** The durability state right now (cheap: shares immutable buffers). */
  snapshot(): ModelSnapshot {
    const inodes = new Map<number, { durable: Uint8Array; pending: FileOp[] }>();
    for (const inode of this.#inodes.values())
      inodes.set(inode.id, { durable: inode.durable, pending: inode.pending.slice() });
    const dirs = [...this.#dirs.values()].map((d) => ({
      path: d.path,
      durable: new Map(d.durable),
      pending: d.pending.slice(),
    }));
    return { mutationIndex: this.#mutations, dirs, inodes };
  }

  /** What every file holds now: the state a process crash (not a power cut) leaves. */
  currentFiles(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const dir of this.#dirs.values()) {
      for (const [name, id] of dir.entries) {
        const inode = this.#inodes.get(id)!;
        out.set(path.join(dir.path, name), inode.data.slice(0, inode.length));
      }
    }
    return out;
  }

  /**
   * Replaces the whole model with `files`, all of it durable, and forgets every descriptor: the
   * machine came back up with this disk. (The store that used the old model must be abandoned.)
   */
  resetTo(files: ReadonlyMap<string, Uint8Array>): void {
    this.#boot++;
    this.#inodes.clear();
    this.#fds.clear();
    for (const dir of this.#dirs.values()) {
      dir.entries.clear();
      dir.durable.clear();
      dir.pending = [];
    }
    for (const [filePath, bytes] of files) {
      const { dir, name } = this.#locate(filePath, 'open');
      const id = this.#nextInode++;
      const durable = bytes.slice();
      this.#inodes.set(id, { id, data: bytes.slice(), length: bytes.byteLength, durable, pending: [] });
      dir.entries.set(name, id);
      dir.durable.set(name, id);
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  #mutated(op: MutationRecord['op'], filePath: string, detail: string): void {
    this.#mutations++;
    this.onMutation?.({ index: this.#mutations, op, path: filePath, detail });
  }

  #sync(fd: number, op: 'fdatasync' | 'fsync'): void {
    const file = this.#file(fd, op);
    const inode = this.#inodes.get(file.inode)!;
    inode.durable = inode.data.slice(0, inode.length);
    inode.pending = [];
    this.#mutated(op, file.path, '');
  }

  #file(fd: number, syscall: string): OpenFile {
    const file = this.#fds.get(fd);
    if (file === undefined) throw fsError('EBADF', syscall, `fd ${fd}`);
    return file;
  }

  #locate(filePath: string, syscall: string): { dir: Dir; name: string; full: string } {
    const full = path.resolve(filePath);
    const dir = this.#dirs.get(path.dirname(full));
    if (dir === undefined) throw fsError('ENOENT', syscall, full);
    return { dir, name: path.basename(full), full };
  }

  #isAncestorOfRoot(p: string): boolean {
    const resolved = path.resolve(p);
    return resolved === this.root || this.root.startsWith(resolved === path.sep ? resolved : resolved + path.sep);
  }
}

function ensureCapacity(inode: Inode, length: number): void {
  if (inode.data.byteLength >= length) return;
  const grown = new Uint8Array(Math.max(length, inode.data.byteLength * 2, 4096));
  grown.set(inode.data.subarray(0, inode.length));
  inode.data = grown;
}

function applyWrite(inode: Inode, position: number, bytes: Uint8Array): void {
  const end = position + bytes.byteLength;
  ensureCapacity(inode, end);
  // A write past the end leaves a hole that reads as zeros.
  if (position > inode.length) inode.data.fill(0, inode.length, position);
  inode.data.set(bytes, position);
  inode.length = Math.max(inode.length, end);
}

function applyTruncate(inode: Inode, length: number): void {
  ensureCapacity(inode, length);
  if (length > inode.length) inode.data.fill(0, inode.length, length);
  inode.length = length;
}

/** The 512-byte sectors (by file offset) a write touches, as [start, end) clipped to the write. */
function sectorsOf(op: { position: number; bytes: Uint8Array }): Array<[number, number]> {
  const end = op.position + op.bytes.byteLength;
  const out: Array<[number, number]> = [];
  for (let s = Math.floor(op.position / SECTOR_BYTES) * SECTOR_BYTES; s < end; s += SECTOR_BYTES) {
    out.push([Math.max(s, op.position), Math.min(s + SECTOR_BYTES, end)]);
  }
  return out;
}

/** Builds the content a file has after a crash, given the fate of each of its pending ops. */
function replay(durable: Uint8Array, pending: readonly FileOp[], fates: readonly OpFate[]): Uint8Array {
  const inode: Inode = { id: 0, data: durable.slice(), length: durable.byteLength, durable, pending: [] };
  pending.forEach((op, i) => {
    const fate = fates[i] ?? 'd';
    if (fate === 'd') return;
    if (op.kind === 'truncate') {
      applyTruncate(inode, op.length);
      return;
    }
    if (fate === 'k') {
      applyWrite(inode, op.position, op.bytes);
      return;
    }
    const sectors = sectorsOf(op);
    for (const index of fate.sectors) {
      const [from, to] = sectors[index]!;
      applyWrite(inode, from, op.bytes.subarray(from - op.position, to - op.position));
    }
    // The size reached the journal but the data of the dropped sectors did not: zeros.
    if (fate.extend) applyTruncate(inode, Math.max(inode.length, op.position + op.bytes.byteLength));
  });
  return inode.data.slice(0, inode.length);
}

function applyDirOps(
  durable: ReadonlyMap<string, number>,
  pending: readonly DirOp[],
  keep: number,
): Map<string, number> {
  const entries = new Map(durable);
  for (const op of pending.slice(0, keep)) {
    if (op.kind === 'link') entries.set(op.name, op.inode);
    else if (op.kind === 'unlink') entries.delete(op.name);
    else {
      const id = entries.get(op.from);
      // A rename whose source creation did not survive cannot happen: the prefix keeps both or neither.
      if (id === undefined) throw new Error(`model error: rename of missing ${op.from}`);
      entries.delete(op.from);
      entries.set(op.to, id);
    }
  }
  return entries;
}

/**
 * A choice that keeps every pending op (directories and files), except that the files in
 * `overrides` get the fates given there (an inode mapped to [] loses all its pending ops).
 */
export function keepAllExcept(snapshot: ModelSnapshot, overrides: Record<number, OpFate[]> = {}): CrashChoice {
  const files: Record<string, OpFate[]> = {};
  for (const [id, inode] of snapshot.inodes) files[String(id)] = overrides[id] ?? inode.pending.map((): OpFate => 'k');
  return { dirOps: snapshot.dirs.map((d) => d.pending.length), files };
}

/** Builds one crash state of `snapshot` from an explicit choice (how regressions replay one). */
export function crashStateOf(snapshot: ModelSnapshot, choice: CrashChoice): CrashState {
  const files = new Map<string, Uint8Array>();
  const notes: string[] = [];
  snapshot.dirs.forEach((dir, i) => {
    const keep = Math.min(choice.dirOps[i] ?? 0, dir.pending.length);
    if (dir.pending.length > 0)
      notes.push(
        `dir ${path.basename(dir.path)}: ${keep}/${dir.pending.length} ops [${dir.pending.map(describeDirOp).join(', ')}]`,
      );
    for (const [name, id] of applyDirOps(dir.durable, dir.pending, keep)) {
      const inode = snapshot.inodes.get(id)!;
      const fates = choice.files[String(id)] ?? [];
      if (inode.pending.length > 0) notes.push(`${name}#${id}: ${describeFates(inode.pending, fates)}`);
      files.set(path.join(dir.path, name), replay(inode.durable, inode.pending, fates));
    }
  });
  const hash = createHash('sha1');
  for (const name of [...files.keys()].sort()) {
    hash.update(name);
    hash.update('\0');
    hash.update(String(files.get(name)!.byteLength));
    hash.update('\0');
    hash.update(files.get(name)!);
  }
  return { files, choice, description: notes.join('; ') || 'no pending ops', key: hash.digest('hex') };
}

function describeDirOp(op: DirOp): string {
  if (op.kind === 'link') return `+${op.name}`;
  if (op.kind === 'unlink') return `-${op.name}`;
  return `${op.from}→${op.to}`;
}

function describeFates(pending: readonly FileOp[], fates: readonly OpFate[]): string {
  return pending
    .map((op, i) => {
      const fate = fates[i] ?? 'd';
      const what = op.kind === 'truncate' ? `trunc(${op.length})` : `w[${op.position}+${op.bytes.byteLength}]`;
      if (fate === 'k' || fate === 'd') return `${what}:${fate}`;
      return `${what}:torn{${fate.sectors.join(',')}}${fate.extend ? '+ext' : ''}`;
    })
    .join(' ');
}

/** A random tear of a write: some of its sectors (never all), maybe with the size extended. */
function randomTear(op: { position: number; bytes: Uint8Array }, rng: Rng): OpFate {
  const count = sectorsOf(op).length;
  if (count <= 1) return rng.chance(0.5) ? 'd' : { sectors: [], extend: true };
  let sectors: number[];
  if (rng.chance(0.6)) {
    // The common case: the write reached the disk front to back and stopped.
    sectors = Array.from({ length: rng.between(1, count - 1) }, (_, i) => i);
  } else {
    sectors = Array.from({ length: count }, (_, i) => i).filter(() => rng.chance(0.5));
    if (sectors.length === count) sectors.pop();
  }
  return { sectors, extend: rng.chance(0.3) };
}

/** Fates for one file: 'durable' drops everything, 'all' keeps everything, otherwise a random mix. */
function randomFates(pending: readonly FileOp[], rng: Rng, style: 'durable' | 'all' | 'random'): OpFate[] {
  const n = pending.length;
  if (style === 'durable' || n === 0) return [];
  if (style === 'all') return pending.map(() => 'k');
  const reorder = rng.chance(0.2);
  if (reorder) {
    return pending.map((op): OpFate => {
      if (op.kind === 'truncate') return 'k';
      const r = rng.next();
      return r < 0.4 ? 'k' : r < 0.7 ? 'd' : randomTear(op, rng);
    });
  }
  // In order: a prefix survives, biased towards the ends (all or nothing are the common outcomes).
  const r = rng.next();
  const keep = r < 0.25 ? 0 : r < 0.5 ? n : rng.int(n + 1);
  const fates: OpFate[] = pending.map((_, i) => (i < keep ? 'k' : 'd'));
  const next = pending[keep];
  if (next !== undefined && next.kind === 'write' && rng.chance(0.6)) fates[keep] = randomTear(next, rng);
  return fates;
}

/**
 * `count` crash states of a snapshot, deduplicated by content. The first is always "nothing
 * pending survived" (only what was made durable), the second "everything survived" (what a process
 * crash leaves); the rest are random, per directory and per file independently.
 */
export function randomCrashStates(
  snapshot: ModelSnapshot,
  rng: Rng,
  count: number,
): Array<CrashState & { style: 'durable' | 'all' | 'random' }> {
  const out: Array<CrashState & { style: 'durable' | 'all' | 'random' }> = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const style = i === 0 ? 'durable' : i === 1 ? 'all' : 'random';
    const choice: CrashChoice = { dirOps: [], files: {} };
    for (const dir of snapshot.dirs) {
      const n = dir.pending.length;
      const r = rng.next();
      choice.dirOps.push(style === 'durable' ? 0 : style === 'all' ? n : r < 0.3 ? 0 : r < 0.6 ? n : rng.int(n + 1));
    }
    for (const [id, inode] of snapshot.inodes) {
      const fates = randomFates(inode.pending, rng, style);
      if (fates.length > 0) choice.files[String(id)] = fates;
    }
    const state = crashStateOf(snapshot, choice);
    if (seen.has(state.key)) continue;
    seen.add(state.key);
    out.push({ ...state, style });
  }
  return out;
}

/**
 * Writes a crash state into `dir` (created empty). Files of the state's namespace root land
 * directly in `dir`. The LOCK file is left out: after a real power cut its holder is gone and the
 * lock is taken over as stale (test/storage/dir-lock.test.ts); here its holder is this very
 * process, so keeping it would make the state look locked.
 */
export function materialize(state: CrashState, root: string, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [filePath, bytes] of state.files) {
    const rel = path.relative(root, filePath);
    if (rel === 'LOCK') continue;
    const target = path.join(dir, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, bytes);
  }
}

/** The files of a state without the LOCK (see `materialize`), for `RecordingFileIo.resetTo`. */
export function withoutLock(files: ReadonlyMap<string, Uint8Array>, root: string): Map<string, Uint8Array> {
  return new Map([...files].filter(([filePath]) => path.relative(root, filePath) !== 'LOCK'));
}
