/**
 * docs/SEMANTICS.md rule D4 (sequence numbers) across a power cut with named consumers, through the
 * engine. Unless fsync is 'each', a consumer's position can reach the disk before the entries it
 * passed; the next open continues the topic after that position (numbers are never handed out
 * twice), and the seqs in between are a recorded gap (docs/FORMAT.md §7.3): a consumer behind it
 * skips it with a 'skipped' event, counts and lags leave it out, and every later open accepts the
 * entries after it. Before the gap was recorded, the second open took it for damage and dropped the
 * entries appended after it (found by the power-loss simulator with named consumers, FORMAT §21.3 P4).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Walrus } from '../../dist/src/index.js';
import { openWal, tempDir } from '../helpers/wal.js';

describe('rule D4. Sequence numbers: entries lost after a consumer passed them leave a recorded gap, never damage', () => {
  it('a consumer behind the gap skips it (reported), counts leave it out, and appends after it survive every open', async () => {
    const dir = tempDir();
    const options = { dir, fsync: 'none' as const, writers: 1 };
    let wal: Walrus = await openWal(options);
    await wal.append('t', 'a0');
    await wal.append('t', 'a1');
    wal.consumer('behind');
    await wal.close();
    const before = new Set(fs.readdirSync(dir));
    wal = await openWal(options);
    await wal.append('t', 'a2');
    for (let i = 0; i < 3; i++) expect((await wal.readNext('t'))?.seq).toBe(i);
    await wal.close();
    // The power cut: this open's segment never reached the disk (its directory entry was not
    // durable), while CURSORS and the cursor log, with the default consumer at 3, did.
    for (const name of fs.readdirSync(dir))
      if (!before.has(name) && /\.(seg|sum)$/.test(name)) fs.rmSync(path.join(dir, name));
    fs.rmSync(path.join(dir, 'MANIFEST.clean'), { force: true });

    wal = await openWal(options);
    await wal.append('t', 'p');
    expect(await wal.offsets('t')).toEqual({ first: 0, next: 4 });
    await wal.close();
    wal = await openWal(options);
    expect((await wal.stats()).recovery.damage).toEqual([]);
    expect((await wal.stats()).recovery.gaps).toEqual([{ topic: 't', fromSeq: 2, toSeq: 3 }]);
    const skipped: unknown[] = [];
    wal.on('skipped', (e) => skipped.push(e));
    const behind = wal.consumer('behind');
    expect(await behind.count('t')).toBe(3);
    expect((await wal.stats()).consumers['behind']!.topics['t']).toEqual({ position: 0, lag: 3 });
    expect((await behind.batchRead('t', { maxBytes: 1 << 20 })).map((e) => e.text())).toEqual(['a0', 'a1']);
    expect(await behind.count('t')).toBe(1);
    expect((await behind.readNext('t'))?.seq).toBe(3);
    expect(skipped).toEqual([{ consumer: 'behind', topic: 't', fromSeq: 2, toSeq: 2 }]);
    expect(await behind.count('t')).toBe(0);
    expect(await wal.get('t', 2)).toBeNull();
    expect((await wal.get('t', 3))?.text()).toBe('p');
    await wal.close();
    // Still recorded: one more open accepts the entries after the gap, and appends go on after them.
    wal = await openWal(options);
    expect((await wal.stats()).recovery.damage).toEqual([]);
    await wal.append('t', 'q');
    expect(await wal.offsets('t')).toEqual({ first: 0, next: 5 });
    await wal.close();
  });
});

describe("rule D19. 'earliest' starts where a topic's retained entries are whole up to its end", () => {
  it('after reclaiming deleted a stretch in the middle of a topic, a new consumer neither meets the hole nor makes the next open take it for damage', async () => {
    const dir = tempDir();
    const options = { dir, writers: 1, segmentBytes: 64 * 1024, blockBytes: 4096 };
    let wal: Walrus = await openWal(options);
    const big = (tag: string): string => tag.padEnd(3000, '.');
    // The first segment: a0–a4 and b0–b4, then more of 'a'; a5–a64 alone roll through the next ones.
    for (let i = 0; i < 5; i++) {
      await wal.append('a', big(`a${i}`));
      await wal.append('b', big(`b${i}`));
    }
    for (let i = 5; i < 65; i++) await wal.append('a', big(`a${i}`));
    const segments = (): string[] =>
      fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.seg'))
        .sort();
    const first = segments()[0]!;
    // Everything of 'a' consumed; 'b' only up to 2: the first segment stays (b3, b4 unread), the
    // later sealed ones hold only consumed entries of 'a' and go.
    while ((await wal.batchRead('a', { maxBytes: 1 << 20 })).length > 0);
    for (let i = 0; i < 3; i++) await wal.readNext('b');
    expect(await wal.reclaim()).toBeGreaterThan(0);
    expect(segments()[0]).toBe(first); // a0–a4 and more are still on disk, before the hole
    const { first: firstA } = await wal.offsets('a');
    expect(firstA).toBeGreaterThan(5);
    expect(await wal.get('a', 3)).toBeNull();
    const late = wal.consumer('late');
    const seen: number[] = [];
    for (
      let batch = await late.batchRead('a', { maxBytes: 1 << 20 });
      batch.length > 0;
      batch = await late.batchRead('a', { maxBytes: 1 << 20 })
    )
      for (const e of batch) {
        expect(e.text()).toBe(big(`a${e.seq}`));
        seen.push(e.seq);
      }
    expect(seen[0]).toBe(firstA);
    expect(seen.at(-1)).toBe(64);
    await wal.close();
    wal = await openWal(options);
    expect((await wal.stats()).recovery.damage).toEqual([]);
    await wal.append('a', 'after');
    expect(await wal.offsets('a')).toEqual({ first: firstA, next: 66 });
    await wal.close();
  });
});
