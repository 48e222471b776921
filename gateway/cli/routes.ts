// `idm routes`: the gateway's routes, over the admin API (docs/gateway.md, "Flipping: CLI, admin API, admin page").
//
//   GATEWAY_ADMIN_TOKEN=... idm routes list
//   GATEWAY_ADMIN_TOKEN=... idm routes flip <route> <legacy|idp|canary|shadow> [--percent N] --reason "..."
//   GATEWAY_ADMIN_TOKEN=... idm routes audit [--route NAME] [--limit N]
//
// Instead of the shared admin token, GATEWAY_ADMIN_ACCESS_TOKEN may hold an idp access token for
// the gateway admin audience with the admin scope; the audit log then names its subject.
//
// GATEWAY_ADMIN_URL picks the gateway (default http://127.0.0.1:3000). Exit codes: 0 done,
// 1 refused or failed (the reason is printed), 2 wrong usage, 78 a variable is malformed.
import { hostname, userInfo } from 'node:os';
import { readCommandArgs } from '../../lib/cli/args.ts';
import { ConfigError, loadConfig } from '../../lib/config.ts';
import { routesCliEnv } from './env.ts';
import { describeNewSide } from '../admin/view.ts';
import type { RouteAction } from '../routes/file.ts';

const usage = `usage: idm routes list [--json]
       idm routes flip <route> <legacy|idp|canary|shadow> [--percent N] --reason "why" [--actor NAME] [--json]
       idm routes audit [--route NAME] [--limit N] [--json]
environment: GATEWAY_ADMIN_ACCESS_TOKEN (an idp access token with the admin scope) or GATEWAY_ADMIN_TOKEN,
  GATEWAY_ADMIN_URL (default http://127.0.0.1:3000)`;

function die(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}

interface RouteView {
  name: string;
  paths: string[];
  mode: string;
  percent: number | null;
  source: string;
  fallbackReason: string | null;
  traffic: { legacy: number; new: number; legacy5xx: number; new5xx: number };
  upstreams: { legacy: string; new: string };
  action: RouteAction | null;
}
interface AuditView {
  id: number;
  at: string;
  actor: string;
  via: string;
  route: string;
  from: { mode: string; percent?: number } | null;
  to: { mode: string; percent?: number } | null;
  reason: string;
}

// $USER first: userInfo() throws in containers whose uid has no passwd entry.
function whoami(): string {
  if (process.env.USER) return process.env.USER;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

const state = (s: { mode: string; percent?: number | null } | null) => (s ? (s.mode === 'canary' ? `canary ${s.percent}%` : s.mode) : '?');

export async function main(argv: string[]): Promise<number> {
  const parsed = readCommandArgs(argv, {
    name: 'routes',
    usage,
    positionals: true,
    options: {
      percent: { type: 'string' },
      reason: { type: 'string' },
      actor: { type: 'string' },
      route: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!parsed.ok) return parsed.exit;
  const { values, positionals } = parsed.args;
  let env;
  try {
    env = loadConfig(routesCliEnv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    die(error.message, 78);
  }
  // The access token wins: it names who flips, where the shared token cannot.
  const token = env.GATEWAY_ADMIN_ACCESS_TOKEN || env.GATEWAY_ADMIN_TOKEN;
  if (!token) die(`neither GATEWAY_ADMIN_ACCESS_TOKEN nor GATEWAY_ADMIN_TOKEN is set\n${usage}`, 2);
  const base = env.GATEWAY_ADMIN_URL.replace(/\/+$/, '');

  const call = async (method: string, path: string, body?: unknown) => {
    let res: Response;
    try {
      res = await fetch(`${base}/admin/api${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      die(`cannot reach the gateway at ${base}: ${(error as Error).message}`, 1);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      die(`the gateway answered ${res.status} with something that is not JSON`, 1);
    }
    if (!res.ok) {
      const e = json as { error?: string; problems?: string[] };
      die(`refused (${res.status} ${e.error ?? ''})${e.problems ? `:\n  ${e.problems.join('\n  ')}` : ''}`, 1);
    }
    return json;
  };

  const [command, ...rest] = positionals;
  switch (command) {
    case 'list': {
      const { routes } = (await call('GET', '/routes')) as { routes: RouteView[] };
      if (values.json) {
        console.log(JSON.stringify(routes, null, 2));
        return 0;
      }
      for (const r of routes) {
        const source = r.source === 'default' ? ` (default: flag ${r.fallbackReason ?? 'not set'})` : '';
        const sides = r.action ? `  new: ${describeNewSide(r.upstreams.new, r.action)}` : '';
        console.log(`${r.name.padEnd(16)} ${state(r).padEnd(12)} legacy ${r.traffic.legacy}, new ${r.traffic.new}${source}  ${r.paths.join(' ')}${sides}`);
      }
      return 0;
    }
    case 'flip': {
      const [route, mode] = rest;
      if (!route || !mode || rest.length > 2) die(usage, 2);
      if (!values.reason) die('--reason is required: it goes into the audit log', 2);
      const body: Record<string, unknown> = { mode, reason: values.reason, actor: values.actor ?? `${whoami()}@${hostname()} (cli)` };
      if (values.percent !== undefined) {
        if (!/^\d+$/.test(values.percent)) die('--percent must be a whole number from 0 to 100', 2);
        body.percent = Number(values.percent);
      }
      const result = (await call('PUT', `/routes/${encodeURIComponent(route)}/flag`, body)) as { route: string; from: RouteView; to: RouteView };
      console.log(values.json ? JSON.stringify(result, null, 2) : `${result.route}: ${state(result.from)} -> ${state(result.to)}`);
      return 0;
    }
    case 'audit': {
      const query = new URLSearchParams();
      if (values.route) query.set('route', values.route);
      if (values.limit) query.set('limit', values.limit);
      const { entries } = (await call('GET', `/audit${query.size ? `?${query}` : ''}`)) as { entries: AuditView[] };
      if (values.json) console.log(JSON.stringify(entries, null, 2));
      else for (const e of entries) console.log(`${e.at}  ${e.route.padEnd(12)} ${state(e.from)} -> ${state(e.to)}  by ${e.actor} (${e.via}): ${e.reason}`);
      return 0;
    }
    default:
      die(usage, 2);
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
