/**
 * The mirror's namespace is required (issue 12, defect 12; docs/SCALE-OUT.md, Namespaces): it names
 * the WAL in every message id, and no default can be trusted to differ between hosts. The old one,
 * the data directory's name, is the same on two hosts that use the same `wal_files`: both published
 * identical ids, and JetStream dropped one host's entries as duplicates of the other's. A mirror
 * without one is now refused at the call with ERR_INVALID_ARGUMENT, before it connects anywhere. No
 * server is needed: nothing gets past validation.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Walrus, WalError } from '../../dist/src/index.js';
import { messageId, mirror } from '../../dist/src/jetstream/index.js';
import { TmpDirs } from '../helpers/tmp-dir.js';

/** Nothing listens there: a mirror that got past validation would only retry. */
const NOWHERE = 'nats://127.0.0.1:1';

describe('a mirror names its WAL explicitly: no default namespace two hosts could share', () => {
  it('refuses a mirror without a namespace with ERR_INVALID_ARGUMENT, at the call', async () => {
    const tmp = new TmpDirs();
    // Two hosts' data directories: different paths, one basename (the same `wal_files`).
    const dirs = [path.join(tmp.make('walrus-host-a'), 'wal_files'), path.join(tmp.make('walrus-host-b'), 'wal_files')];
    const wals = await Promise.all(dirs.map((dir) => Walrus.open({ dir, fsync: 'none' })));
    try {
      for (const wal of wals) {
        let err: unknown = null;
        try {
          // @ts-expect-error -- namespace is required by the type too
          mirror(wal, { topics: ['orders'], servers: NOWHERE, stream: 'ORDERS' });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(WalError);
        expect((err as WalError).code).toBe('ERR_INVALID_ARGUMENT');
        expect((err as WalError).message).toMatch(/namespace is required/);
        for (const namespace of ['', 42])
          expect(
            () =>
              mirror(wal, {
                topics: ['orders'],
                servers: NOWHERE,
                stream: 'ORDERS',
                namespace: namespace as string,
              }),
            `namespace ${JSON.stringify(namespace)}`,
          ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      }
      // With one namespace per host, the ids of the same (topic, seq) differ: nothing is dropped.
      expect(messageId('host-a', 'orders', 0)).not.toBe(messageId('host-b', 'orders', 0));
      const started = wals.map((wal, i) =>
        mirror(wal, { topics: ['orders'], servers: NOWHERE, stream: 'ORDERS', namespace: `host-${'ab'[i]}` }),
      );
      await Promise.all(started.map((m) => m.stop()));
    } finally {
      await Promise.all(wals.map((wal) => wal.close()));
      tmp.removeAll();
    }
  });
});
