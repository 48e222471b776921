// A redis-server of the test's own on a free loopback port, without persistence, so a test can
// kill it and start it again empty (what a restart without RDB/AOF does) without ever touching
// the shared Redis on 6379 that other suites use.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedis } from '../../lib/redis.ts';
import { freePort } from './processes.ts';

export interface OwnRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL by default); its data is gone with it. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again, empty, on the same port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Why no redis-server can be started here, or undefined when one can. */
export function redisServerProblem(): string | undefined {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return probe.error ? `redis-server not found on PATH (${probe.error.message})` : undefined;
}

async function answers(url: string): Promise<boolean> {
  const redis = createRedis(url);
  redis.on('error', () => undefined);
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<unknown> = Promise.resolve();

  // A test run that dies without stop() must not leave a redis-server behind.
  const orphanGuard = () => child?.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const start = async () => {
    const spawned = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    child = spawned;
    exited = new Promise((resolve) => spawned.once('exit', resolve));
    const deadline = Date.now() + 10_000;
    while (!(await answers(url))) {
      if (spawned.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await sleep(50);
    }
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };

  await start();
  return {
    url,
    port,
    kill,
    start,
    async stop() {
      process.off('exit', orphanGuard);
      await kill('SIGTERM');
    },
  };
}
