import { parentPort } from 'node:worker_threads';
import { runJob, type Job } from './jobs.ts';

// The pool gives each thread one job at a time, so replies need no id. Errors travel back as
// messages rather than uncaught exceptions: a bad job must not kill a thread the queue relies on.
parentPort?.on('message', (job: Job) => {
  try {
    parentPort?.postMessage({ value: runJob(job) });
  } catch (error) {
    parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});
