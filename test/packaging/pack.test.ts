/**
 * The package as published (docs/ARCHITECTURE.md, issue 6 item 6): `npm pack` the repository,
 * install the tarball into an empty project outside the repository, and use it from plain
 * JavaScript (ESM) and from TypeScript with type checking. Real appends and a reopen through
 * the installed copy prove that the worker entry points (writer, flusher, piscina scan task)
 * ship and load.
 *
 * Needs the built dist/ (`npm test` builds first) and npm; dependencies come from the npm cache
 * when they are there (--prefer-offline), else from the registry.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const SLOW = 300_000;

/** The child processes see neither the test's worker-dir override nor anything that points back into the repo. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('WALRUS_')) delete env[key];
  delete env.NODE_OPTIONS;
  return env;
}

let work = '';
let project = '';
let packedFiles: string[] = [];

beforeAll(async () => {
  expect(fs.existsSync(path.join(root, 'dist/src/index.js')), 'dist/ is missing: run `npm run build` first').toBe(true);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'walrus-pack-'));
  const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', work], {
    cwd: root,
    env: cleanEnv(),
    maxBuffer: 64 << 20,
  });
  const [info] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packedFiles = info!.files.map((f) => f.path);
  const tarball = path.join(work, info!.filename);

  project = path.join(work, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'walrus-consumer', private: true, type: 'module' }, null, 2),
  );
  // --ignore-scripts: msgpackr's optional native accelerator is not needed (msgpackr falls back to JS).
  await run(
    npm,
    ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--loglevel=error'],
    {
      cwd: project,
      env: cleanEnv(),
      maxBuffer: 64 << 20,
    },
  );
}, SLOW);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the library, its declarations and every worker entry point, and nothing from tests or benchmarks', () => {
    for (const file of [
      'package.json',
      'README.md',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/streams.js',
      'dist/workers/writer.worker.js',
      'dist/workers/flusher.worker.js',
      'dist/workers/scan.task.js',
    ]) {
      expect(packedFiles, file).toContain(file);
    }
    expect(
      packedFiles.filter(
        (f) => /^(test|bench|examples)\//.test(f) || f.startsWith('dist/test') || f.startsWith('dist/bench'),
      ),
    ).toEqual([]);
    // Test tools (fault injection, test worker shells) live in test/tools/ and dist/test-tools/.
    expect(packedFiles.filter((f) => /fault|test-tools/i.test(f))).toEqual([]);
    // The TypeScript sources ship too, so the source maps and declaration maps resolve.
    expect(packedFiles).toContain('src/index.ts');
    expect(packedFiles).toContain('workers/writer.worker.ts');
  });

  it('reads no test environment variable: no fault plan, no crash hook in the shipped code', () => {
    const installed = path.join(project, 'node_modules/walrus-ts');
    const readers = packedFiles
      .filter((f) => /\.(js|ts|mjs)$/.test(f))
      .filter((f) => /WALRUS_FAULTS|WALRUS_TEST_/.test(fs.readFileSync(path.join(installed, f), 'utf8')));
    expect(readers).toEqual([]);
  });

  it('ships walrus-ts/jetstream as a subpath whose NATS client is an optional peer, not installed with the core', async () => {
    expect(packedFiles).toContain('dist/src/jetstream/index.js');
    expect(packedFiles).toContain('dist/src/jetstream/index.d.ts');
    const installed = JSON.parse(
      fs.readFileSync(path.join(project, 'node_modules/walrus-ts/package.json'), 'utf8'),
    ) as {
      exports: Record<string, { default: string }>;
      peerDependenciesMeta: Record<string, { optional: boolean }>;
    };
    expect(installed.exports['./jetstream']?.default).toBe('./dist/src/jetstream/index.js');
    expect(installed.peerDependenciesMeta['@nats-io/jetstream']?.optional).toBe(true);
    expect(fs.existsSync(path.join(project, 'node_modules/@nats-io'))).toBe(false);
    // Resolvable through the exports map; loading it needs the peers, which the app did not install.
    const script =
      "try { await import('walrus-ts/jetstream'); console.log('loaded'); } catch (e) { console.log(e.code); }\nconsole.log(import.meta.resolve('walrus-ts/jetstream'));";
    fs.writeFileSync(path.join(project, 'subpath.mjs'), script);
    const { stdout } = await run(process.execPath, ['subpath.mjs'], { cwd: project, env: cleanEnv() });
    expect(stdout.trim().split('\n')).toEqual([
      'ERR_MODULE_NOT_FOUND',
      `file://${fs.realpathSync(project)}/node_modules/walrus-ts/dist/src/jetstream/index.js`,
    ]);
  });

  it('installs with its dependencies into an empty project', () => {
    const installed = JSON.parse(
      fs.readFileSync(path.join(project, 'node_modules/walrus-ts/package.json'), 'utf8'),
    ) as { dependencies: Record<string, string> };
    for (const dep of Object.keys(installed.dependencies)) {
      expect(fs.existsSync(path.join(project, 'node_modules', dep, 'package.json')), dep).toBe(true);
    }
  });
});

const JS_CONSUMER = `
import { Walrus, WalError, topicWritable } from 'walrus-ts';
import { once } from 'node:events';

const dir = process.argv[2];
const out = { resolved: import.meta.resolve('walrus-ts') };

const wal = await Walrus.open({ dir, codec: 'msgpack', writers: 2 });
await wal.append('orders', JSON.stringify({ id: 1, total: 42 }));
await wal.batchAppend('orders', ['a', 'b', 'c']);
await wal.append('objects', { when: new Date(0), big: 2n ** 64n, tags: new Set(['x']) });
const first = await wal.readNext('orders');
out.first = { seq: first.seq, text: first.text(), codec: first.codec };
const obj = await wal.readNext('objects');
out.object = { when: obj.value.when.toISOString(), big: String(obj.value.big), tags: [...obj.value.tags] };

const sink = topicWritable(wal, 'streamed');
sink.write('s1');
sink.end('s2');
await once(sink, 'finish');
const controller = new AbortController();
out.subscribed = [];
for await (const entry of wal.subscribe('streamed', { signal: controller.signal })) {
  out.subscribed.push(entry.text());
  if (out.subscribed.length === 2) controller.abort();
}
await wal.close();
try {
  await wal.append('orders', 'late');
} catch (err) {
  out.afterClose = err instanceof WalError ? err.code : String(err);
}

// Reopen: recovery scans the segments with the piscina task shipped in the package.
const again = await Walrus.open({ dir });
out.rest = (await again.batchRead('orders', { maxBytes: 1 << 20 })).map((e) => e.text());
out.appended = (await again.stats()).topics.orders.appended;
await again.close();

try {
  await import('walrus-ts/dist/src/engine/main/walrus.js');
  out.deepImport = 'allowed';
} catch (err) {
  out.deepImport = err.code;
}
console.log(JSON.stringify(out));
`;

describe('the installed package from plain JavaScript (ESM)', () => {
  it('opens, appends, reads, subscribes, closes and recovers', async () => {
    fs.writeFileSync(path.join(project, 'use.mjs'), JS_CONSUMER);
    const dataDir = path.join(work, 'data-js');
    const { stdout } = await run(process.execPath, ['use.mjs', dataDir], { cwd: project, env: cleanEnv() });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.resolved).toBe(`file://${fs.realpathSync(project)}/node_modules/walrus-ts/dist/src/index.js`);
    expect(out.first).toEqual({ seq: 0, text: '{"id":1,"total":42}', codec: 'raw' });
    expect(out.object).toEqual({ when: '1970-01-01T00:00:00.000Z', big: String(2n ** 64n), tags: ['x'] });
    expect(out.subscribed).toEqual(['s1', 's2']);
    expect(out.afterClose).toBe('ERR_CLOSED');
    expect(out.rest).toEqual(['a', 'b', 'c']);
    expect(out.appended).toBe(4);
    expect(out.deepImport).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED'); // the exports map is the surface
  });
});

const TS_CONSUMER = `
import { Walrus, WalError, topicReadable, type Entry, type WalErrorCode, type WalrusOptions, type WalrusStats } from 'walrus-ts';
import type { Readable } from 'node:stream';

const options: WalrusOptions = {
  dir: process.argv[2]!,
  fsync: 'each',
  readConsistency: { atLeastOnce: { persistEvery: 5 } },
  segmentBytes: 64 * 1024,
  blockBytes: 4096,
};
const wal: Walrus = await Walrus.open(options);
await wal.append('t', new Uint8Array([1, 2, 3]));
await wal.append('t', 'two');
const entry: Entry | null = await wal.readNext('t');
const bytes: number[] = entry ? [...entry.data] : [];
const stream: Readable = topicReadable(wal, 't', { signal: AbortSignal.abort() });
stream.destroy();
const stats: WalrusStats = await wal.stats();
await wal.close();
let code: WalErrorCode | null = null;
try {
  await wal.readNext('t');
} catch (err) {
  if (err instanceof WalError) code = err.code;
}
console.log(JSON.stringify({ bytes, unread: stats.topics['t']?.unread, code }));

/** Never called: each line must be a type error, or tsc reports the unused @ts-expect-error. */
export async function typeErrors(w: Walrus): Promise<void> {
  // @ts-expect-error batchRead needs { maxBytes }
  void w.batchRead('t');
  // @ts-expect-error not an fsync mode
  void Walrus.open({ fsync: 'sometimes' });
  // @ts-expect-error error codes are a closed union
  const bad: WalErrorCode = 'ERR_NOPE';
  void bad;
  for await (const s of w.subscribe('t')) {
    // @ts-expect-error subscribe yields Entry objects, not strings
    const str: string = s;
    void str;
  }
}
`;

describe('the installed package from TypeScript', () => {
  it('type-checks against the shipped declarations (NodeNext) and runs', async () => {
    fs.writeFileSync(path.join(project, 'index.ts'), TS_CONSUMER);
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            // The package's own .d.ts files are checked too, not only this file's use of them.
            skipLibCheck: false,
            typeRoots: [path.join(root, 'node_modules/@types')],
            types: ['node'],
            rootDir: '.',
            outDir: 'out',
          },
          files: ['index.ts'],
        },
        null,
        2,
      ),
    );
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    const compiled = await run(process.execPath, [tsc, '-p', path.join(project, 'tsconfig.json')], {
      cwd: project,
      env: cleanEnv(),
    }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`tsc failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    expect(compiled.stdout).toBe('');

    const { stdout } = await run(process.execPath, ['out/index.js', path.join(work, 'data-ts')], {
      cwd: project,
      env: cleanEnv(),
    });
    expect(JSON.parse(stdout)).toEqual({ bytes: [1, 2, 3], unread: 1, code: 'ERR_CLOSED' });
  });

  it('reports a misuse of the API as a type error', async () => {
    fs.writeFileSync(
      path.join(project, 'wrong.ts'),
      `import { Walrus } from 'walrus-ts';\nconst wal = await Walrus.open({ dir: 'x' });\nawait wal.append('t', 42, { codec: 'yaml' });\n`,
    );
    const tsconfig = JSON.parse(fs.readFileSync(path.join(project, 'tsconfig.json'), 'utf8')) as {
      files: string[];
      compilerOptions: Record<string, unknown>;
    };
    fs.writeFileSync(
      path.join(project, 'tsconfig.wrong.json'),
      JSON.stringify({
        ...tsconfig,
        files: ['wrong.ts'],
        compilerOptions: { ...tsconfig.compilerOptions, noEmit: true },
      }),
    );
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    const failure = await run(process.execPath, [tsc, '-p', path.join(project, 'tsconfig.wrong.json')], {
      cwd: project,
      env: cleanEnv(),
    }).then(
      () => null,
      (err: { stdout: string }) => err.stdout,
    );
    expect(failure).toMatch(/wrong\.ts\(3,\d+\): error TS2322: Type '"yaml"' is not assignable to type 'EntryCodec/);
  });
});
