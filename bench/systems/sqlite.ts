/**
 * better-sqlite3 as a log: one table, rowid order is append order. It ships no type declarations
 * (and @types is not a dependency), so the few calls used are typed here.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';

interface Statement {
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

interface Database {
  pragma(source: string): unknown;
  exec(source: string): void;
  prepare(source: string): Statement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}

type DatabaseConstructor = new (filename: string) => Database;

export type SqliteSynchronous = 'NORMAL' | 'FULL';

export interface SqliteRow {
  id: number;
  data: Uint8Array;
}

export interface SqliteLog {
  insert(topic: string, data: Uint8Array): void;
  /** One transaction for the whole batch. */
  insertMany(topic: string, batch: readonly Uint8Array[]): void;
  /** Runs `body` (inserts) as one transaction. */
  inTransaction(body: () => void): void;
  /** Keyset pagination in append order. */
  readPage(afterId: number, limit: number): SqliteRow[];
  /** The log as a queue: the oldest `limit` rows, selected and deleted in one transaction. */
  take(limit: number): SqliteRow[];
  close(): void;
}

const require = createRequire(import.meta.url);

/** `indexTopics`: an index for reading one topic's entries, as a per-topic queue needs. */
export function openSqliteLog(dir: string, synchronous: SqliteSynchronous, indexTopics = false): SqliteLog {
  const Database = require('better-sqlite3') as DatabaseConstructor;
  const db = new Database(path.join(dir, 'log.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec('CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, data BLOB NOT NULL)');
  if (indexTopics) db.exec('CREATE INDEX IF NOT EXISTS log_topic ON log (topic, id)');
  const insert = db.prepare('INSERT INTO log (topic, data) VALUES (?, ?)');
  const page = db.prepare('SELECT id, data FROM log WHERE id > ? ORDER BY id LIMIT ?');
  const oldest = db.prepare('SELECT id, data FROM log ORDER BY id LIMIT ?');
  const deleteThrough = db.prepare('DELETE FROM log WHERE id <= ?');
  let taken: SqliteRow[] = [];
  const takeInTransaction = db.transaction((limit: number) => {
    taken = oldest.all(limit) as SqliteRow[];
    if (taken.length > 0) deleteThrough.run(taken[taken.length - 1]!.id);
  });
  const insertMany = db.transaction((topic: string, batch: readonly Uint8Array[]) => {
    for (const data of batch) insert.run(topic, data);
  });
  return {
    insert: (topic, data) => void insert.run(topic, data),
    insertMany,
    inTransaction: (body) => db.transaction(body)(),
    readPage: (afterId, limit) => page.all(afterId, limit) as SqliteRow[],
    take: (limit) => {
      takeInTransaction(limit);
      return taken;
    },
    close: () => db.close(),
  };
}
