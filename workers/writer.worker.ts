/** Writer worker: a thin shell around WriterService (src/engine/worker/writer-service.ts). */
import { workerData } from 'node:worker_threads';
import { nodeFileIo } from '../src/storage/file-io.js';
import { exposeControl, type WriterInit } from '../src/engine/shared/control-protocol.js';
import { WriterService } from '../src/engine/worker/writer-service.js';

const init = workerData as WriterInit;
const service = new WriterService(init, nodeFileIo);
exposeControl(service, init.controlPort);
await service.run();
