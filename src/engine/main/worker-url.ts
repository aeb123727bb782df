/**
 * Where the worker entry points are. This module is compiled to dist/src/engine/main/, the workers to
 * dist/workers/, so the relative URL holds for the built package (tests and users load dist/).
 * `WALRUS_WORKER_DIR` lets a bundler that relocates the files point at them (and lets the tests select
 * their fault-injecting shells in dist/test-tools/workers/, which never ship: test/tools/).
 */
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';

export type WorkerName = 'writer.worker' | 'flusher.worker' | 'scan.task';

export function workerUrl(name: WorkerName): URL {
  const overrideDir = process.env.WALRUS_WORKER_DIR;
  if (overrideDir) return pathToFileURL(path.join(overrideDir, `${name}.js`));
  return new URL(`../../../workers/${name}.js`, import.meta.url);
}
