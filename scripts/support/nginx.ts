// Debian's nginx as the load balancer of deploy/nginx/load-balancer.conf.template, for the
// zero-downtime test and bench: rendered into a directory of its own (its prefix: pid, logs,
// temp files), on loopback, run by whoever runs the test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NGINX_TEMPLATE = fileURLToPath(new URL('../../deploy/nginx/load-balancer.conf.template', import.meta.url));
const NGINX = process.env.NGINX_BINARY ?? '/usr/sbin/nginx';

export interface BalancerValues {
  /** `host:port` of each gateway replica. */
  gateways: string[];
  /** `host:port` of each idp replica. */
  idps: string[];
  /** Where the public listener listens, `host:port`. */
  publicListen: string;
  /** Where the gateways reach the idp replicas, `host:port`. */
  idpListen: string;
  workers?: number;
}

/** The template with every {{NAME}} filled in; a name left unfilled is an error, not an nginx surprise. */
export function renderBalancerConf(values: BalancerValues, template = readFileSync(NGINX_TEMPLATE, 'utf8')): string {
  const servers = (addresses: string[]) => addresses.map((a) => `    server ${a} max_fails=1 fail_timeout=2s;`).join('\n');
  const fill: Record<string, string> = {
    WORKERS: String(values.workers ?? 1),
    GATEWAY_SERVERS: servers(values.gateways),
    IDP_SERVERS: servers(values.idps),
    PUBLIC_LISTEN: values.publicListen,
    IDP_LISTEN: values.idpListen,
  };
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const value = fill[name];
    if (value === undefined) throw new Error(`${NGINX_TEMPLATE}: no value for {{${name}}}`);
    return value;
  });
}

/** Why nginx cannot run here, or undefined. */
export function nginxProblem(): string | undefined {
  const probe = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  return probe.error ? `${NGINX} not found (${probe.error.message}): apt-get install nginx` : undefined;
}

/** A directory for nginx's prefix, readable by the worker user when nginx starts as root. */
function prefixDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'idm-nginx-'));
  chmodSync(dir, 0o755);
  return dir;
}

/** `nginx -t` of `conf` in a prefix of its own: the exit status and what nginx said. */
export function checkNginxConf(conf: string): { ok: boolean; output: string } {
  const dir = prefixDir();
  try {
    writeFileSync(join(dir, 'nginx.conf'), conf);
    const run = spawnSync(NGINX, ['-t', '-p', dir, '-e', join(dir, 'startup.log'), '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface RunningNginx {
  dir: string;
  /** An access log so far (access.log: the public listener; idp-access.log: the idp listener): which replicas answered each request, and which were tried first. */
  log(name: 'access.log' | 'idp-access.log' | 'error.log'): string;
  stop(): Promise<void>;
}

export async function startNginx(conf: string, ready: () => Promise<boolean>): Promise<RunningNginx> {
  const dir = prefixDir();
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-e', join(dir, 'startup.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A run that dies without stop() must not leave nginx listening.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    process.off('exit', orphanGuard);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT'); // graceful: finishes requests in flight
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await ready().catch(() => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = `nginx did not start: ${stderr}${read('startup.log')}${read('error.log')}`;
      await stop();
      throw new Error(why);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { dir, log: read, stop };
}
