/**
 * Timer options are held to what a Node timer keeps (issue 12, defect 12; docs/ERRORS.md): a delay
 * above 2^31 − 1 ms (Infinity included) fires after 1 ms, so a long timeout became a hot loop.
 * Such a value is refused with ERR_INVALID_ARGUMENT, never clamped. Through the built package.
 */
import { describe, expect, it } from 'vitest';
import { WalError } from '../../dist/src/index.js';
import { mirror, replay } from '../../dist/src/jetstream/index.js';
import { openWal } from '../helpers/wal.js';
import { within } from '../helpers/within.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
const TOO_LONG = [MAX_TIMER_MS + 1, 30 * 24 * 3600 * 1000, Infinity];
/** Nothing listens there: a mirror or replay that got past validation would only retry. */
const NOWHERE = { servers: 'nats://127.0.0.1:1', namespace: 'timers' };

function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (err) {
    return err;
  }
  return null;
}

describe('a timer option is refused above 2^31 − 1 ms, where Node would fire it after 1 ms', () => {
  it('waitForWrites timeoutMs', async () => {
    const wal = await openWal({ fsync: 'none' });
    for (const timeoutMs of [...TOO_LONG, -1, Number.NaN]) {
      const err = await within(wal.waitForWrites('t', { timeoutMs }), `waitForWrites ${timeoutMs}`).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, `timeoutMs ${timeoutMs}`).toBeInstanceOf(WalError);
      expect((err as WalError).code).toBe('ERR_INVALID_ARGUMENT');
    }
    // The longest accepted one is a real wait, ended here by a write.
    const waiting = wal.waitForWrites('t', { timeoutMs: MAX_TIMER_MS });
    await wal.append('t', 'x');
    await within(waiting, 'waitForWrites woken by an append');
  });

  it.each(['ackTimeoutMs', 'retryInitialMs', 'retryMaxMs'])('mirror %s', (name) => {
    const wal = { stats: async () => ({ topics: {} }) } as unknown as Parameters<typeof mirror>[0];
    for (const value of TOO_LONG) {
      const err = thrown(() => mirror(wal, { ...NOWHERE, stream: 'S', topics: ['t'], [name]: value }));
      expect(err, `${name} ${value}`).toBeInstanceOf(WalError);
      expect((err as WalError).code).toBe('ERR_INVALID_ARGUMENT');
      expect((err as WalError).message).toContain(name);
    }
  });

  it('replay requestTimeoutMs', async () => {
    const wal = {} as unknown as Parameters<typeof replay>[1];
    for (const requestTimeoutMs of TOO_LONG) {
      const err = await within(
        replay('S', wal, { ...NOWHERE, requestTimeoutMs }).then(
          () => null,
          (e: unknown) => e,
        ),
        'replay',
      );
      expect(err, `requestTimeoutMs ${requestTimeoutMs}`).toBeInstanceOf(WalError);
      expect((err as WalError).code).toBe('ERR_INVALID_ARGUMENT');
    }
  });
});
