/**
 * Test writer worker: the production WriterService (dist/src/engine/worker/writer-service.js) over a
 * FileIo that faults as the `WALRUS_FAULTS` plan says (../faulty-file-io.ts). Tests select this
 * directory with WALRUS_WORKER_DIR (test/helpers/wal.ts `openWithFaults`); it never ships.
 */
import { workerData } from 'node:worker_threads';
import { nodeFileIo } from '../../../dist/src/storage/file-io.js';
import { exposeControl, type WriterInit } from '../../../dist/src/engine/shared/control-protocol.js';
import { WriterService } from '../../../dist/src/engine/worker/writer-service.js';
import { withFaultsFromEnv } from '../faulty-file-io.js';

const init = workerData as WriterInit;
const service = new WriterService(init, withFaultsFromEnv(nodeFileIo, 'writer'));
exposeControl(service, init.controlPort);
await service.run();
