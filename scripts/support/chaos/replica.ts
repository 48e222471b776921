// One replica of a service in the stack: its own process on a port that stays the same across
// restarts (the load balancer's list, or the gateway's upstream URL, names it), killed or
// restarted when the test says so, and watched for exits the test did not ask for.
import { setTimeout as sleep } from 'node:timers/promises';
import { startServiceProcess, type SpawnedService } from '../processes.ts';

export class Replica {
  readonly name: string;
  readonly port: number;
  readonly #script: string;
  readonly #portVariable: string;
  readonly #env: Record<string, string>;
  #process: SpawnedService | undefined;
  /** Exits the test asked for: a kill, a restart, the stack's stop. */
  readonly #onPurpose = new Set<SpawnedService>();
  #earlierOutput = '';
  readonly #crashes: string[];

  /** `crashes` is shared by the stack's replicas: each exit nobody asked for is added to it. */
  constructor(name: string, script: string, portVariable: string, env: Record<string, string>, port: number, crashes: string[]) {
    this.name = name;
    this.#script = script;
    this.#portVariable = portVariable;
    this.#env = env;
    this.port = port;
    this.#crashes = crashes;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get opsUrl(): string {
    return this.#current().opsUrl;
  }

  #current(): SpawnedService {
    if (!this.#process) throw new Error(`${this.name} is not running`);
    return this.#process;
  }

  async start(): Promise<void> {
    // Generous: on a machine busy with other test files, a start can take long; a start that
    // fails is a failed run anyway.
    const service = await startServiceProcess(this.#script, this.#portVariable, this.#env, this.port, 60_000).catch((error: unknown) => {
      throw new Error(`${this.name} did not start: ${(error as Error).message}`, { cause: error });
    });
    this.#process = service;
    void service.exited.then((code) => {
      if (!this.#onPurpose.has(service)) this.#crashes.push(`${this.name} exited (${code})`);
    });
  }

  /** Stops the process with `signal` (SIGTERM: it drains); resolves with its exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
    const service = this.#process;
    if (!service) return 'not running';
    this.#onPurpose.add(service);
    this.#process = undefined;
    const code = await service.stop(signal);
    this.#earlierOutput += service.output();
    return code;
  }

  /** Resolves once /readyz says 200: what a load balancer that watches it waits for. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await fetch(`${this.opsUrl}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
        async (res) => (await res.body?.cancel(), res.status),
        () => 0,
      );
      if (status === 200) return;
      if (Date.now() > deadline) throw new Error(`${this.name}: /readyz did not say 200 within ${timeoutMs} ms (last: ${status})`);
      await sleep(100);
    }
  }

  /**
   * A rolling restart's step: SIGTERM (the replica drains), start again on the same port, wait
   * for /readyz. Throws when the drain was not clean (exit code not 0: it had to cut a request).
   */
  async restart(): Promise<void> {
    const code = await this.stop('SIGTERM');
    if (code !== 0) throw new Error(`${this.name} exited ${code} after SIGTERM: its drain was not clean\n${this.#earlierOutput.slice(-2_000)}`);
    await this.start();
    await this.ready();
  }

  output(): string {
    return this.#earlierOutput + (this.#process?.output() ?? '');
  }
}
