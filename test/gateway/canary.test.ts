import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BUCKET_COOKIE } from '../../gateway/canary.ts';
import { startTestGateway, startUpstream, type TaggedUpstream, type TestGateway } from './helpers.ts';

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
