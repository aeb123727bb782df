/** Entry point of a child process: runs one job given as JSON in argv[2], prints its metrics as JSON. */
import { ingestJob, type IngestJob } from '../scenarios/rss.js';
import { topicsJob, type TopicsJob } from '../scenarios/topics.js';

const job = JSON.parse(process.argv[2] ?? '{}') as IngestJob | TopicsJob;
const metrics = job.kind === 'ingest' ? await ingestJob(job) : await topicsJob(job);
process.stdout.write(`${JSON.stringify(metrics)}\n`);
