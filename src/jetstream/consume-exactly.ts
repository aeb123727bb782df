/**
 * Consumes exactly the entries a mirror published — never one more. `batchRead` bounds a batch by
 * payload bytes, so consuming "the same batch again" with the sum of the published sizes as budget
 * would also take any zero-length entries that follow (they fit in a zero budget), and those were
 * not published: a crash right after would lose them from the mirror. So:
 *   - the prefix before the last non-empty entry is consumed with one `batchRead` whose budget is
 *     its exact size (the last non-empty entry cannot fit, so the read stops before it);
 *   - the rest (that entry and any empty ones after it) one `readNext` at a time.
 * Every consumed entry is compared with what was published: a mismatch means something else
 * consumes the topic, which the mirror cannot tolerate (it would skip entries).
 */
import { WalError } from '../errors.js';
import type { Entry } from '../engine/main/entry.js';
import type { ReadSurface } from '../engine/main/read-surface.js';

export type ConsumingWal = Pick<ReadSurface, 'batchRead' | 'readNext'>;

export async function consumeExactly(wal: ConsumingWal, topic: string, published: readonly Entry[]): Promise<void> {
  if (published.length === 0) return;
  let lastNonEmpty = -1;
  for (let i = published.length - 1; i >= 0; i--) {
    if (published[i]!.data.byteLength > 0) {
      lastNonEmpty = i;
      break;
    }
  }
  let budget = 0;
  for (let i = 0; i < lastNonEmpty; i++) budget += published[i]!.data.byteLength;
  let done = 0;
  if (budget > 0) {
    const taken = await wal.batchRead(topic, { maxBytes: budget, checkpoint: true });
    check(topic, published, taken, 0);
    done = taken.length;
  }
  while (done < published.length) {
    const entry = await wal.readNext(topic, { checkpoint: true });
    check(topic, published, entry ? [entry] : [], done);
    done++;
  }
}

function check(topic: string, published: readonly Entry[], taken: readonly Entry[], from: number): void {
  if (taken.length === 0) {
    throw new WalError(
      'ERR_CONFLICT',
      `topic entries the mirror published were consumed by someone else (nothing left to consume at seq ${published[from]!.seq})`,
      {
        topic,
        expectedSeq: published[from]!.seq,
      },
    );
  }
  for (let i = 0; i < taken.length; i++) {
    const want = published[from + i];
    if (!want || taken[i]!.seq !== want.seq) {
      throw new WalError(
        'ERR_CONFLICT',
        `the mirror consumed seq ${taken[i]!.seq} but published ${want ? `seq ${want.seq}` : 'fewer entries'}: the topic has another consumer`,
        {
          topic,
          expectedSeq: want?.seq,
          actual: taken[i]!.seq,
        },
      );
    }
  }
}
