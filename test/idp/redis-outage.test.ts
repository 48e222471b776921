// The idp with its Redis gone (sessions, interactions, tokens, throttle counts): every request
// that needs Redis is a 503 with Retry-After, never a 500; discovery and the JWKS stay up; the
// outage is logged once, not as a stream of unhandled ioredis errors; and it recovers by itself.
// The idp runs as in production (idp/main.ts) against a redis-server of the test's own.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipLoudly } from '../../scripts/support/databases.ts';
import { freePort, spawnScript, waitForHttp } from '../../scripts/support/processes.ts';
import { redisServerProblem, startOwnRedis } from '../../scripts/support/redis-server.ts';
import { startTcpProxy } from '../../scripts/support/tcp-proxy.ts';
import { location, UserAgent } from '../../scripts/support/browser.ts';
import { NATIVE_REDIRECT } from '../support/idp.ts';

/** Polls `url` until it answers `status`; a deadline only so a broken idp fails instead of hanging. */
async function until(url: string, status: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const res = await fetch(url).catch(() => undefined);
    await res?.body?.cancel();
    if (res?.status === status) return;
    await sleep(100);
  }
  assert.fail(`${url} never answered ${status}`);
}

function authorizeUrl(issuer: string): URL {
  const url = new URL('/auth', issuer);
  url.search = new URLSearchParams({
    client_id: 'native-app',
    response_type: 'code',
    redirect_uri: NATIVE_REDIRECT,
    scope: 'openid',
    code_challenge: 'x'.repeat(43),
    code_challenge_method: 'S256',
  }).toString();
  return url;
}

/** The idp as in production, on a SQLite file in `dir`, with its Redis at `redisUrl`. */
async function spawnIdp(dir: string, redisUrl: string) {
  const port = await freePort();
  // /readyz lives on the ops listener only.
  const opsPort = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const idp = spawnScript('idp/main.ts', {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    IDP_PORT: String(port),
    IDP_OPS_PORT: String(opsPort),
    IDP_ISSUER: issuer,
    DATABASE_URL: `sqlite:${join(dir, 'idp.sqlite')}`,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: 'outage:',
    PBKDF2_ITERATIONS: '1000',
    LEGACY_ADAPTER_URL: 'http://127.0.0.1:9',
    IDP_CLIENTS_FILE: 'test/idp/fixtures/native-client.yaml',
  });
  await waitForHttp(`${issuer}/healthz`, idp.exited);
  return { ...idp, issuer, readyz: `http://127.0.0.1:${opsPort}/readyz` };
}

const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

test('Redis down: 503 with Retry-After instead of 500s, one log line, and recovery', async (t) => {
  const problem = redisServerProblem();
  if (problem) return skipLoudly(t, 'redis-server', problem);
  const redis = await startOwnRedis();
  const dir = mkdtempSync(join(tmpdir(), 'idp-redis-outage-'));
  const idp = await spawnIdp(dir, redis.url);
  const { issuer, readyz } = idp;
  try {
    const agent = new UserAgent();
    const started = await agent.request(authorizeUrl(issuer));
    await started.body?.cancel();
    const interaction = location(started, issuer);
    assert.match(interaction.pathname, /^\/interaction\//);

    await redis.kill();
    await until(readyz, 503);

    const html = HTML;
    const pages: [string, RequestInit][] = [
      [interaction.href, { headers: html }],
      [
        `${interaction.href}/login`,
        { method: 'POST', headers: { ...html, 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=x&identifier=a&password=b' },
      ],
      [authorizeUrl(issuer).href, { headers: html }],
      [`${issuer}/account/password`, { headers: html }],
    ];
    for (const [url, init] of pages) {
      const res = await agent.request(url, init);
      const body = await res.text();
      assert.equal(res.status, 503, `${init.method ?? 'GET'} ${new URL(url).pathname}: ${body.slice(0, 200)}`);
      assert.ok(Number(res.headers.get('retry-after')) > 0, url);
      assert.match(body, /unavailable right now/);
    }
    const token = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=x&client_id=native-app',
    });
    assert.equal(token.status, 503);
    assert.ok(Number(token.headers.get('retry-after')) > 0);
    assert.deepEqual((await token.json()).error, 'temporarily_unavailable');
    for (const path of ['/.well-known/openid-configuration', '/jwks', '/healthz']) {
      const res = await fetch(`${issuer}${path}`);
      await res.body?.cancel();
      assert.equal(res.status, 200, `${path} needs no Redis`);
    }

    await redis.start();
    await until(readyz, 200);
    const again = await new UserAgent().request(authorizeUrl(issuer));
    await again.body?.cancel();
    assert.equal(again.status, 303, 'sign-in works again once Redis is back');
  } finally {
    idp.child.kill('SIGTERM');
    await idp.exited;
    await redis.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  const output = idp.output();
  assert.doesNotMatch(output, /Unhandled error event/, 'every ioredis connection has an error listener');
  assert.equal(output.match(/redis connection failed; retrying/g)?.length, 1, `one line for the outage:\n${output.slice(0, 2000)}`);
});

// Redis that stops answering while the connection stays up (a partition, a stalled server) is
// not seen by the gate: requests reach oidc-provider, whose commands then time out inside it.
// Those answered 500 server_error (and, when the failure escaped its error handlers, koa's
// bare "Internal Server Error"); they must be the same 503 the gate gives.
test('Redis silent mid-request: oidc-provider routes answer 503 with Retry-After, not 500', async (t) => {
  const problem = redisServerProblem();
  if (problem) return skipLoudly(t, 'redis-server', problem);
  const redis = await startOwnRedis();
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(redis.url).port) });
  const dir = mkdtempSync(join(tmpdir(), 'idp-redis-silent-'));
  const target = new URL(redis.url);
  target.port = String(proxy.port);
  const idp = await spawnIdp(dir, target.href);
  const { issuer } = idp;
  try {
    const agent = new UserAgent();
    const started = await agent.request(authorizeUrl(issuer));
    await started.body?.cancel();
    assert.equal(started.status, 303, 'the authorization request works while Redis answers');

    proxy.setMode('blackhole');
    const page = await agent.request(authorizeUrl(issuer), { headers: HTML });
    const body = await page.text();
    assert.equal(page.status, 503, body.slice(0, 300));
    assert.ok(Number(page.headers.get('retry-after')) > 0);
    assert.equal(page.headers.get('location'), null);
    assert.match(body, /unavailable right now/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/, 'the page carries the idp page headers');

    const token = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body:
        'grant_type=authorization_code&code=x&client_id=native-app&code_verifier=' + 'x'.repeat(43) + `&redirect_uri=${encodeURIComponent(NATIVE_REDIRECT)}`,
    });
    assert.equal(token.status, 503);
    assert.ok(Number(token.headers.get('retry-after')) > 0);
    assert.equal((await token.json()).error, 'temporarily_unavailable');

    proxy.setMode('open');
    await until(idp.readyz, 200);
  } finally {
    idp.child.kill('SIGTERM');
    await idp.exited;
    await proxy.close();
    await redis.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  const output = idp.output();
  assert.doesNotMatch(output, /oidc-provider server_error/, 'an outage is not logged as a server error');
  assert.match(output, /Redis or the database unavailable during an oidc-provider request/);
});
