import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { BUCKET_COOKIE, bucketOf, createBucketCookies, goesToNewSide } from '../../gateway/canary.ts';
import { startTestGateway, startUpstream, testBuckets, type TaggedUpstream, type TestGateway } from '../support/gateway.ts';

let legacy: TaggedUpstream;
let next: TaggedUpstream;
let gateway: TestGateway;

before(async () => {
  legacy = await startUpstream('legacy');
  next = await startUpstream('new');
  gateway = await startTestGateway('routes:\n  - { name: app, paths: ["/*"] }\n', { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: next.url });
});

after(async () => {
  await gateway?.stop();
  await Promise.all([legacy?.close(), next?.close()]);
});

interface Visitor {
  cookie?: string;
  side?: string;
}

async function visit(visitor: Visitor): Promise<string> {
  const res = await fetch(`${gateway.url}/page`, { headers: visitor.cookie ? { cookie: `other=1; ${visitor.cookie}` } : {} });
  await res.text();
  const set = res.headers.getSetCookie().find((c) => c.startsWith(`${BUCKET_COOKIE}=`));
  if (set) {
    assert.equal(visitor.cookie, undefined, 'a visitor with a bucket cookie never gets a new one');
    assert.match(set, /; Max-Age=\d{7,}; HttpOnly; SameSite=Lax/);
    visitor.cookie = set.split(';')[0];
  }
  return res.headers.get('x-served-by') ?? 'none';
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

test('canary: 1,000 browsers stick to their side, the split is within a few percent, raising it only moves users to new', async () => {
  const visitors: Visitor[] = Array.from({ length: 1000 }, () => ({}));
  await gateway.flip('app', { mode: 'canary', percent: 30 });

  await inBatches(visitors, 50, async (v) => {
    v.side = await visit(v);
    assert.ok(v.cookie, 'the first visit sets the bucket cookie');
    // Sticky: the same browser lands on the same side every time.
    for (let i = 0; i < 2; i++) assert.equal(await visit(v), v.side);
  });
  const atThirty = visitors.filter((v) => v.side === 'new').length;
  assert.ok(Math.abs(atThirty / 1000 - 0.3) <= 0.05, `30% canary sent ${atThirty / 10}% to the new side`);
  assert.ok(visitors.every((v) => v.side === 'new' || v.side === 'legacy'));

  await gateway.flip('app', { mode: 'canary', percent: 60 });
  let moved = 0;
  await inBatches(visitors, 50, async (v) => {
    const side = await visit(v);
    if (v.side === 'new') assert.equal(side, 'new', 'raising the percentage moved a user back to legacy');
    else if (side === 'new') moved++;
    v.side = side;
    assert.equal(await visit(v), side);
  });
  const atSixty = visitors.filter((v) => v.side === 'new').length;
  assert.ok(Math.abs(atSixty / 1000 - 0.6) <= 0.05, `60% canary sent ${atSixty / 10}% to the new side`);
  assert.equal(atSixty, atThirty + moved);
  assert.ok(moved > 0);

  // A visitor without cookies (a script) is still split, and gets a cookie each time.
  const anonymous = new Set<string>();
  for (let i = 0; i < 60; i++) anonymous.add(await visit({}));
  assert.deepEqual([...anonymous].sort(), ['legacy', 'new']);
});

test('canary: a malformed bucket cookie is replaced, not trusted', async () => {
  await gateway.flip('app', { mode: 'canary', percent: 50 });
  const res = await fetch(`${gateway.url}/page`, { headers: { cookie: `${BUCKET_COOKIE}=x;y` } });
  await res.text();
  assert.ok(res.headers.getSetCookie().some((c) => c.startsWith(`${BUCKET_COOKIE}=`)));
});

test('canary: the client cannot choose its side: an unsigned, forged or re-signed bucket cookie gets a fresh bucket', async () => {
  await gateway.flip('app', { mode: 'canary', percent: 5 });
  // Ids a client would pick: buckets well inside the 5% that goes new.
  const wanted: string[] = [];
  while (wanted.length < 30) {
    const id = randomBytes(16).toString('base64url');
    if (goesToNewSide(bucketOf(id), 1)) wanted.push(id);
  }
  const otherKey = createBucketCookies('another-gateway-secret-0123456789abcdef');
  const signedHere = testBuckets.value(wanted[0]!);
  const forgeries = [
    ...wanted.map((id) => id),
    ...wanted.map((id) => `${id}.${'A'.repeat(43)}`),
    ...wanted.map((id) => otherKey.value(id)),
    // A genuine signature moved to another id.
    ...wanted.slice(1).map((id) => `${id}.${signedHere.split('.')[1]}`),
  ];
  for (const value of forgeries) {
    const res = await fetch(`${gateway.url}/page`, { headers: { cookie: `${BUCKET_COOKIE}=${value}` } });
    await res.text();
    const set = res.headers.getSetCookie().find((c) => c.startsWith(`${BUCKET_COOKIE}=`));
    assert.ok(set, `the forged cookie ${value.slice(0, 12)}... was believed`);
    // The side is the fresh id's, not the one the client asked for.
    const fresh = set.split(';')[0]!.slice(BUCKET_COOKIE.length + 1);
    const id = testBuckets.read(`${BUCKET_COOKIE}=${fresh}`);
    assert.ok(id, 'the gateway hands out cookies it can verify');
    assert.equal(res.headers.get('x-served-by'), goesToNewSide(bucketOf(id), 5) ? 'new' : 'legacy');
  }
  // The genuine cookie for the same id is believed: it sticks, and sets nothing.
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${gateway.url}/page`, { headers: { cookie: `${BUCKET_COOKIE}=${signedHere}` } });
    await res.text();
    assert.equal(res.headers.get('x-served-by'), 'new');
    assert.equal(res.headers.getSetCookie().length, 0);
  }
});

test('canary: behind a TLS load balancer (its X-Forwarded-Proto: https, trusted) the bucket cookie is Secure, on the hot and the ordinary path', async () => {
  await gateway.flip('app', { mode: 'canary', percent: 50 });
  const bucketCookie = async (headers: Record<string, string>) => {
    const res = await fetch(`${gateway.url}/page`, { headers });
    await res.text();
    return res.headers.getSetCookie().find((c) => c.startsWith(`${BUCKET_COOKIE}=`)) ?? '';
  };
  // A bearer token on a split canary takes the ordinary path (it is verified first; this one
  // fails, and the cookie decides).
  for (const extra of [{}, { authorization: 'Bearer not-a-token' }] as Record<string, string>[]) {
    assert.match(await bucketCookie({ 'x-forwarded-proto': 'https', ...extra }), /; Secure$/, JSON.stringify(extra));
    assert.doesNotMatch(await bucketCookie({ 'x-forwarded-proto': 'http', ...extra }), /Secure/, JSON.stringify(extra));
    assert.doesNotMatch(await bucketCookie(extra), /Secure/, JSON.stringify(extra));
  }
});
