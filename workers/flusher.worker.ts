/** Flusher worker: a thin shell around FlusherService (src/engine/worker/flusher-service.ts). */
import { workerData } from 'node:worker_threads';
import { nodeFileIo } from '../src/storage/file-io.js';
import { exposeControl, type FlusherInit } from '../src/engine/shared/control-protocol.js';
import { FlusherService } from '../src/engine/worker/flusher-service.js';

const init = workerData as FlusherInit;
const service = new FlusherService(init, nodeFileIo);
exposeControl(service, init.controlPort);
await service.run();
