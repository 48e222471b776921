import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { PasswordWorkersBusyError } from '../errors.ts';
import { DEFAULT_WORKER_QUEUE_DEPTH } from '../limits.ts';
import { checkQueueDepth, libuvGate } from './gate.ts';
import type { Job } from './jobs.ts';

/**
 * The worker entry beside a module, with that module's own extension: worker.ts when running
 * from sources (Node strips the types in workers too), worker.js once compiled into dist/.
 */
export function workerUrlBeside(moduleUrl: string): URL {
  const extension = /\.[cm]?[jt]s$/.exec(new URL(moduleUrl).pathname)?.[0] ?? '.js';
  return new URL(`./worker${extension}`, moduleUrl);
}

interface Task {
  job: Job;
  resolve(value: string): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

interface Reply {
  value?: string;
  error?: string;
}

/**
 * A fixed number of threads, started on demand, one job each at a time. A thread only holds
 * the process open while it has a job (ref while busy, unref while idle), so servers, CLIs and
 * test runs exit on their own; close() is for orderly shutdown.
 */
export class WorkerPool {
  readonly size: number;
  readonly #url: URL;
  #maxQueue: number;
  #slots: Slot[] = [];
  #queue: Task[] = [];

  /** `maxQueue`: how many jobs may wait for a free thread; one more is refused (see run). */
  constructor(size: number, url: URL, maxQueue: number = DEFAULT_WORKER_QUEUE_DEPTH) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('pool size must be a positive integer');
    this.size = size;
    this.#url = url;
    this.#maxQueue = checkQueueDepth(maxQueue);
  }

  get maxQueue(): number {
    return this.#maxQueue;
  }

  set maxQueue(depth: number) {
    this.#maxQueue = checkQueueDepth(depth);
  }

  /**
   * Rejects with PasswordWorkersBusyError when every thread is busy and `maxQueue` jobs already
   * wait: past that depth a login would wait longer than its caller does, and an unbounded
   * queue is memory anyone can fill by sending passwords.
   */
  run(job: Job): Promise<string> {
    const idle = this.#slots.some((s) => s.task === null) || this.#slots.length < this.size;
    if (!idle && this.#queue.length >= this.#maxQueue) return Promise.reject(new PasswordWorkersBusyError(this.#maxQueue));
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#pump();
    });
  }

  /** Terminates every thread; queued and running jobs reject. A later run() starts afresh. */
  async close(): Promise<void> {
    const slots = this.#slots;
    const queue = this.#queue;
    this.#slots = [];
    this.#queue = [];
    const closed = new Error('password workers were closed');
    for (const task of queue) task.reject(closed);
    await Promise.all(
      slots.map(async (slot) => {
        slot.task?.reject(closed);
        slot.task = null;
        await slot.worker.terminate();
      }),
    );
  }

  #pump(): void {
    for (;;) {
      const task = this.#queue[0];
      if (!task) return;
      const slot = this.#slots.find((s) => s.task === null) ?? (this.#slots.length < this.size ? this.#spawn() : null);
      if (!slot) return;
      this.#queue.shift();
      slot.task = task;
      slot.worker.ref();
      slot.worker.postMessage(task.job);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(this.#url);
    const slot: Slot = { worker, task: null };
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const task = slot.task;
      slot.task = null;
      worker.unref();
      if (typeof reply.value === 'string') task?.resolve(reply.value);
      else task?.reject(new Error(reply.error ?? 'password worker failed'));
      this.#pump();
    });
    // 'error' is followed by 'exit'; whichever comes first retires the slot, the other is a no-op.
    const retire = (error: Error): void => {
      if (!this.#slots.includes(slot)) return;
      this.#slots = this.#slots.filter((s) => s !== slot);
      const task = slot.task;
      slot.task = null;
      task?.reject(error);
      this.#pump();
    };
    worker.on('error', retire);
    worker.on('exit', (code) => retire(new Error(`password worker exited with code ${code}`)));
    this.#slots.push(slot);
    return slot;
  }
}

// One thread is kept for the event loop and for libuv's pool (bcrypt, argon2, pbkdf2).
const defaultPool = new WorkerPool(Math.max(1, Math.min(4, availableParallelism() - 1)), workerUrlBeside(import.meta.url));

/** Runs a hand-written slow hash off the event loop. */
export function runInWorker(job: Job): Promise<string> {
  return defaultPool.run(job);
}

/**
 * Sets how many hashing jobs may wait for a thread before they are refused, in the worker pool
 * and at libuv's (services call it at start, from PASSWORD_WORKER_QUEUE_MAX).
 */
export function configurePasswordWorkers(options: { maxQueue: number }): void {
  defaultPool.maxQueue = options.maxQueue;
  libuvGate.maxQueue = options.maxQueue;
}

/** Stops the password worker threads (graceful shutdown); they restart on the next use. */
export function closePasswordWorkers(): Promise<void> {
  return defaultPool.close();
}
