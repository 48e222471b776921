// `npm start`: the whole system on one machine with nothing to set up. Each service runs in
// its own process, exactly as in production; SQLite files under ./data and in-process stores
// stand in for MariaDB and Redis. The sample legacy PHP site runs too when `php` is installed;
// without it the same demo users are seeded with node and its pages say what to install.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../lib/config.ts';
import { embeddedEnv } from './embedded-env.ts';
import { PHP_PACKAGES, startPhpMissingPage } from './php-missing-page.ts';
import { seedLegacyUsers } from './seed-legacy-users.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const own = loadConfig(embeddedEnv);
const data = resolve(root, own.DATA_DIR);
mkdirSync(data, { recursive: true });

const ports = {
  gateway: Number(process.env.GATEWAY_PORT ?? 3000),
  idp: Number(process.env.IDP_PORT ?? 3001),
  adapter: Number(process.env.LEGACY_ADAPTER_PORT ?? 3002),
  gatewayOps: Number(process.env.GATEWAY_OPS_PORT ?? 3100),
  idpOps: Number(process.env.IDP_OPS_PORT ?? 3101),
  adapterOps: Number(process.env.LEGACY_ADAPTER_OPS_PORT ?? 3102),
  php: own.LEGACY_PHP_PORT,
};
const legacySqlite = resolve(data, 'legacy.sqlite');
const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  GATEWAY_PORT: String(ports.gateway),
  IDP_PORT: String(ports.idp),
  LEGACY_ADAPTER_PORT: String(ports.adapter),
  GATEWAY_OPS_PORT: String(ports.gatewayOps),
  IDP_OPS_PORT: String(ports.idpOps),
  LEGACY_ADAPTER_OPS_PORT: String(ports.adapterOps),
  DATABASE_URL: process.env.DATABASE_URL ?? `sqlite:${resolve(data, 'idp.sqlite')}`,
  LEGACY_DATABASE_URL: process.env.LEGACY_DATABASE_URL ?? `sqlite:${legacySqlite}`,
  LEGACY_UPSTREAM_URL: process.env.LEGACY_UPSTREAM_URL ?? `http://127.0.0.1:${ports.php}`,
  LEGACY_HEALTH_PATH: process.env.LEGACY_HEALTH_PATH ?? '/api/health.php',
  IDP_UPSTREAM_URL: `http://127.0.0.1:${ports.idp}`,
  LEGACY_ADAPTER_URL: `http://127.0.0.1:${ports.adapter}`,
  IDP_ISSUER: process.env.IDP_ISSUER ?? `http://localhost:${ports.gateway}`,
  LEGACY_DB_DSN: `sqlite:${legacySqlite}`,
  // Without SMTP_URL the idp's mail (password reset) goes to .eml files, beside the rest of the data.
  IDP_MAIL_DIR: process.env.IDP_MAIL_DIR ?? resolve(data, 'mail'),
};

// The shipped clients file registers the gateway's sign-in (the session bridge) for https, as web
// clients must be; the demo runs on http://localhost, so it gets a copy with loopback URIs, which
// the idp accepts only with IDP_ALLOW_HTTP_LOOPBACK_WEB_REDIRECTS (never in production).
if (!process.env.IDP_CLIENTS_FILE) {
  const gatewayUrl = `http://localhost:${ports.gateway}`;
  mkdirSync(data, { recursive: true });
  const demoClients = resolve(data, 'demo-clients.yaml');
  writeFileSync(demoClients, readFileSync(resolve(root, 'idp/clients.yaml'), 'utf8').replaceAll('https://localhost:3000', gatewayUrl));
  env.IDP_CLIENTS_FILE = demoClients;
  env.IDP_ALLOW_HTTP_LOOPBACK_WEB_REDIRECTS = 'true';
  env.GATEWAY_PUBLIC_URL ??= gatewayUrl;
}

// The idp's development default unless overridden (idp/config.ts); printed so anyone can register a client.
const registrationToken = env.IDP_REGISTRATION_ACCESS_TOKEN || 'dev-only-idp-registration-access-token';

const children: { name: string; child: ChildProcess }[] = [];
const closeOnStop: { close(): void }[] = [];
let stopping = false;

