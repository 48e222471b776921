// Real password worker threads made busy for a test: endless jobs take every thread and fill the
// queue, so the next hash is refused with PasswordWorkersBusyError. closePasswordWorkers() ends them.
import assert from 'node:assert/strict';
import { PasswordWorkersBusyError } from '../../lib/passwords/index.ts';
import { runInWorker } from '../../lib/passwords/workers/pool.ts';

// 2^30 md5 rounds, far past the cost limit a stored hash may ask for: minutes of one thread.
const ENDLESS = { algorithm: 'phpass', password: Buffer.from('pw'), setting: '$P$Sabcdefgh' } as const;

/**
 * Starts endless jobs until the pool refuses one: then every thread is taken and the queue is
 * full. The promises settle (rejected) once the test calls closePasswordWorkers().
 */
export async function occupyEveryThread(): Promise<Promise<unknown>[]> {
  const running: Promise<unknown>[] = [];
  for (let started = 0; started < 64; started++) {
    let refused = false;
    const job = runInWorker(ENDLESS).catch((error: unknown) => {
      refused = error instanceof PasswordWorkersBusyError;
    });
    // A refusal is an already rejected promise: its handler has run by the next turn.
    await new Promise(setImmediate);
    if (refused) return running;
    running.push(job);
  }
  return assert.fail('the password workers never refused a job');
}
