// Starts a service the way production does (its own process, configured by environment)
// and waits until it answers, so tests exercise the real entry points.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface SpawnedService {
  child: ChildProcess;
  url: string;
  /** The ops listener (/metrics, /readyz). */
  opsUrl: string;
  output(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export function spawnScript(script: string, env: Record<string, string>): { child: ChildProcess; output(): string; exited: Promise<number | string> } {
  const child = spawn(process.execPath, [script], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output: () => out, exited };
}

export async function waitForHttp(url: string, exited: Promise<unknown>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited.then(() => (gone = true));
  while (Date.now() < deadline && !gone) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(gone ? `process exited before ${url} answered` : `${url} did not answer within ${timeoutMs} ms`);
}

/**
 * Spawns `script` with `env`, waits for `<url>/healthz` (up to `timeoutMs`, default 20 s); on
 * `port` when given (a restart), else a free one. The ops port goes in the variable named like the port's with `_OPS_PORT`
 * (GATEWAY_PORT: GATEWAY_OPS_PORT), unless `env` sets it.
 */
export async function startServiceProcess(
  script: string,
  portVariable: string,
  env: Record<string, string> = {},
  port?: number,
  timeoutMs?: number,
): Promise<SpawnedService> {
  port ??= await freePort();
  const opsVariable = portVariable.replace(/_PORT$/, '_OPS_PORT');
  const opsPort = env[opsVariable] ?? String(await freePort());
  const proc = spawnScript(script, { ...env, [portVariable]: String(port), [opsVariable]: opsPort });
  const url = `http://127.0.0.1:${port}`;
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  try {
    await waitForHttp(`${url}/healthz`, proc.exited, timeoutMs);
    // The ops listener opens just after the public one.
    if (opsPort !== '0') await waitForHttp(`${opsUrl}/healthz`, proc.exited, timeoutMs);
  } catch (error) {
    proc.child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${proc.output()}`, { cause: error });
  }
  return {
    ...proc,
    url,
    opsUrl,
    async stop(signal = 'SIGTERM') {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
      return proc.exited;
    },
  };
}
