/**
 * The control plane between the main thread and the long-lived workers: comlink over a dedicated
 * MessagePort per worker. Never on the per-append path (appends move through SAB rings).
 *
 * Comlink's own error transfer keeps only message/name/stack, and a dead worker leaves its calls
 * pending forever, so every exposed method returns a `ControlResult` (errors as WalError data) and
 * every call on the main side races the worker's death (`ControlClient.call`).
 */
import * as Comlink from 'comlink';
import type { MessagePort } from 'node:worker_threads';
import { WalError, toWalError, type WalErrorWire } from '../../errors.js';
import type { ReadConsistency } from '../../storage/checkpoint-policy.js';
import type { FsyncMode } from '../../storage/fsync-mode.js';
import type { TopicRunsSnapshot } from '../../storage/partition.js';
import type { RecoveredTopic, SegmentSummary } from '../../storage/recover.js';
import type { LatencySummary } from './latency-stats.js';

/**
 * comlink speaks the DOM `addEventListener` protocol; a Node MessagePort emits 'message' events
 * with the data itself. This is the whole adapter (comlink ships one only as a UMD file).
 */
type Listener = Parameters<Comlink.Endpoint['addEventListener']>[1];
type ListenerEvent = Parameters<Extract<Listener, (...args: never[]) => unknown>>[0];

function portEndpoint(port: MessagePort): Comlink.Endpoint {
  const wrapped = new WeakMap<object, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: unknown[]) => port.postMessage(message, transfer as never),
    addEventListener: (_type: string, listener: Listener) => {
      const handler = (data: unknown): void => {
        const event = { data } as ListenerEvent;
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      };
      wrapped.set(listener, handler);
      port.on('message', handler);
    },
    removeEventListener: (_type: string, listener: Listener) => {
      const handler = wrapped.get(listener);
      if (handler) port.off('message', handler);
    },
  };
}

export type ControlResult<T> = { ok: true; value: T } | { ok: false; error: WalErrorWire };

type AsyncApi<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};
type SafeApi<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<ControlResult<Awaited<R>>>
    : never;
};

/** Every run a writer's topics have, and the run-log position that covers (run-log.ts). */
export interface RunSnapshot {
  position: number;
  topics: TopicRunsSnapshot[];
}

export interface WriterStats {
  writerIndex: number;
  writtenOps: number;
  bytesWritten: number;
  commits: number;
  segment: string | null;
  topics: number;
}

export interface WriterControl {
  /** What the main thread rebuilds its index of this writer's topics from after its run log overflowed. */
  runSnapshot(): RunSnapshot;
  nextSeqs(topicIds: number[]): number[];
  sealedSegments(): SegmentSummary[];
  forgetSegments(paths: string[]): void;
  stats(): WriterStats;
  /** Drains the ring, writes everything, closes files. Resolves once nothing more will be written. */
  close(): void;
}

export interface FlusherStats {
  rounds: number;
  fsyncs: number;
  fsyncLatency: LatencySummary;
  failed: boolean;
}

export interface FlusherControl {
  stats(): FlusherStats;
  /** Atomically replaces `target` with `bytes`: tmp, fsync, rename, directory fsync (unless fsync is 'none'). */
  writeFileAtomic(target: string, bytes: Uint8Array): void;
  /** Unlinks fully consumed files after their writers closed every handle, then fsyncs the directory. */
  deleteFiles(paths: string[]): number;
  close(): void;
}

export interface WriterInit {
  dir: string;
  epoch: number;
  writerIndex: number;
  segmentBytes: number;
  blockBytes: number;
  /** The largest append time recovery saw: this writer's times start there (docs/FORMAT.md §13.3). */
  timeFloorMs: number;
  /** MANIFEST.v1TimeMs: the time of every entry of a version-1 segment (§20.3). */
  v1TimeMs: number;
  fsync: FsyncMode;
  ring: SharedArrayBuffer;
  cells: SharedArrayBuffer;
  /** Where the writer publishes the runs it wrote (run-log.ts). */
  runLog: SharedArrayBuffer;
  topics: RecoveredTopic[];
  controlPort: MessagePort;
  dataPort: MessagePort;
  eventsPort: MessagePort;
}

