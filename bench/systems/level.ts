import type { ClassicLevel } from 'classic-level';

export type LevelLog = ClassicLevel<Buffer, Buffer>;

export async function openLevelLog(dir: string): Promise<LevelLog> {
  const { ClassicLevel } = await import('classic-level');
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  return db;
}

/** Big-endian, so LevelDB's byte order is append order. */
export function levelKey(sequence: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeBigUInt64BE(BigInt(sequence));
  return key;
}

export function putBatch(db: LevelLog, firstKey: number, batch: readonly Buffer[], sync: boolean): Promise<void> {
  return db.batch(
    batch.map((value, i) => ({ type: 'put' as const, key: levelKey(firstKey + i), value })),
    { sync },
  );
}
