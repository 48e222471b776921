// The loop of a background worker that drains a table (the dual-write relay, the mail worker):
// one pass at a time, the next one `pollMs` after it ends, sooner when woken; a wake during a
// pass runs another right after it, so nothing written meanwhile waits a whole poll.

export interface PollingLoop {
  start(): void;
  /** Runs a pass now (or right after the one in flight). */
  wake(): void;
  /** Stops scheduling and waits for the pass in flight. */
  stop(): Promise<void>;
  /** True once stopped (a pass can end its batches early). */
  stopped(): boolean;
}

export function createPollingLoop(pass: () => Promise<unknown>, options: { pollMs: number; onError(error: unknown): void }): PollingLoop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;
  let again = false;

  function schedule(delay: number): void {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(tick, delay);
    timer.unref();
  }

  function tick(): void {
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch((error: unknown) => options.onError(error))
      .finally(() => {
        running = undefined;
        const now = again;
        again = false;
        schedule(now ? 0 : options.pollMs);
      });
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule(0);
    },
    wake() {
      if (!stopped) schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    stopped: () => stopped,
  };
}
