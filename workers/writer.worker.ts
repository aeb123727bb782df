/** Writer worker: a thin shell around WriterService (src/engine/worker/writer-service.ts). */
import { workerData } from 'node:worker_threads';
import { nodeFileIo } from '../src/storage/file-io.js';
import { withFaultsFromEnv } from '../src/storage/faulty-file-io.js';
import { exposeControl, type WriterInit } from '../src/engine/shared/control-protocol.js';
import { WriterService } from '../src/engine/worker/writer-service.js';

const init = workerData as WriterInit;
// Tests inject I/O faults with a plan in WALRUS_FAULTS (src/storage/faulty-file-io.ts); unset, this is nodeFileIo.
const service = new WriterService(init, withFaultsFromEnv(nodeFileIo, 'writer'));
exposeControl(service, init.controlPort);
await service.run();
