/**
 * Which writer owns a topic: FNV-1a of the topic's UTF-8 bytes modulo the writer count. Stable for
 * a given writer count with no table to persist; when the count changes between runs a topic may
 * move to another writer, which stays coherent because a topic's entries are ordered by epoch
 * first (docs/FORMAT.md §2): the old writer's segments all precede the new one's.
 */
export function writerForTopic(nameBytes: Uint8Array, writers: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < nameBytes.length; i++) {
    hash ^= nameBytes[i]!;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % writers;
}
