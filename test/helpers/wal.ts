/**
 * Opening the BUILT package (dist/) the way a user would, in a fresh temp directory per test, and
 * closing every instance afterwards so no worker outlives its test (nor a fault plan its test).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { Walrus, type WalrusOptions } from '../../dist/src/index.js';
import type { FaultPlan } from '../tools/faulty-file-io.js';
import { within } from './within.js';

/**
 * The test worker shells (test/tools/workers/, built by `npm run build`): the production services
 * over a FileIo that faults as WALRUS_FAULTS says. The package's own workers know nothing of faults.
 */
export const TEST_WORKER_DIR = fileURLToPath(new URL('../../dist/test-tools/workers/', import.meta.url));

const opened: Walrus[] = [];
const dirs: string[] = [];

afterEach(async () => {
  // a backstop: openWithFaults already unsets both after each open
  delete process.env.WALRUS_FAULTS;
  delete process.env.WALRUS_WORKER_DIR;
  await closeOpened();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Closes every instance opened so far, as afterEach does: for a test that must let go of its files sooner. */
export async function closeOpened(): Promise<void> {
  await Promise.allSettled(opened.splice(0).map((w) => w.close()));
}

export function tempDir(prefix = 'walrus-engine-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Small sizes so tests exercise rolls, wraps and backpressure with little data. */
export const SMALL: WalrusOptions = { writers: 2, ringBytes: 64 * 1024, segmentBytes: 64 * 1024, blockBytes: 4096 };

/** SMALL, with a maxBatchEntries so large that one peek (`peekTexts`) reads a whole test topic. */
export const SMALL_WHOLE_TOPIC: WalrusOptions = { ...SMALL, maxBatchEntries: 100_000 };

export async function openWal(options: WalrusOptions = {}): Promise<Walrus> {
  const wal = await Walrus.open({ dir: options.dir ?? tempDir(), ...options });
  opened.push(wal);
  return wal;
}

/**
 * Opens with the test worker shells (TEST_WORKER_DIR) and `plan` in the workers' environment: they
 * copy it when they start, so both are set only while opening and cannot leak into a later open.
 * A null plan opens the package's own workers, without faults.
 */
export async function openWithFaults(dir: string, options: WalrusOptions, plan: FaultPlan | null): Promise<Walrus> {
  if (plan) {
    process.env.WALRUS_FAULTS = JSON.stringify(plan);
    process.env.WALRUS_WORKER_DIR = TEST_WORKER_DIR;
  }
  try {
    return await within(openWal({ ...options, dir }), 'open');
  } finally {
    delete process.env.WALRUS_FAULTS;
    delete process.env.WALRUS_WORKER_DIR;
  }
}

export async function drain(
  wal: Walrus,
  topic: string,
  maxBytes = 1 << 20,
): Promise<Array<{ seq: number; text: string }>> {
  const out: Array<{ seq: number; text: string }> = [];
  for (;;) {
    const batch = await wal.batchRead(topic, { maxBytes });
    if (batch.length === 0) return out;
    for (const e of batch) out.push({ seq: e.seq, text: e.text() });
  }
}

/** Every entry of `topic` without moving its cursor, bounded; one batch, so open with SMALL_WHOLE_TOPIC. */
export async function peekTexts(wal: Walrus, topic: string): Promise<string[]> {
  return (await within(wal.batchRead(topic, { maxBytes: Infinity, checkpoint: false }), `peek ${topic}`)).map((e) =>
    e.text(),
  );
}

/** drain(), texts only, bounded: the fault tests compare texts and must not hang on a dead worker. */
export async function drainTexts(wal: Walrus, topic: string): Promise<string[]> {
  return (await within(drain(wal, topic), `drain ${topic}`)).map((e) => e.text);
}
