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
  /** Next seq to deliver per topic id, as a reopen would load it: the default consumer's. */
  cursors: Map<number, number>;
  /** Named consumers (FORMAT §18): name → topic id → next seq, as a reopen would load them. */
  consumers: Map<string, Map<number, number>>;
  /** Per topic id, the seq below which a retention limit gave entries up (absent: 0). */
  firstSeqs: Map<number, number>;
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
  const view: CursorView = {
    generation: snapshot.generation,
    names: new Map(),
    cursors: new Map(),
    consumers: new Map(),
    firstSeqs: new Map(),
  };
  for (const [name, id, firstSeq] of snapshot.topics) {
    view.names.set(id, name);
    if (firstSeq > 0) view.firstSeqs.set(id, firstSeq);
  }
  // By consumer id: the default one (0) is `cursors` (FORMAT §18; a version-1 file loads as exactly it).
  const byId = new Map<number, Map<number, number>>();
  for (const c of snapshot.consumers) {
    const positions = c.id === DEFAULT_CONSUMER_ID ? view.cursors : new Map<number, number>();
    for (const [id, nextSeq] of c.positions) positions.set(id, nextSeq);
    byId.set(c.id, positions);
    if (c.id !== DEFAULT_CONSUMER_ID) view.consumers.set(c.name, positions);
  }
  byId.set(DEFAULT_CONSUMER_ID, view.cursors);
  applyLog(byId, cursorLogPath(dir, snapshot.generation), snapshot.generation);
  const next = snapshot.generation === MAX_GENERATION ? 0 : snapshot.generation + 1;
  applyLog(byId, cursorLogPath(dir, next), next);
  return view;
}

function readGeneration(dir: string): number {
  return readSnapshotFile(path.join(dir, CURSORS_FILE_NAME)).generation;
}

/** Applies the valid prefix of one log; a missing log (not written yet, or just superseded) applies nothing. */
function applyLog(byConsumer: Map<number, Map<number, number>>, logPath: string, generation: number): void {
  const bytes = readIfPresent(logPath);
  if (bytes === null) return;
  for (let at = 0; at + CURSOR_RECORD_BYTES <= bytes.byteLength; at += CURSOR_RECORD_BYTES) {
    const record = decodeCursorRecord(bytes, at);
    if (record === null || record.generation !== generation) return;
    // A record of a consumer the table does not hold is ignored, as the engine does (§18.2).
    byConsumer.get(record.consumerId ?? DEFAULT_CONSUMER_ID)?.set(record.topicId, record.nextSeq);
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
