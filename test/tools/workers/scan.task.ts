/**
 * The recovery scan task, unchanged: WALRUS_WORKER_DIR points every worker at this directory, and an
 * open with two or more segment files starts the piscina pool from here too.
 */
export { default } from '../../../dist/workers/scan.task.js';
