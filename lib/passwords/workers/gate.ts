import { PasswordWorkersBusyError } from '../errors.ts';
import { DEFAULT_WORKER_QUEUE_DEPTH } from '../limits.ts';

/**
 * A bound on the hashing that runs on libuv's thread pool (bcrypt, argon2, PBKDF2): that pool's
 * queue has no limit of its own, so a flood of logins would wait there without end. At most the
 * pool's threads plus `maxQueue` calls are in flight; one more is refused with
 * PasswordWorkersBusyError, as the worker-thread pool refuses its jobs (pool.ts).
 */
export class HashingGate {
  readonly threads: number;
  #maxQueue: number;
  #inFlight = 0;

  constructor(threads: number, maxQueue: number = DEFAULT_WORKER_QUEUE_DEPTH) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError('threads must be a positive integer');
    this.threads = threads;
    this.#maxQueue = checkQueueDepth(maxQueue);
  }

  set maxQueue(depth: number) {
    this.#maxQueue = checkQueueDepth(depth);
  }

  async run<T>(hashing: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.threads + this.#maxQueue) throw new PasswordWorkersBusyError(this.#maxQueue);
    this.#inFlight++;
    try {
      return await hashing();
    } finally {
      this.#inFlight--;
    }
  }
}

export function checkQueueDepth(depth: number): number {
  if (!Number.isInteger(depth) || depth < 0) throw new RangeError('the queue depth must be a non-negative integer');
  return depth;
}

/** libuv's pool: UV_THREADPOOL_SIZE threads, 4 unless set. */
const uvThreads = Math.max(1, Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10) || 4);

export const libuvGate = new HashingGate(uvThreads);
