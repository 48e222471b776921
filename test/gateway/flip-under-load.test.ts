import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { BUCKET_COOKIE, bucketOf, goesToNewSide } from '../../gateway/canary.ts';
import type { FlagState } from '../../gateway/flags/state.ts';
import { startTestGateway, startUpstream, type TaggedUpstream, type TestGateway } from '../support/gateway.ts';

const LOAD_SECONDS = 21;
const CLIENTS = 16;

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

interface Flip {
  state: FlagState;
  /** Before the flip call was made, and after it returned: the flip took effect in between. */
  requested: number;
  applied: number;
}

interface Sample {
  client: number;
  sent: number;
  received: number;
  status: number;
  side: string;
}

function allows(state: FlagState, side: string, bucket: number): boolean {
  switch (state.mode) {
    case 'legacy':
    case 'shadow':
      return side === 'legacy';
    case 'idp':
      return side === 'new';
    case 'canary':
      return side === (goesToNewSide(bucket, state.percent) ? 'new' : 'legacy');
  }
}

test(`a route flips legacy, canary, idp, shadow and back under ${LOAD_SECONDS} s of load: no request fails, each answer comes from the side the flag named then`, async () => {
  const flips: Flip[] = [{ state: { mode: 'legacy' }, requested: 0, applied: 0 }];
  const samples: Sample[] = [];
  const failures: string[] = [];
  const cookies: string[] = [];
  const buckets: number[] = [];
  // Each client is a browser with its own bucket cookie, handed out by the gateway on its first visit.
  await gateway.flip('app', { mode: 'canary', percent: 50 });
  for (let c = 0; c < CLIENTS; c++) {
    const res = await fetch(`${gateway.url}/warmup`);
    await res.text();
    const cookie = res.headers
      .getSetCookie()
      .find((s) => s.startsWith(`${BUCKET_COOKIE}=`))
      ?.split(';')[0];
    assert.ok(cookie);
    cookies.push(cookie);
    // The value is `<id>.<signature>`; the id picks the bucket.
    buckets.push(bucketOf(cookie.slice(BUCKET_COOKIE.length + 1).split('.')[0]!));
  }
  await gateway.flip('app', { mode: 'legacy' });
  flips[0]!.applied = performance.now();

  const stopAt = performance.now() + LOAD_SECONDS * 1000;
  const load = Array.from({ length: CLIENTS }, async (_, client) => {
    let n = 0;
    while (performance.now() < stopAt) {
      const sent = performance.now();
      try {
        const res = await fetch(`${gateway.url}/load/${client}/${n++}`, { headers: { cookie: cookies[client]! } });
        const body = await res.text();
        const received = performance.now();
        const side = res.headers.get('x-served-by') ?? 'none';
        if (res.status !== 200 || body !== `${side} /load/${client}/${n - 1}`) failures.push(`client ${client}: ${res.status} ${body.slice(0, 100)}`);
        samples.push({ client, sent, received, status: res.status, side });
      } catch (error) {
        failures.push(`client ${client}: ${(error as Error).message}`);
      }
    }
  });

  const plan: FlagState[] = [
    { mode: 'canary', percent: 10 },
    { mode: 'canary', percent: 50 },
    { mode: 'idp' },
    { mode: 'legacy' },
    { mode: 'shadow' },
    { mode: 'canary', percent: 90 },
    { mode: 'idp' },
    { mode: 'legacy' },
  ];
  let step = 0;
  while (performance.now() < stopAt - 1_000) {
    await new Promise((r) => setTimeout(r, 1_000));
    const state = plan[step++ % plan.length]!;
    const requested = performance.now();
    await gateway.flip('app', state, `flip under load, step ${step}`);
    flips.push({ state, requested, applied: performance.now() });
  }
  await Promise.all(load);

  assert.deepEqual(failures, [], 'no request failed');
  assert.ok(flips.length >= 16, `${flips.length - 1} flips`);
  assert.ok(samples.length > 2_000, `only ${samples.length} requests`);

  const wrong: string[] = [];
  let unambiguous = 0;
  for (const s of samples) {
    // States that may have been in force at some point while this request was in flight.
    const possible = flips.filter((f, i) => {
      const from = f.requested;
      const until = flips[i + 1]?.applied ?? Infinity;
      return from <= s.received && until >= s.sent;
    });
    if (possible.length === 1) unambiguous++;
    if (!possible.some((f) => allows(f.state, s.side, buckets[s.client]!))) {
      wrong.push(`client ${s.client} got ${s.side} while the flag was ${possible.map((f) => JSON.stringify(f.state)).join(' or ')}`);
    }
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} responses came from the wrong side`);
  assert.ok(unambiguous > samples.length * 0.8, 'most requests fell inside one flag state (the check has teeth)');
  const sides = new Set(samples.map((s) => s.side));
  assert.deepEqual([...sides].sort(), ['legacy', 'new']);

  const audit = await gateway.admin('GET', '/audit?limit=500');
  assert.equal(audit.status, 200);
  assert.ok(audit.json.entries.filter((e: { reason: string }) => e.reason.startsWith('flip under load')).length === flips.length - 1);
});
