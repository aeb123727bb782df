/**
 * An in-memory stand-in with the public walrus-ts API, so the harness's walrus-ts rows can be
 * exercised without the engine. It records how many appends were ever pending at once.
 */
import type { WalrusApi, WalrusEntry, WalrusLog, WalrusOpenOptions } from '../walrus-module.js';

export interface FakeWalrus extends WalrusApi {
  readonly opened: WalrusOpenOptions[];
  /** Every topic something was read from. */
  readonly readTopics: Set<string>;
  maxPending: number;
  openLogs: number;
}

export function createFakeWalrus(): FakeWalrus {
  const stores = new Map<string, Map<string, Uint8Array[]>>();
  // Woken (and emptied) on every append: what `waitForWrites` waits on.
  const waiters = new Set<() => void>();
  const wakeAll = (): void => {
    for (const wake of [...waiters]) wake();
  };
  const cursors = new Map<string, Map<string, number>>();
  let pending = 0;
  const fake: FakeWalrus = {
    opened: [],
    readTopics: new Set(),
    maxPending: 0,
    openLogs: 0,
    async open(options) {
      fake.opened.push(options);
      fake.openLogs++;
      const topics = stores.get(options.dir) ?? new Map<string, Uint8Array[]>();
      stores.set(options.dir, topics);
      const cursor = cursors.get(options.dir) ?? new Map<string, number>();
      cursors.set(options.dir, cursor);
      const later = <T>(value: T): Promise<T> => {
        pending++;
        fake.maxPending = Math.max(fake.maxPending, pending);
        return new Promise((resolve) =>
          setImmediate(() => {
            pending--;
            resolve(value);
          }),
        );
      };
      const take = (topic: string, count: number): WalrusEntry[] => {
        fake.readTopics.add(topic);
        const entries = topics.get(topic) ?? [];
        const at = cursor.get(topic) ?? 0;
        const out = entries.slice(at, at + count).map((data, i) => ({ data, timeMs: at + i }));
        cursor.set(topic, at + out.length);
        return out;
      };
      const log: WalrusLog = {
        append(topic, data) {
          const list = topics.get(topic) ?? [];
          topics.set(topic, list);
          list.push(typeof data === 'string' ? Buffer.from(data) : data);
          wakeAll();
          return later(undefined);
        },
        batchAppend(topic, entries) {
          const list = topics.get(topic) ?? [];
          topics.set(topic, list);
          for (const data of entries) list.push(typeof data === 'string' ? Buffer.from(data) : data);
          wakeAll();
          return later(undefined);
        },
        write(topic, data) {
          const list = topics.get(topic) ?? [];
          topics.set(topic, list);
          list.push(typeof data === 'string' ? Buffer.from(data) : data);
          wakeAll();
          return true;
        },
        flush: () => later(undefined),
        stats: () => later({ reclaimedSegments: 0 }),
        once: () => log,
        readNext: async (topic) => take(topic, 1)[0] ?? null,
        batchRead: async (topic, { maxBytes }) => {
          const size = topics.get(topic)?.[0]?.length ?? 1;
          return take(topic, Math.max(1, Math.min(2000, Math.floor(maxBytes / size))));
        },
        waitForWrites: (_topic, { signal, timeoutMs } = {}) =>
          new Promise<void>((resolve) => {
            if (signal?.aborted) return resolve();
            const timer = timeoutMs === undefined ? undefined : setTimeout(wake, timeoutMs);
            function wake(): void {
              waiters.delete(wake);
              clearTimeout(timer);
              signal?.removeEventListener('abort', wake);
              resolve();
            }
            waiters.add(wake);
            signal?.addEventListener('abort', wake, { once: true });
          }),
        subscribe: (topic, { signal, maxBytes = 64 * 1024 } = {}) => ({
          async *[Symbol.asyncIterator]() {
            while (!signal?.aborted) {
              const batch = await log.batchRead(topic, { maxBytes });
              if (batch.length === 0) await log.waitForWrites(topic, signal ? { signal } : {});
              yield* batch;
            }
          },
        }),
        sync: async () => {},
        close: async () => {
          fake.openLogs--;
        },
        get: async (topic, seq) => {
          const data = topics.get(topic)?.[seq];
          return data === undefined ? null : { data, timeMs: seq };
        },
        // One position per fake log: a named consumer shares it (the fake keeps no consumers); a
        // seek by time moves it to the entry whose fake time (its index) is at least the time.
        consumer: () => ({
          ...log,
          seek: async (topic: string, to: { timeMs: number } | { seq: number }) => {
            cursor.set(topic, Math.ceil('seq' in to ? to.seq : to.timeMs));
          },
        }),
      };
      return log;
    },
  };
  return fake;
}
