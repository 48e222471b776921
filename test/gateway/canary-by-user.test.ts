// Canary stickiness by user: a request with a valid idp access token is bucketed by the token's
// `sub`, whatever its gw_bucket cookie says; a bad token (or the idp's keys out of reach) falls
// back to the cookie and never fails the request. Tokens come from a real idp.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { BUCKET_COOKIE } from '../../gateway/canary.ts';
import { closeSharedResources, type TestIdp } from '../support/idp.ts';
import { startTestGateway, startUpstream, testBuckets, type TaggedUpstream, type TestGateway } from '../support/gateway.ts';
import { clientCredentials, OPS_SECRET, startTokenIdp, userAccessToken } from './tokens.ts';
import { sample } from '../support/prometheus-text.ts';

let idp: TestIdp;
let legacy: TaggedUpstream;
let next: TaggedUpstream;
let gateway: TestGateway;

const routes = (nextUrl: string) => `
upstreams:
  next: ${nextUrl}
routes:
  - { name: app, paths: ["/*"], new: next }
`;

before(async () => {
  idp = await startTokenIdp();
  legacy = await startUpstream('legacy');
  next = await startUpstream('new');
  // Both sides also accept WebSocket upgrades and say who they are in the 101.
  for (const [upstream, tag] of [
    [legacy, 'legacy'],
    [next, 'new'],
  ] as const) {
    upstream.server.on('upgrade', (_req, socket: Socket) =>
      socket.end(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-served-by: ${tag}\r\n\r\n`),
    );
  }
  gateway = await startTestGateway(routes(next.url), { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: idp.url, GATEWAY_TOKEN_ISSUER: idp.issuer });
});

after(async () => {
  await gateway?.stop();
  await Promise.all([legacy?.close(), next?.close()]);
  await idp?.stop();
  await closeSharedResources();
});

const freshCookie = () => `${BUCKET_COOKIE}=${testBuckets.value(randomBytes(16).toString('base64url'))}`;

async function visit(target: TestGateway, options: { token?: string; cookie?: string }): Promise<{ side: string; setCookie: string | undefined }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  const res = await fetch(`${target.url}/page`, { headers });
  assert.equal(res.status, 200, 'a canary route never refuses a request over its token');
  await res.text();
  return { side: res.headers.get('x-served-by') ?? 'none', setCookie: res.headers.getSetCookie().find((c) => c.startsWith(`${BUCKET_COOKIE}=`)) };
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

test('canary by user: one sub lands on the same side across 200 requests with 200 different cookies (which alone would split)', async () => {
  await gateway.flip('app', { mode: 'canary', percent: 30 });
  const token = await userAccessToken(idp, 'user-on-many-devices');
  const cookies = Array.from({ length: 200 }, freshCookie);
  const withToken = new Set<string>();
  const cookieOnly = new Set<string>();
  await inBatches(cookies, 25, async (cookie) => {
    const signedIn = await visit(gateway, { token, cookie });
    withToken.add(signedIn.side);
    assert.equal(signedIn.setCookie, undefined, 'a visitor with a cookie gets no new one');
    cookieOnly.add((await visit(gateway, { cookie })).side);
  });
  assert.equal(withToken.size, 1, `the same user was served by ${[...withToken].join(' and ')}`);
  assert.deepEqual([...cookieOnly].sort(), ['legacy', 'new'], 'the same cookies without the token do split: the token decided');
  // Without any cookie the token still decides, and nothing needs a cookie set to stick.
  const bare = await visit(gateway, { token });
  assert.equal(bare.side, [...withToken][0]);
});

test('canary by user: the split over 2,000 users is within 3 points of the percentage; each sticks; raising it only moves users to new', async () => {
  await gateway.flip('app', { mode: 'canary', percent: 30 });
  const subs = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
  const tokens = new Map<string, string>();
  await inBatches(subs, 100, async (sub) => {
    tokens.set(sub, await userAccessToken(idp, sub));
  });
  const sideAt30 = new Map<string, string>();
  await inBatches(subs, 50, async (sub) => {
    sideAt30.set(sub, (await visit(gateway, { token: tokens.get(sub)!, cookie: freshCookie() })).side);
  });
  const onNew = [...sideAt30.values()].filter((s) => s === 'new').length;
  assert.ok(Math.abs(onNew / subs.length - 0.3) <= 0.03, `${onNew} of ${subs.length} users on new at 30%`);
  assert.equal([...sideAt30.values()].filter((s) => s !== 'new' && s !== 'legacy').length, 0);

  // Sticky per user (a sample of 100, each from a new device) and monotonic when raised.
  const sample = subs.slice(0, 100);
  await inBatches(sample, 50, async (sub) => {
    assert.equal((await visit(gateway, { token: tokens.get(sub)!, cookie: freshCookie() })).side, sideAt30.get(sub), sub);
  });
  await gateway.flip('app', { mode: 'canary', percent: 60 });
  let moved = 0;
  await inBatches(sample, 50, async (sub) => {
    const side = (await visit(gateway, { token: tokens.get(sub)! })).side;
    if (sideAt30.get(sub) === 'new') assert.equal(side, 'new', `${sub} went back to legacy when the canary grew`);
    else if (side === 'new') moved++;
  });
  assert.ok(moved > 0, 'raising the percentage moved some users to new');
});

test('canary by user: a bad token falls back to the cookie (or sets one), is counted, and never fails the request', async () => {
  await gateway.flip('app', { mode: 'canary', percent: 50 });
  const before = await gateway.metrics();
  const expired = await userAccessToken(idp, 'late-user', { expiredSecondsAgo: 300 });
  const valid = await userAccessToken(idp, 'tamper-target');
  const [h, p, s] = valid.split('.') as [string, string, string];
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString('utf8')), sub: 'someone-else' })).toString('base64url')}.${s}`;
  const bad = [expired, tampered, 'garbage', 'a.b.c'];
  const cookies = Array.from({ length: 40 }, freshCookie);
  for (const cookie of cookies) {
    const expected = (await visit(gateway, { cookie })).side;
    for (const token of bad) assert.equal((await visit(gateway, { token, cookie })).side, expected, 'a bad token: the cookie decides');
  }
  const first = await visit(gateway, { token: 'garbage' });
  assert.ok(first.setCookie, 'no cookie and a bad token: the visitor gets a bucket cookie as any anonymous one');
  const counted =
    sample(await gateway.metrics(), 'gateway_canary_token_rejected_total', { reason: 'invalid' }) -
    sample(before, 'gateway_canary_token_rejected_total', { reason: 'invalid' });
  assert.equal(counted, cookies.length * bad.length + 1);
});

test('canary by user: tokens are not even looked at outside a splitting canary', async () => {
  const before = sample(await gateway.metrics(), 'gateway_canary_token_rejected_total', { reason: 'invalid' });
  for (const state of [{ mode: 'legacy' }, { mode: 'idp' }, { mode: 'canary', percent: 0 }, { mode: 'canary', percent: 100 }]) {
    await gateway.flip('app', state);
    const res = await visit(gateway, { token: 'garbage', cookie: freshCookie() });
    assert.equal(res.side, state.mode === 'legacy' || state.percent === 0 ? 'legacy' : 'new', JSON.stringify(state));
  }
  assert.equal(sample(await gateway.metrics(), 'gateway_canary_token_rejected_total', { reason: 'invalid' }), before);
});

test('canary by user: with the idp out of reach for its keys, a valid token falls back to the cookie', async () => {
  const dark = await startTestGateway(routes(next.url), {
    LEGACY_UPSTREAM_URL: legacy.url,
    IDP_UPSTREAM_URL: 'http://127.0.0.1:9',
    GATEWAY_TOKEN_ISSUER: idp.issuer,
  });
  try {
    await dark.flip('app', { mode: 'canary', percent: 50 });
    const token = await clientCredentials(idp, 'gateway-ops', OPS_SECRET, 'gateway:admin');
    for (let i = 0; i < 10; i++) {
      const cookie = freshCookie();
      assert.equal((await visit(dark, { token, cookie })).side, (await visit(dark, { cookie })).side);
    }
    assert.ok(sample(await dark.metrics(), 'gateway_canary_token_rejected_total', { reason: 'unavailable' }) >= 10);
  } finally {
    await dark.stop();
  }
});

function upgradeSide(target: TestGateway, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${target.url}/ws`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(String(res.headers['x-served-by']));
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

test("canary by user: a WebSocket upgrade with a bearer token goes to the same side as that user's requests", async () => {
  await gateway.flip('app', { mode: 'canary', percent: 50 });
  const sides = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const token = await userAccessToken(idp, `ws-user-${i}`);
    const http = (await visit(gateway, { token, cookie: freshCookie() })).side;
    assert.equal(await upgradeSide(gateway, { authorization: `Bearer ${token}`, cookie: freshCookie() }), http, `ws-user-${i}`);
    sides.add(http);
  }
  assert.equal(sides.size, 2, 'the users are on both sides, so agreeing means something');
  // A bad token on an upgrade: the cookie decides (no cookie: legacy), and the tunnel still opens.
  assert.equal(await upgradeSide(gateway, { authorization: 'Bearer garbage' }), 'legacy');
});
