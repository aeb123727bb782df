/**
 * Test flusher worker: the production FlusherService (dist/src/engine/worker/flusher-service.js) over
 * a FileIo that faults as the `WALRUS_FAULTS` plan says (../faulty-file-io.ts). Tests select this
 * directory with WALRUS_WORKER_DIR (test/helpers/wal.ts `openWithFaults`); it never ships.
 */
import { workerData } from 'node:worker_threads';
import { nodeFileIo } from '../../../dist/src/storage/file-io.js';
import { exposeControl, type FlusherInit } from '../../../dist/src/engine/shared/control-protocol.js';
import { FlusherService } from '../../../dist/src/engine/worker/flusher-service.js';
import { withFaultsFromEnv } from '../faulty-file-io.js';

const init = workerData as FlusherInit;
const service = new FlusherService(init, withFaultsFromEnv(nodeFileIo, 'flusher'));
exposeControl(service, init.controlPort);
await service.run();