function run(name: string, command: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push({ name, child });
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${name} exited (${signal ?? code}); stopping the others`);
    void stopAll(1);
  });
  return child;
}

async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const server of closeOnStop) server.close();
  await Promise.all(
    children.map(
      ({ child }) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
    ),
  );
  process.exit(code);
}

async function waitFor(url: string, name: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${name} did not come up at ${url}`);
}

process.once('SIGINT', () => void stopAll(0));
process.once('SIGTERM', () => void stopAll(0));

const hasPhp = spawnSync('php', ['--version'], { stdio: 'ignore' }).status === 0;
if (hasPhp) {
  const seeded = spawnSync('php', ['legacy-php/seed.php'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  if (seeded.status !== 0) throw new Error('seeding the sample legacy database failed');
  // Its JSON API believes the user the gateway names after checking an access token (the `api`
  // route of gateway/routes.yaml); on a machine of its own, anything local could send that header.
  run('legacy-php', 'php', ['-S', `127.0.0.1:${ports.php}`, '-t', 'legacy-php/public', 'legacy-php/public/router.php'], {
    LEGACY_TRUSTED_USER_HEADER: 'X-Remote-User',
    LEGACY_TRUSTED_PROXIES: '127.0.0.1',
  });
} else {
  // A legacy database of one's own (LEGACY_DATABASE_URL) is never written to.
  if (!process.env.LEGACY_DATABASE_URL) seedLegacyUsers(legacySqlite);
  if (!process.env.LEGACY_UPSTREAM_URL) closeOnStop.push(await startPhpMissingPage(ports.php));
  console.warn(`php is not installed: demo users seeded with node; the sample legacy PHP site needs ${PHP_PACKAGES} (apt-get install ${PHP_PACKAGES})`);
}
run('legacy-adapter', process.execPath, ['legacy-adapter/main.ts']);
run('idp', process.execPath, ['idp/main.ts']);
run('gateway', process.execPath, ['gateway/main.ts']);

try {
  await Promise.all([
    waitFor(`http://127.0.0.1:${ports.adapter}/healthz`, 'legacy-adapter'),
    waitFor(`http://127.0.0.1:${ports.idp}/healthz`, 'idp'),
    waitFor(`http://127.0.0.1:${ports.gateway}/healthz`, 'gateway'),
    ...(hasPhp ? [waitFor(`http://127.0.0.1:${ports.php}/api/health.php`, 'legacy-php')] : []),
  ]);
} catch (error) {
  console.error((error as Error).message);
  await stopAll(1);
}

console.log(`
Identity migration, embedded mode: running.

  gateway (the front door)   http://localhost:${ports.gateway}/
  idp                        http://localhost:${ports.idp}/
  legacy-adapter (internal)  http://localhost:${ports.adapter}/
  legacy PHP site            http://localhost:${ports.php}/   ${hasPhp ? '(log in as alice / correct horse battery staple)' : `(not running: needs ${PHP_PACKAGES})`}

  OpenID Connect, issuer ${env.IDP_ISSUER}
    discovery        ${env.IDP_ISSUER}/.well-known/openid-configuration
    demo user        alice / correct horse battery staple   (a legacy user: signs in just in time, hash upgraded)
    demo client      demo-app (public, native: redirect http://127.0.0.1:<any port>/callback, PKCE S256)
${
  hasPhp
    ? `    sign in through the new stack, then see the unchanged PHP page logged in (session bridge):
      http://localhost:${ports.gateway}/auth/login?return_to=/account.php
`
    : ''
}    register one     registration access token: ${registrationToken}
      curl -s ${env.IDP_ISSUER}/reg -H 'authorization: Bearer ${registrationToken}' -H 'content-type: application/json' \\
        -d '{"application_type":"native","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1:8765/callback"]}'
${
  env.SMTP_URL
    ? ''
    : `    forgot password  no SMTP_URL: each mail is an .eml file in ${env.IDP_MAIL_DIR}, and each reset link is printed here
`
}
  health: /healthz on each service's port
  ops (readiness /readyz, metrics /metrics): gateway http://127.0.0.1:${ports.gatewayOps}  idp http://127.0.0.1:${ports.idpOps}  legacy-adapter http://127.0.0.1:${ports.adapterOps}
  data: ${data}

Ctrl-C stops everything.`);
