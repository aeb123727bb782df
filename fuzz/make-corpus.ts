/**
 * Writes the seed corpora under fuzz/corpus/<target>/ from real files: the golden v1 fixture
 * (test/fixtures/golden/v1/) and a small log written here by the library itself (LogStore, built
 * code), reopened once so it has a second epoch, a later CURSORS generation and cursor records.
 * Rerun only when the format changes: node --import tsx fuzz/make-corpus.ts (after npm run build).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogStore } from '../dist/src/storage/log-store.js';
import { nodeFileIo } from '../dist/src/storage/file-io.js';
import { readManifest, writeManifest } from '../dist/src/storage/manifest.js';
import { CONTROL_HEADER_BYTES } from '../dist/src/storage/disk-codec.js';

const FUZZ_DIR = path.dirname(fileURLToPath(import.meta.url));
const GOLDEN_DIR = path.join(FUZZ_DIR, '..', 'test', 'fixtures', 'golden', 'v1');
const MAX_SEGMENT_SEED_BYTES = 20 * 1024;

function withControl(control: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + bytes.byteLength);
  out[0] = control;
  out.set(bytes, 1);
  return out;
}

const seeds = new Map<string, Uint8Array[]>();
function seed(target: string, bytes: Uint8Array): void {
  const list = seeds.get(target) ?? [];
  list.push(bytes);
  seeds.set(target, list);
}

function cursorLogInput(cursors: Uint8Array | null, logG: Uint8Array, logNext: Uint8Array): Uint8Array {
  const body = cursors === null ? new Uint8Array(0) : cursors.subarray(CONTROL_HEADER_BYTES);
  const rest = new Uint8Array(1 + logG.byteLength + logNext.byteLength);
  const total = logG.byteLength + logNext.byteLength;
  rest[0] = total === 0 ? 0 : Math.round((logG.byteLength / total) * 255);
  rest.set(logG, 1);
  rest.set(logNext, 1 + logG.byteLength);
  const out = new Uint8Array(3 + body.byteLength + rest.byteLength);
  out[0] = cursors === null ? 0 : 2;
  out[1] = body.byteLength & 0xff;
  out[2] = body.byteLength >>> 8;
  out.set(body, 3);
  out.set(rest, 3 + body.byteLength);
  return out;
}

function seedNamespace(dir: string): void {
  const names = fs.readdirSync(dir).sort();
  for (const name of names.filter((n) => n.endsWith('.sum'))) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(dir, name)));
    for (const control of [0, 1, 2, 3]) seed('summary', withControl(control, bytes));
  }
  for (const name of names.filter((n) => n.endsWith('.seg'))) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(dir, name)));
    if (bytes.byteLength <= MAX_SEGMENT_SEED_BYTES) {
      seed('segment', withControl(0, bytes));
      seed('segment', withControl(3, bytes));
      seed('frame-walker', withControl(0, bytes));
    }
    // Each frame header of the segment is a frame seed (the segment header with its payload).
    seed('frame', withControl(0, bytes.subarray(0, 64)));
    seed('frame', withControl(0, bytes.subarray(64, 96)));
  }
  const manifest = path.join(dir, 'MANIFEST');
  if (fs.existsSync(manifest)) {
    const bytes = new Uint8Array(fs.readFileSync(manifest));
    seed('manifest', withControl(0, bytes));
    seed('manifest', withControl(1, bytes.subarray(CONTROL_HEADER_BYTES)));
  }
  const cursorsPath = path.join(dir, 'CURSORS');
  const cursors = fs.existsSync(cursorsPath) ? new Uint8Array(fs.readFileSync(cursorsPath)) : null;
  if (cursors !== null) {
    seed('cursors', withControl(0, cursors));
    seed('cursors', withControl(1, cursors.subarray(CONTROL_HEADER_BYTES)));
  }
  const logs = names.filter((n) => /^cursors-[0-9a-f]{8}\.log$/.test(n));
  const logBytes = logs.map((n) => new Uint8Array(fs.readFileSync(path.join(dir, n))));
  seed('cursor-log', cursorLogInput(cursors, logBytes[0] ?? new Uint8Array(0), logBytes[1] ?? new Uint8Array(0)));
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-fuzz-corpus-'));
try {
  seedNamespace(GOLDEN_DIR);

  const dir = path.join(work, 'ns');
  const options = { dir, fsync: 'none' as const, segmentBytes: 64 * 1024, blockBytes: 4096 };
  let store = LogStore.open(options);
  store.append('a', 'one');
  store.batchAppend('b', ['x', 'y']);
  store.append('a', new Uint8Array(4500).fill(7)); // larger than a block
  store.readNext('a');
  store.close();
  store = LogStore.open(options);
  store.append('a', 'two');
  store.readNext('a');
  store.readNext('b');
  // Snapshot files as the open store left them: the live cursor log holds the records just written.
  const snapshot = path.join(work, 'open');
  fs.mkdirSync(snapshot);
  for (const name of fs.readdirSync(dir))
    if (name !== 'LOCK') fs.copyFileSync(path.join(dir, name), path.join(snapshot, name));
  store.close();
  seedNamespace(snapshot);

  // A MANIFEST with a key and fences, written by the library's own writer.
  const manifest = readManifest(nodeFileIo, dir)!;
  writeManifest(nodeFileIo, dir, {
    ...manifest,
    key: 'prod/payments',
    fences: [{ segment: { epoch: 1, writerIndex: 0, segmentNo: 0 }, topicId: 2, offset: 96, seq: 1 }],
  });
  const bytes = new Uint8Array(fs.readFileSync(path.join(dir, 'MANIFEST')));
  seed('manifest', withControl(0, bytes));
  seed('manifest', withControl(1, bytes.subarray(CONTROL_HEADER_BYTES)));

  for (const [target, list] of seeds) {
    const out = path.join(FUZZ_DIR, 'corpus', target);
    fs.mkdirSync(out, { recursive: true });
    for (const input of list) {
      const hash = crypto.createHash('sha1').update(input).digest('hex').slice(0, 16);
      fs.writeFileSync(path.join(out, `seed-${hash}.bin`), input);
    }
    console.log(`${target}: ${list.length} seeds`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
