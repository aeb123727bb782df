/**
 * The `walrus` CLI as a user runs it: `node bin/walrus.mjs …` on the BUILT package (`npm test`
 * builds first) against a log written with the engine. stats, tail, dump, help and usage errors,
 * bench's pass-through and its message outside a source checkout, and that none of the read
 * commands changes a byte of the directory they look at.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';
import { root, runWalrus as walrus } from './run-walrus.js';

const KEY = 'shop/orders::v1';
const NS = 'shop_orders__v1';
const ORDERS = 300;
const CONSUMED = 120;
let base: string;
let nsDir: string;

/** Every file under `dir` with its size, mtime and content hash: a read-only command leaves all of it alone. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    const st = fs.statSync(p);
    const hash = st.isFile() ? crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex') : 'dir';
    out[name] = `${st.size}:${st.mtimeMs}:${hash}`;
  }
  return out;
}

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-cli-'));
  nsDir = path.join(base, NS);
  // Small segments so the log spans several files; two writers so topics live in different files.
  const wal = await Walrus.open({ dir: base, key: KEY, writers: 2, segmentBytes: 64 * 1024, blockBytes: 4096 });
  for (let i = 0; i < ORDERS; i++) await wal.append('orders', `order-${i}:${'x'.repeat(200)}`);
  await wal.batchAppend('events', ['created', 'paid\nand shipped', 'closed']);
  await wal.append(
    'objects',
    { big: 12345678901234567890n, when: new Date(0), tags: new Set(['a']) },
    { codec: 'msgpack' },
  );
  await wal.append('binary', new Uint8Array([0xff, 0x00, 0xfe]));
  for (let i = 0; i < CONSUMED; i++) await wal.readNext('orders');
  await wal.close();
}, 60_000);

afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

describe('help and usage errors', () => {
  it('prints help globally and for every command, exit 0', async () => {
    const global = await walrus(['--help']);
    expect(global.code).toBe(0);
    for (const command of ['stats', 'verify', 'tail', 'dump', 'bench'])
      expect(global.stdout).toContain(`  ${command} `);
    for (const command of ['stats', 'verify', 'tail', 'dump', 'bench']) {
      const run = await walrus([command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Usage: walrus ${command}`);
      expect(run.stdout).toContain('Exit codes');
      expect(run.stderr).toBe('');
    }
    const viaHelp = await walrus(['help', 'tail']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toContain('--follow');
  });

  it('exits 2 with a message on stderr for a wrong command line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage: walrus <command>/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['stats', nsDir, '--bogus'], /Unknown option '--bogus'/],
      [['stats'], /missing <dir>/],
      [['stats', nsDir, 'extra'], /unexpected argument: "extra"/],
      [['tail', nsDir], /missing <topic>/],
      [['tail', nsDir, 'orders', '--format', 'xml'], /--format must be one of text, json, hex/],
      [['tail', nsDir, 'orders', '-n', 'ten'], /--lines must be a whole number/],
      [['tail', nsDir, 'orders', '--from-start', '-n', '3'], /exclude each other/],
      [['dump', nsDir, '--format', 'yaml'], /--format must be one of/],
      [['stats', base, '--key', ''], /namespace key must not be empty/],
    ];
    for (const [args, message] of cases) {
      const run = await walrus(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
  });

  it('exits 1 with a clear message when there is nothing to read', async () => {
    const missing = await walrus(['stats', path.join(base, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such directory');
    // The parent of a namespace: the message names the namespace directory and --key.
    const noKey = await walrus(['stats', base]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('holds no walrus-ts log');
    expect(noKey.stderr).toContain(NS);
    expect(noKey.stderr).toContain('--key');
    const wrongKey = await walrus(['stats', base, '--key', 'other']);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('no namespace for key "other"');
    const noTopic = await walrus(['tail', base, 'nope', '--key', KEY]);
    expect(noTopic.code).toBe(1);
    expect(noTopic.stderr).toContain('no topic "nope"');
    expect(noTopic.stderr).toContain('"orders"');
  });
});

describe('walrus stats', () => {
  it('--json reports every topic with appended, consumed, unread, stored, bytes and segments', async () => {
    const run = await walrus(['stats', base, '--key', KEY, '--json']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout);
    expect(report.dir).toBe(nsDir);
    expect(report.key).toBe(KEY);
    expect(report.epoch).toBe(1);
    expect(report.openBy).toBeNull();
    expect(report.damagedFrames).toBe(0);
    const byName = Object.fromEntries(report.topics.map((t: { name: string }) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual(['binary', 'events', 'objects', 'orders']);
    const orderBytes = Array.from({ length: ORDERS }, (_, i) =>
      Buffer.byteLength(`order-${i}:${'x'.repeat(200)}`),
    ).reduce((a, b) => a + b, 0);
    expect(byName.orders).toMatchObject({
      appended: ORDERS,
      consumed: CONSUMED,
      unread: ORDERS - CONSUMED,
      stored: ORDERS,
      bytes: orderBytes,
      damaged: false,
    });
    expect(byName.orders.segments).toBeGreaterThan(1);
    expect(byName.events).toMatchObject({
      appended: 3,
      consumed: 0,
      unread: 3,
      stored: 3,
      bytes: Buffer.byteLength('createdpaid\nand shippedclosed'),
      segments: 1,
    });
    expect(byName.binary).toMatchObject({ appended: 1, bytes: 3 });
    expect(report.totals).toMatchObject({
      topics: 4,
      appended: ORDERS + 5,
      consumed: CONSUMED,
      unread: ORDERS + 5 - CONSUMED,
    });
    const segs = fs.readdirSync(nsDir).filter((n) => n.endsWith('.seg'));
    expect(report.segments.count).toBe(segs.length);
    expect(report.segments.bytes).toBe(segs.reduce((n, s) => n + fs.statSync(path.join(nsDir, s)).size, 0));
    expect(report.files.count).toBe(fs.readdirSync(nsDir).length);
  });

  it('prints a table a person can read', async () => {
    const run = await walrus(['stats', nsDir]); // the namespace directory itself works without --key
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`walrus-ts log  ${nsDir}`);
    expect(run.stdout).toContain(`namespace key  ${JSON.stringify(KEY)}`);
    expect(run.stdout).toContain('(not open)');
    expect(run.stdout).toMatch(/topic\s+appended\s+consumed\s+unread\s+stored\s+bytes\s+segments/);
    expect(run.stdout).toMatch(
      new RegExp(`orders\\s+${ORDERS}\\s+${CONSUMED}\\s+${ORDERS - CONSUMED}\\s+${ORDERS}\\s`),
    );
    expect(run.stdout).toMatch(/events\s+3\s+0\s+3\s+3\s/);
    expect(run.stdout).toContain('damaged frames 0');
  });
});

describe('walrus tail', () => {
  it('prints the last 10 entries by default, oldest first, or the last N', async () => {
    const run = await walrus(['tail', base, 'orders', '--key', KEY]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toEqual(Array.from({ length: 10 }, (_, i) => `order-${ORDERS - 10 + i}:${'x'.repeat(200)}`));
    const three = await walrus(['tail', base, 'orders', '-k', KEY, '-n', '3']);
    expect(
      three.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split(':')[0]),
    ).toEqual(['order-297', 'order-298', 'order-299']);
  });

  it('--from-start prints every stored entry, consumed or not, and moves no cursor', async () => {
    const run = await walrus(['tail', base, 'orders', '-k', KEY, '--from-start']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.length).toBe(ORDERS);
    expect(lines[0]!.startsWith('order-0:')).toBe(true);
    const stats = JSON.parse((await walrus(['stats', base, '-k', KEY, '--json'])).stdout);
    expect(stats.topics.find((t: { name: string }) => t.name === 'orders').consumed).toBe(CONSUMED);
  });

  it('--format json gives one parseable object per entry: text, base64 or the decoded value', async () => {
    const events = await walrus(['tail', base, 'events', '-k', KEY, '--format', 'json']);
    const parsed = events.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const time = expect.any(Number);
    expect(parsed).toEqual([
      { topic: 'events', seq: 0, timeMs: time, codec: 'raw', bytes: 7, text: 'created' },
      { topic: 'events', seq: 1, timeMs: time, codec: 'raw', bytes: 16, text: 'paid\nand shipped' },
      { topic: 'events', seq: 2, timeMs: time, codec: 'raw', bytes: 6, text: 'closed' },
    ]);
    // Append times (docs/FORMAT.md §13.3): this run's, and non-decreasing along the topic.
    const times = parsed.map((e: { timeMs: number }) => e.timeMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(Math.abs(times[0] - Date.now())).toBeLessThan(3_600_000);
    const binary = JSON.parse((await walrus(['tail', base, 'binary', '-k', KEY, '--format', 'json'])).stdout);
    expect(binary).toMatchObject({
      seq: 0,
      codec: 'raw',
      bytes: 3,
      base64: Buffer.from([0xff, 0x00, 0xfe]).toString('base64'),
    });
    expect(binary.text).toBeUndefined();
    const objects = JSON.parse((await walrus(['tail', base, 'objects', '-k', KEY, '--format', 'json'])).stdout);
    expect(objects).toMatchObject({
      codec: 'msgpack',
      value: { big: '12345678901234567890', when: '1970-01-01T00:00:00.000Z', tags: ['a'] },
    });
  });

  it('--format hex dumps the payload bytes', async () => {
    const run = await walrus(['tail', base, 'binary', '-k', KEY, '--format', 'hex']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('seq 0 (3 bytes)');
    expect(run.stdout).toMatch(/00000000 {2}ff 00 fe\s+\|\.\.\.\|/);
  });
});

describe('walrus dump', () => {
  it('lists every frame in order with segment, offset, topic, seq, flags and bytes', async () => {
    const run = await walrus(['dump', base, '-k', KEY, '--format', 'json']);
    expect(run.code).toBe(0);
    const records = run.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const segs = fs
      .readdirSync(nsDir)
      .filter((n) => n.endsWith('.seg'))
      .sort();
    expect(records.filter((r) => r.kind === 'SEGMENT_HEADER').map((r) => r.segment)).toEqual(segs);
    expect(records.every((r) => r.kind !== 'DAMAGE')).toBe(true);
    const orders = records.filter((r) => r.kind === 'ENTRY' && r.topic === 'orders');
    expect(orders.map((r) => r.seq)).toEqual(Array.from({ length: ORDERS }, (_, i) => i));
    expect(orders[5]).toMatchObject({
      timeMs: expect.any(Number),
      codec: 'raw',
      flags: [],
      status: 'visible',
      bytes: Buffer.byteLength(`order-5:${'x'.repeat(200)}`),
    });
    expect(orders[5].text).toBe(`order-5:${'x'.repeat(200)}`);
    // Offsets increase within a segment, and each frame is where the file says it is.
    const first = orders[0];
    const bytes = fs.readFileSync(path.join(nsDir, first.segment));
    expect(bytes.subarray(first.offset, first.offset + 4).toString('latin1')).toBe('WALR');
    const events = records.filter((r) => r.kind === 'ENTRY' && r.topic === 'events');
    expect(events.map((r) => r.flags)).toEqual([['BATCH'], ['BATCH'], ['BATCH', 'BATCH_END']]);
    expect(records.find((r) => r.kind === 'ENTRY' && r.topic === 'objects').flags).toEqual(['msgpack']);
  });

  it('--topic keeps one topic; text lines carry the same fields and a payload preview', async () => {
    const run = await walrus(['dump', base, '-k', KEY, '--topic', 'events']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.length).toBe(4); // its TOPIC_DEF and three entries
    expect(lines[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{8}\.seg\s+\d+\s+TOPIC_DEF\s+topic "events" id=\d+$/);
    const time = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    expect(lines[2]).toMatch(
      new RegExp(
        `ENTRY\\s+topic "events" seq=1 time=${time} bytes=16 flags=BATCH visible {2}\\| paid\\\\nand shipped$`,
      ),
    );
    expect(lines[3]).toContain('flags=BATCH|BATCH_END');
    const hex = await walrus(['dump', base, '-k', KEY, '--topic', 'binary', '--format', 'hex']);
    expect(hex.stdout).toMatch(
      new RegExp(`ENTRY\\s+topic "binary" seq=0 time=${time} bytes=3 flags=- visible\\n\\s+00000000 {2}ff 00 fe`),
    );
  });
});

describe('read-only', () => {
  it('stats, verify, tail and dump leave every file of the directory as it was', async () => {
    const before = fingerprint(nsDir);
    for (const args of [['stats'], ['verify'], ['tail', 'orders'], ['dump']]) {
      const [command, ...rest] = args;
      const run = await walrus([command!, nsDir, ...rest]);
      expect(run.code).toBe(0);
    }
    expect(fingerprint(nsDir)).toEqual(before);
  });
});

describe('walrus bench', () => {
  it('passes its arguments to the benchmark (here: the benchmark own --help)', async () => {
    const run = await walrus(['bench', '--', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--scenarios');
  });

  it('says it needs a source checkout when bench/ is not there', async () => {
    // An installed-like copy: bin and dist, no bench/ (the package's `files` leave it out).
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-cli-pkg-'));
    try {
      fs.cpSync(path.join(root, 'bin'), path.join(copy, 'bin'), { recursive: true });
      fs.cpSync(path.join(root, 'dist'), path.join(copy, 'dist'), { recursive: true });
      fs.copyFileSync(path.join(root, 'package.json'), path.join(copy, 'package.json'));
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
      const run = await walrus(['bench', '--quick'], path.join(copy, 'bin', 'walrus.mjs'));
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${path.join(copy, 'bench')} is missing`);
      expect(run.stderr).toContain('source checkout');
      expect(run.stderr).toContain('npm ci');
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('walrus stats: named consumers (docs/SEMANTICS.md rule D19)', () => {
  it('lists every named consumer’s position and lag per topic, as the engine persisted them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-cli-consumers-'));
    try {
      const wal = await Walrus.open({ dir, writers: 1 });
      for (let i = 0; i < 10; i++) await wal.append('t', `e${i}`);
      const indexer = wal.consumer('indexer');
      for (let i = 0; i < 4; i++) await indexer.readNext('t');
      wal.consumer('idle ☃', { startAt: 'latest' });
      await wal.readNext('t');
      await wal.close();
      const stats = JSON.parse((await walrus(['stats', dir, '--json'])).stdout);
      expect(stats.consumers).toEqual([
        { name: 'idle ☃', topics: [{ topic: 't', position: 10, lag: 0 }] },
        { name: 'indexer', topics: [{ topic: 't', position: 4, lag: 6 }] },
      ]);
      expect(stats.topics[0].consumed).toBe(1); // the default consumer's
      const table = (await walrus(['stats', dir])).stdout;
      expect(table).toContain('named consumers');
      expect(table).toMatch(/indexer\s+t\s+4\s+6/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
