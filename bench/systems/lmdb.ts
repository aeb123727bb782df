import type { RootDatabase } from 'lmdb';

export interface LmdbOptions {
  /** lmdb-js default (true): a put resolves when committed; the fsync follows (`db.flushed`). */
  overlappingSync: boolean;
}

export type LmdbLog = RootDatabase<Uint8Array, number>;

/** Loaded on demand so a broken native build fails the lmdb rows, not the whole run. */
export async function openLmdbLog(dir: string, options: LmdbOptions): Promise<LmdbLog> {
  const { open } = await import('lmdb');
  return open<Uint8Array, number>({ path: dir, encoding: 'binary', overlappingSync: options.overlappingSync });
}

/** Queues the puts in one event turn (lmdb-js commits them as one transaction). */
export function putBatch(db: LmdbLog, firstKey: number, batch: readonly Uint8Array[]): Promise<unknown> {
  const pending: Array<Promise<boolean>> = [];
  for (let i = 0; i < batch.length; i++) pending.push(db.put(firstKey + i, batch[i]!));
  return Promise.all(pending);
}

/** Queues the removals in one event turn (committed with that turn's other writes). */
export function removeBatch(db: LmdbLog, keys: readonly number[]): Promise<unknown> {
  return Promise.all(keys.map((key) => db.remove(key)));
}
