/**
 * The walrus-ts rows load the *built* package (dist/), exactly what a user imports, through a
 * computed specifier: the bench must typecheck and run (ceilings and peers) before the engine lands.
 * The types below are the public API the bench relies on (README.md, API), kept structural on
 * purpose.
 */
import * as fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type WalrusFsync = { intervalMs: number } | 'each' | 'none';
export type WalrusReadConsistency = 'strictly-at-once' | { atLeastOnce: { persistEvery: number } };

export interface WalrusOpenOptions {
  dir: string;
  key?: string;
  fsync?: WalrusFsync;
  readConsistency?: WalrusReadConsistency;
  writers?: number;
  ringBytes?: number;
  retention?: { maxBytes?: number; maxAgeMs?: number; keepConsumed?: boolean };
}

export interface WalrusEntry {
  readonly data: Uint8Array;
  readonly timeMs: number;
}

export interface WalrusLog {
  append(topic: string, data: Uint8Array | string): Promise<void>;
  batchAppend(topic: string, entries: Array<Uint8Array | string>): Promise<void>;
  /** The promise-free append: false once the ring is full (then wait for 'drain'). */
  write(topic: string, data: Uint8Array | string): boolean;
  /** Resolves once everything written or appended before it was written to the OS (durable under 'each'). */
  flush(): Promise<void>;
  once(event: 'drain', listener: () => void): unknown;
  readNext(topic: string, options?: { checkpoint?: boolean }): Promise<WalrusEntry | null>;
  batchRead(topic: string, options: { maxBytes: number; checkpoint?: boolean }): Promise<WalrusEntry[]>;
  /** Follows the topic's tail, consuming a batch (default 64 KiB) per read; ends when `signal` aborts. */
  subscribe(topic: string, options?: { signal?: AbortSignal; maxBytes?: number }): AsyncIterable<WalrusEntry>;
  /** Resolves at the next write of the topic's writer, when `signal` aborts or after `timeoutMs`. */
  waitForWrites(topic: string, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
  /** A named consumer (docs/SEMANTICS.md rule D19): the read calls above for its own position. */
  consumer(name: string): Pick<WalrusLog, 'readNext' | 'batchRead' | 'subscribe'> & {
    seek(topic: string, to: { timeMs: number } | { seq: number }): Promise<void>;
  };
  stats(): Promise<{ reclaimedSegments: number }>;
  /** One entry by its sequence number (docs/SEMANTICS.md rule D20). */
  get(topic: string, seq: number): Promise<WalrusEntry | null>;
}

export interface WalrusApi {
  open(options: WalrusOpenOptions): Promise<WalrusLog>;
}

export type WalrusAvailability = { ok: true; api: WalrusApi } | { ok: false; reason: string };

export const walrusDistEntryPath = fileURLToPath(new URL('../dist/src/index.js', import.meta.url));

export async function loadWalrus(entryPath: string = walrusDistEntryPath): Promise<WalrusAvailability> {
  if (!fs.existsSync(entryPath)) {
    return { ok: false, reason: `walrus-ts not built (${entryPath} is missing; run \`npm run build\`)` };
  }
  try {
    const mod = (await import(pathToFileURL(entryPath).href)) as { Walrus?: { open?: unknown } };
    const walrus = mod.Walrus;
    if (typeof walrus?.open !== 'function') {
      return { ok: false, reason: `walrus-ts not built (${entryPath} does not export Walrus.open)` };
    }
    return { ok: true, api: walrus as WalrusApi };
  } catch (err) {
    return { ok: false, reason: `walrus-ts failed to load: ${err instanceof Error ? err.message : String(err)}` };
  }
}
