/**
 * Reading a LogStore topic back in full, for assertions. `peekAll` leaves the cursor where it is;
 * `drain` consumes. Both refuse to loop forever, so a reader that never ends fails instead of hanging.
 */
import type { LogStore, StoredEntry } from '../../src/storage/log-store.js';

const MAX_DRAIN_ENTRIES = 1_000_000;
const UNLIMITED_BYTES = 2 ** 31;

export function drain(store: LogStore, topic: string): StoredEntry[] {
  const out: StoredEntry[] = [];
  for (let entry = store.readNext(topic); entry !== null; entry = store.readNext(topic)) {
    out.push(entry);
    if (out.length > MAX_DRAIN_ENTRIES) throw new Error(`readNext(${topic}) never returned null`);
  }
  return out;
}

/** Every unread entry without moving the cursor (one batchRead: keep topics under maxBatchEntries). */
export function peekAll(store: LogStore, topic: string): StoredEntry[] {
  return store.batchRead(topic, { maxBytes: UNLIMITED_BYTES, checkpoint: false });
}

export function bytesOf(data: Uint8Array | string): Buffer {
  return typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function textOf(entry: StoredEntry): string {
  return bytesOf(entry.data).toString('utf8');
}

export function texts(entries: StoredEntry[]): string[] {
  return entries.map(textOf);
}

export function seqs(entries: StoredEntry[]): number[] {
  return entries.map((entry) => entry.seq);
}

/** Deterministic payload of `sizeBytes` bytes, distinct per (tag, size) so swapped entries are caught. */
export function patterned(sizeBytes: number, tag = 0): Buffer {
  const out = Buffer.alloc(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) out[i] = (i * 31 + tag * 7 + (i >>> 8)) & 0xff;
  return out;
}