export interface FlusherInit {
  dir: string;
  epoch: number;
  writers: number;
  fsync: FsyncMode;
  cells: SharedArrayBuffer;
  controlPort: MessagePort;
  /**
   * Segments open scanned and drafted a summary for (docs/FORMAT.md §15.3 b): the first round
   * publishes them, after fdatasyncing each segment.
   */
  summaryDrafts: string[];
}

export type WriterEvent =
  { type: 'failed'; fromOp: number; toOp: number; error: WalErrorWire } | { type: 'sealed'; summary: SegmentSummary };

export type { ReadConsistency };

/** Worker side: exposes `api` so that every method answers with a ControlResult. */
export function exposeControl<T extends object>(api: T, port: MessagePort): void {
  const safe: Record<string, (...args: unknown[]) => Promise<ControlResult<unknown>>> = {};
  for (const key of Object.getOwnPropertyNames(Object.getPrototypeOf(api)).concat(Object.keys(api))) {
    const fn = (api as Record<string, unknown>)[key];
    if (key === 'constructor' || typeof fn !== 'function') continue;
    safe[key] = async (...args: unknown[]) => {
      try {
        const value = await (fn as (...a: unknown[]) => unknown).apply(api, args);
        return { ok: true as const, value };
      } catch (err) {
        return { ok: false as const, error: toWalError(err).toWire() };
      }
    };
  }
  Comlink.expose(safe, portEndpoint(port));
}

/** Main side: a typed client whose calls reject with WalError, and with ERR_WORKER_FAILED if the worker dies. */
export class ControlClient<T extends object> {
  readonly #remote: SafeApi<T>;
  readonly #port: MessagePort;
  #deathReason: WalError | null = null;
  readonly #pendingRejects = new Set<(err: WalError) => void>();

  /** `onPosted` runs after each call was posted (the flusher's client rings it: it may be blocked in a wait). */
  readonly #onPosted: (() => void) | undefined;

  constructor(port: MessagePort, onPosted?: () => void) {
    this.#port = port;
    this.#onPosted = onPosted;
    // Keep a strong reference to the proxy for the worker's lifetime: a collected proxy drops in-flight calls.
    this.#remote = Comlink.wrap<T>(portEndpoint(port)) as unknown as SafeApi<T>;
  }

  /** Called when the worker exits unexpectedly: every pending and future call rejects with `reason`. */
  markDead(reason: WalError): void {
    if (this.#deathReason) return;
    this.#deathReason = reason;
    for (const reject of this.#pendingRejects) reject(reason);
    this.#pendingRejects.clear();
  }

  call<K extends keyof T & string>(method: K, ...args: Parameters<AsyncApi<T>[K]>): ReturnType<AsyncApi<T>[K]> {
    if (this.#deathReason) return Promise.reject(this.#deathReason) as ReturnType<AsyncApi<T>[K]>;
    const pending = new Promise((resolve, reject) => {
      const onDeath = (err: WalError): void => reject(err);
      this.#pendingRejects.add(onDeath);
      const fn = this.#remote[method] as unknown as (...a: unknown[]) => Promise<ControlResult<unknown>>;
      fn(...args).then(
        (result) => {
          this.#pendingRejects.delete(onDeath);
          if (result.ok) resolve(result.value);
          else reject(WalError.fromWire(result.error));
        },
        (err: unknown) => {
          this.#pendingRejects.delete(onDeath);
          reject(toWalError(err, 'ERR_WORKER_FAILED'));
        },
      );
      this.#onPosted?.();
    });
    return pending as ReturnType<AsyncApi<T>[K]>;
  }

  release(): void {
    (this.#remote as unknown as Record<symbol, () => void>)[Comlink.releaseProxy]?.();
    this.#port.close();
  }
}
