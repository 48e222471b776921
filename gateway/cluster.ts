import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../lib/logger.ts';

/**
 * Several processes of one service on one port (node:cluster), for a service whose single
 * process is bounded by one CPU: the gateway's proxy path. The primary only supervises: it
 * forks the workers, replaces one that dies, passes SIGTERM on (each worker drains as a lone
 * process would) and relays `gather` questions, so that what a worker reports (its metrics, the
 * admin page's traffic) covers every worker, not the share of the one a request landed on.
 */

const GATHER = 'idm:cluster-gather';
const GATHERED = 'idm:cluster-gathered';
const COLLECT = 'idm:cluster-collect';
const COLLECTED = 'idm:cluster-collected';
const RESTART_DELAY_MS = 1_000;
const COLLECT_TIMEOUT_MS = 3_000;

type Message =
  | { type: typeof GATHER; id: number; topic: string }
  | { type: typeof GATHERED; id: number; values?: unknown[]; error?: string }
  | { type: typeof COLLECT; id: number; topic: string }
  | { type: typeof COLLECTED; id: number; value?: unknown; error?: string };

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** Forks `count` workers of this script and keeps them running until SIGTERM/SIGINT; resolves with the exit code. */
export function superviseWorkers(name: string, count: number, logger: Logger): Promise<number> {
  let stopping = false;
  let stopSignal: NodeJS.Signals | undefined;
  let failed = false;
  let nextId = 0;
  const collecting = new Map<number, { values: unknown[]; waiting: Set<Worker>; done(): void }>();

  /** Asks every live worker for `topic` and answers `asker` with all their values. */
  const gather = (asker: Worker, askId: number, topic: string) => {
    const workers = liveWorkers();
    const id = ++nextId;
    const values: unknown[] = [];
    const waiting = new Set(workers);
    const timer = setTimeout(() => done(), COLLECT_TIMEOUT_MS);
    const done = () => {
      if (!collecting.delete(id)) return;
      clearTimeout(timer);
      // A worker that did not answer in time (busy, or just died) is left out rather than failing the question.
      if (waiting.size > 0) logger.warn({ topic, missing: waiting.size }, `${name} primary: some workers did not answer`);
      if (asker.isConnected()) asker.send({ type: GATHERED, id: askId, values } satisfies Message);
    };
    collecting.set(id, { values, waiting, done });
    for (const worker of workers) worker.send({ type: COLLECT, id, topic } satisfies Message);
    if (workers.length === 0) done();
  };

  // Workers whose process has not exited yet. Not `cluster.workers` filtered by isConnected():
  // a worker's 'exit' can come before its 'disconnect', so the last one to exit still looked
  // alive, nothing resolved, and the primary ended with 13 (an unsettled top-level await).
  const running = new Set<Worker>();
  const fork = () => {
    const worker = cluster.fork();
    running.add(worker);
    worker.on('message', (message: Message) => {
      if (message?.type === GATHER) return gather(worker, message.id, message.topic);
      if (message?.type !== COLLECTED) return;
      const pending = collecting.get(message.id);
      if (!pending || !pending.waiting.delete(worker)) return;
      if (message.error === undefined) pending.values.push(message.value);
      else logger.warn({ pid: worker.process.pid, error: message.error }, `${name} worker could not answer`);
      if (pending.waiting.size === 0) pending.done();
    });
  };
  for (let i = 0; i < count; i++) fork();
  logger.info({ workers: count, pid: process.pid }, `${name} primary started its workers`);

  return new Promise((resolve) => {
    cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
      running.delete(worker);
      for (const pending of collecting.values()) if (pending.waiting.delete(worker) && pending.waiting.size === 0) pending.done();
      if (!stopping) {
        // A worker that dies on its own (a bug, out of memory) is replaced; the others keep serving.
        logger.error({ pid: worker.process.pid, exitCode: code, signal }, `${name} worker died: starting another`);
        setTimeout(() => {
          if (!stopping) fork();
        }, RESTART_DELAY_MS).unref();
        return;
      }
      if (code !== null && code !== 0) {
        // It drained and said some request had to be cut, or it crashed: the drain was not clean.
        failed = true;
        logger.warn({ pid: worker.process.pid, exitCode: code }, `${name} worker did not stop cleanly`);
      } else if (code === null && signal !== stopSignal) {
        // Killed from outside (SIGKILL, OOM killer) around the stop: nothing of the drain failed.
        logger.warn({ pid: worker.process.pid, signal }, `${name} worker was killed while the others drained`);
      }
      // (Killed by the very signal passed on: a worker still starting has no handler yet and nothing in flight.)
      if (running.size === 0) resolve(failed ? 1 : 0);
    });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      stopSignal = signal;
      logger.info({ signal }, `${name} primary: draining the workers`);
      if (running.size === 0) resolve(0);
      // Every worker not yet reaped, connected or not: each one's 'exit' is what settles the stop.
      // Signalling one that already died is harmless (ESRCH is ignored).
      for (const worker of running) worker.process.kill(signal);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
}

const answers = new Map<string, () => unknown>();
const asked = new Map<number, { resolve(values: unknown[]): void; reject(error: Error): void }>();
let listening = false;
let nextAsk = 0;

function listen() {
  if (listening || !cluster.isWorker) return;
  listening = true;
  process.on('message', (message: Message) => {
    if (message?.type === COLLECT) {
      const answer = answers.get(message.topic);
      const reply = (body: { value?: unknown; error?: string }) => process.send?.({ type: COLLECTED, id: message.id, ...body } satisfies Message);
      if (!answer) return reply({ error: `nothing answers ${message.topic}` });
      Promise.resolve()
        .then(answer)
        .then(
          (value) => reply({ value }),
          (error: unknown) => reply({ error: (error as Error).message }),
        );
      return;
    }
    if (message?.type === GATHERED) {
      const pending = asked.get(message.id);
      if (!pending) return;
      asked.delete(message.id);
      if (message.values) pending.resolve(message.values);
      else pending.reject(new Error(message.error ?? 'the primary did not answer'));
    }
  });
}

/** In a worker: what this worker says when any worker gathers `topic`. */
export function answerGather(topic: string, answer: () => unknown): void {
  answers.set(topic, answer);
  listen();
}

/** In a worker: every worker's answer to `topic` (this one's included), through the primary. */
export function gather(topic: string, timeoutMs = COLLECT_TIMEOUT_MS + 2_000): Promise<unknown[]> {
  listen();
  return new Promise((resolve, reject) => {
    const id = ++nextAsk;
    const timer = setTimeout(() => {
      asked.delete(id);
      reject(new Error(`cluster gather ${topic}: the primary did not answer in time`));
    }, timeoutMs);
    asked.set(id, {
      resolve(values) {
        clearTimeout(timer);
        resolve(values);
      },
      reject(error) {
        clearTimeout(timer);
        reject(error);
      },
    });
    process.send?.({ type: GATHER, id, topic } satisfies Message);
  });
}

/**
 * In a worker: what /metrics serves there, the sum over all workers (prom-client's own cluster
 * aggregation rules: counters and histograms add up, gauges follow their `aggregator`).
 */
export function clusterMetricsSource(registry: Registry): () => Promise<string> {
  answerGather('metrics', () => registry.getMetricsAsJSON());
  return async () => AggregatorRegistry.aggregate((await gather('metrics')) as object[]).metrics();
}
