/** Flusher worker: a thin shell around FlusherService (src/engine/worker/flusher-service.ts). */
import { workerData } from 'node:worker_threads';
import { nodeFileIo } from '../src/storage/file-io.js';
import { withFaultsFromEnv } from '../src/storage/faulty-file-io.js';
import { exposeControl, type FlusherInit } from '../src/engine/shared/control-protocol.js';
import { FlusherService } from '../src/engine/worker/flusher-service.js';

const init = workerData as FlusherInit;
// Tests inject I/O faults with a plan in WALRUS_FAULTS (src/storage/faulty-file-io.ts); unset, this is nodeFileIo.
const service = new FlusherService(init, withFaultsFromEnv(nodeFileIo, 'flusher'));
exposeControl(service, init.controlPort);
await service.run();
