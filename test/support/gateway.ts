// Test helpers for the gateway: an in-process gateway on a given route file, and tiny upstreams
// that say who they are, so every test can tell which side served a response.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startGateway } from '../../gateway/app.ts';
import { createBucketCookies } from '../../gateway/canary.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import type { RunningService } from '../../lib/service.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789';
export const INTERNAL_SECRET = 'test-internal-secret-0123456789abcdef01234';
export const AUTH_COOKIE_SECRET = 'test-auth-cookie-secret-0123456789abcdef012';
/** gw_bucket cookies as a test gateway signs them (tests that need a given bucket make their own). */
export const testBuckets = createBucketCookies(AUTH_COOKIE_SECRET);

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface TaggedUpstream {
  url: string;
  server: Server;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * An upstream that answers `<side> <url>` with header `x-served-by: <side>`, or what `handle`
 * does. Records every request with its body.
 */
export async function startUpstream(side: string, handle?: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<TaggedUpstream> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (handle) return handle(req, res, body);
      res.setHeader('x-served-by', side);
      res.setHeader('content-type', 'text/plain');
      res.end(`${side} ${req.url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Admin API answers as tests read them: any shape, checked by the assertions themselves.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ApiJson = any;

export interface TestGateway {
  service: RunningService;
  url: string;
  dir: string;
  admin(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: ApiJson }>;
  flip(route: string, state: { mode: string; percent?: number }, reason?: string): Promise<void>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** Writes `routesYaml` to a temp file and starts the gateway in this process with `env` on top of test defaults. */
export async function startTestGateway(routesYaml: string, env: Record<string, string | undefined>): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-test-'));
  const routesFile = join(dir, 'routes.yaml');
  writeFileSync(routesFile, routesYaml);
  const config = loadGatewayConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    GATEWAY_PORT: '0',
    GATEWAY_OPS_PORT: '0',
    GATEWAY_ROUTES_FILE: routesFile,
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    IDP_INTERNAL_SECRET: INTERNAL_SECRET,
    GATEWAY_AUTH_COOKIE_SECRET: AUTH_COOKIE_SECRET,
    DATABASE_URL: `sqlite:${join(dir, 'gateway.sqlite')}`,
    SHUTDOWN_GRACE_MS: '2000',
    // Background probes would show up among the requests a test's upstreams record.
    GATEWAY_DEPENDENCY_PROBE_MS: '0',
    ...env,
  });
  let service: RunningService;
  try {
    service = await startGateway(config);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = service.url;
  const admin = async (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) => {
    const res = await fetch(`${url}/admin/api${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json: json as ApiJson };
  };
  return {
    service,
    url,
    dir,
    admin,
    flip: (route, state, reason) => flipRoute(url, ADMIN_TOKEN, route, state, reason),
    async metrics() {
      return (await fetch(`${service.opsUrl}/metrics`)).text();
    },
    async stop() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Flips `route` of the gateway at `url` through its admin API with the admin `token`; throws on refusal. */
export async function flipRoute(url: string, token: string, route: string, state: { mode: string; percent?: number }, reason = 'test flip'): Promise<void> {
  const res = await fetch(`${url}/admin/api/routes/${route}/flag`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...state, reason }),
  });
  if (res.status !== 200) throw new Error(`flip ${route} -> ${JSON.stringify(state)} answered ${res.status}: ${await res.text()}`);
}

/** Polls `check` until it returns true or `ms` passes; returns whether it did. */
export async function eventually(check: () => Promise<boolean> | boolean, ms: number, every = 20): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, every));
  }
}

/** The sample monolith's login.php signals (gateway/routes.yaml), as a flow-style route key. */
export const LOGIN_DECISION =
  'loginDecision: { fields: { login: login, password: password }, accepted: { status: [302, 303], location: account.php }, refused: { status: [200] } }';

export const SIMPLE_ROUTES = `
routes:
  - name: login
    paths: [/login.php]
    shadow: login-decision
    ${LOGIN_DECISION}
  - name: api
    paths: [/api/*]
    methods: [GET, POST]
  - name: oidc
    paths: [/.well-known/*, /token]
    default: idp
  - name: site
    paths: ['/*']
`;
