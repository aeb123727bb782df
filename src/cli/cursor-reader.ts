/**
 * A read-only view of the consumer cursors (docs/FORMAT.md §6): `CURSORS` plus the records of the
 * live `cursors-<g>.log` (and `cursors-<g+1>.log` when a snapshot had begun), applied the way
 * CursorStore.open applies them, but without truncating a torn log or deleting stale logs. The
 * CLI must be able to look at a WAL a service has open without touching any of its files.
 */
import * as path from 'node:path';
import { WalError } from '../errors.js';
import {
  CURSORS_FILE_NAME,
  CURSOR_RECORD_BYTES,
  DEFAULT_CONSUMER_ID,
  cursorLogPath,
  decodeCursorRecord,
  decodeCursorSnapshot,
  type CursorSnapshot,
} from '../storage/cursor-store.js';
import { nodeFileIo } from '../storage/file-io.js';

export interface CursorView {
  /** Generation of the CURSORS file read (0 when there is none yet). */
  generation: number;
  /** Durable topic table: id → name. */
  names: Map<number, string>;
  /** Next seq to deliver per topic id, as a reopen would load it. */
  cursors: Map<number, number>;
}

const MAX_GENERATION = 0xffff_ffff;
/** A snapshot completing between reading CURSORS and its log is detected and the read retried. */
const MAX_ATTEMPTS = 5;

export function readCursors(dir: string): CursorView {
  let view = readOnce(dir);
  for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
    const again = readGeneration(dir);
    if (again === view.generation) return view;
    view = readOnce(dir);
  }
  return view;
}

function readOnce(dir: string): CursorView {
  const snapshot = readSnapshotFile(path.join(dir, CURSORS_FILE_NAME));
  const view: CursorView = { generation: snapshot.generation, names: new Map(), cursors: new Map() };
  for (const [name, id] of snapshot.topics) view.names.set(id, name);
  // The default consumer's positions (FORMAT §18; a version-1 file loads as exactly these).
  const defaultConsumer = snapshot.consumers.find((c) => c.id === DEFAULT_CONSUMER_ID);
  for (const [id, nextSeq] of defaultConsumer?.positions ?? []) view.cursors.set(id, nextSeq);
  applyLog(view.cursors, cursorLogPath(dir, snapshot.generation), snapshot.generation);
  const next = snapshot.generation === MAX_GENERATION ? 0 : snapshot.generation + 1;
  applyLog(view.cursors, cursorLogPath(dir, next), next);
  return view;
}

function readGeneration(dir: string): number {
  return readSnapshotFile(path.join(dir, CURSORS_FILE_NAME)).generation;
}

/** Applies the valid prefix of one log; a missing log (not written yet, or just superseded) applies nothing. */
function applyLog(cursors: Map<number, number>, logPath: string, generation: number): void {
  const bytes = readIfPresent(logPath);
  if (bytes === null) return;
  for (let at = 0; at + CURSOR_RECORD_BYTES <= bytes.byteLength; at += CURSOR_RECORD_BYTES) {
    const record = decodeCursorRecord(bytes, at);
    if (record === null || record.generation !== generation) return;
    if ((record.consumerId ?? DEFAULT_CONSUMER_ID) === DEFAULT_CONSUMER_ID) cursors.set(record.topicId, record.nextSeq);
  }
}

function readSnapshotFile(filePath: string): CursorSnapshot {
  const bytes = readIfPresent(filePath);
  if (bytes === null) return { generation: 0, topics: [], consumers: [], nextConsumerId: 1 };
  return decodeCursorSnapshot(bytes, filePath);
}

/** The file's bytes, or null when it does not exist (the engine may delete a log at any moment). */
function readIfPresent(filePath: string): Uint8Array | null {
  try {
    return nodeFileIo.readFile(filePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw WalError.fromSystem(err, 'reading', filePath);
  }
}
