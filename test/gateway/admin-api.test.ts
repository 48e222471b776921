import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { test } from 'node:test';
import { forEachDatabase } from '../../scripts/support/databases.ts';
import { repoRoot } from '../../scripts/support/processes.ts';
import { ADMIN_TOKEN, eventually, startTestGateway, startUpstream } from '../support/gateway.ts';
import { sample } from '../support/prometheus-text.ts';

const ROUTES = `
routes:
  - name: login
    paths: [/login.php]
  - name: app
    paths: ['/*']
    autoRollback: { errorRate: 0.5, windowSeconds: 30, minRequests: 10 }
`;

/** The CLI as ops run it: `node gateway/cli/routes.ts <args>` with the token in the environment. */
function runCli(url: string, args: string[], token = ADMIN_TOKEN): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['gateway/cli/routes.ts', ...args],
      { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', GATEWAY_ADMIN_URL: url, GATEWAY_ADMIN_TOKEN: token, USER: 'ops-tester' }, timeout: 20_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      },
    );
  });
}

test('admin API: every call wants the admin token; without it 401, and nothing changes', async () => {
  const legacy = await startUpstream('legacy');
  const gateway = await startTestGateway(ROUTES, { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: legacy.url });
  try {
    for (const token of ['', 'wrong-token', ADMIN_TOKEN.slice(0, -1)]) {
      for (const [method, path, body] of [
        ['GET', '/routes'],
        ['GET', '/routes/app'],
        ['PUT', '/routes/app/flag', { mode: 'idp', reason: 'no token' }],
        ['POST', '/routes/app/flip', { mode: 'idp', reason: 'no token' }],
        ['GET', '/audit'],
      ] as const) {
        const res = await gateway.admin(method, path, body, token);
        assert.equal(res.status, 401, `${method} ${path} with token "${token}"`);
        assert.equal(res.json.error, 'unauthorized');
      }
    }
    const page = await fetch(`${gateway.url}/admin`);
    assert.equal(page.status, 401, 'the admin page without a session');
    assert.match(await page.text(), /id="login-form"/);
    const pageFlip = await fetch(`${gateway.url}/admin/flip`, { method: 'POST', body: new URLSearchParams({ route: 'app', mode: 'idp', reason: 'sneaky' }) });
    assert.equal(pageFlip.status, 401);
    await pageFlip.text();
    assert.equal((await gateway.admin('GET', '/routes/app')).json.mode, 'legacy');
    assert.deepEqual((await gateway.admin('GET', '/audit')).json.entries, []);
  } finally {
    await gateway.stop();
    await legacy.close();
  }
});

test('admin API: nonsense is refused with a clear 400 (or 404 for an unknown route)', async () => {
  const legacy = await startUpstream('legacy');
  const gateway = await startTestGateway(ROUTES, { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: legacy.url });
  try {
    const refused: Array<[unknown, RegExp]> = [
      [{ mode: 'sideways', reason: 'because' }, /mode must be one of legacy, idp, canary, shadow/],
      [{ mode: 'canary', percent: 101, reason: 'because' }, /percent: must be at most 100/],
      [{ mode: 'canary', percent: '25', reason: 'because' }, /percent: must be a whole number/],
      [{ mode: 'canary', percent: 12.5, reason: 'because' }, /percent: must be a whole number/],
      [{ mode: 'canary', reason: 'because' }, /percent/],
      [{ mode: 'idp' }, /reason: a reason is required/],
      [{ mode: 'idp', reason: '  ' }, /reason: a reason is required/],
      [{ mode: 'idp', reason: 'x'.repeat(1001) }, /reason: must be at most 1000/],
      [['idp'], /body/],
    ];
    for (const [body, message] of refused) {
      const res = await gateway.admin('PUT', '/routes/app/flag', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error, 'invalid_request');
      assert.match(res.json.problems.join('\n'), message, JSON.stringify(body));
      assert.ok(res.json.request_id);
    }
    const badJson = await fetch(`${gateway.url}/admin/api/routes/app/flag`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"mode": ',
    });
    assert.equal(badJson.status, 400);
    assert.equal(((await badJson.json()) as { error: string }).error, 'invalid_json');
    const unknown = await gateway.admin('PUT', '/routes/nope/flag', { mode: 'idp', reason: 'because' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error, 'unknown_route');
    assert.equal((await gateway.admin('GET', '/audit?limit=9999')).status, 400);
    assert.equal((await gateway.admin('GET', '/routes/app')).json.mode, 'legacy', 'nothing changed');
  } finally {
    await gateway.stop();
    await legacy.close();
  }
});

test('flips are audited in the database (who, when, route, from, to, why), and the CLI drives the same API', async (t) => {
  await forEachDatabase(t, async (st, db) => {
    const legacy = await startUpstream('legacy');
    const gateway = await startTestGateway(ROUTES, { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: legacy.url, DATABASE_URL: db.url });
    try {
      const started = Date.now();
      const flipped = await gateway.admin('PUT', '/routes/login/flag', { mode: 'canary', percent: 5, reason: 'first 5% of logins', actor: 'alice' });
      assert.equal(flipped.status, 200);
      assert.deepEqual(flipped.json, { route: 'login', from: { mode: 'legacy' }, to: { mode: 'canary', percent: 5 } });
      const second = await gateway.admin('POST', '/routes/login/flip', { mode: 'shadow', reason: 'compare first' });
      assert.deepEqual(second.json.from, { mode: 'canary', percent: 5 });

      // The CLI, exactly as the README shows it.
      const run = (args: string[], token = ADMIN_TOKEN) => runCli(gateway.url, args, token);
      const listed = await run(['list']);
      assert.equal(listed.code, 0, listed.out);
      assert.match(listed.out, /^login\s+shadow\s+legacy 0, new 0/m);
      assert.match(listed.out, /^app\s+legacy\s+.*\(default: flag missing\)/m);
      const cliFlip = await run(['flip', 'app', 'canary', '--percent', '20', '--reason', 'canary the site at 20%']);
      assert.equal(cliFlip.code, 0, cliFlip.out);
      assert.match(cliFlip.out, /app: legacy -> canary 20%/);
      const refused = await run(['flip', 'app', 'canary', '--percent', '120', '--reason', 'too far']);
      assert.equal(refused.code, 1);
      assert.match(refused.out, /refused \(400 invalid_request\):\n\s+percent: must be at most 100/);
      assert.equal((await run(['flip', 'app', 'idp'])).code, 2, 'a flip without --reason is a usage error');
      const wrongToken = await run(['list'], 'not-the-token');
      assert.equal(wrongToken.code, 1);
      assert.match(wrongToken.out, /refused \(401 unauthorized\)/);
      const audit = await run(['audit', '--route', 'app']);
      assert.equal(audit.code, 0, audit.out);
      assert.match(audit.out, /app\s+legacy -> canary 20%\s+by ops-tester@.* \(cli\) \(api\): canary the site at 20%/);

      const entries = (await gateway.admin('GET', '/audit')).json.entries as Array<Record<string, unknown>>;
      assert.equal(entries.length, 3);
      assert.deepEqual(
        entries.map(({ actor, via, route, from, to, reason }) => ({ actor, via, route, from, to, reason })),
        [
          {
            actor: entries[0]!.actor,
            via: 'api',
            route: 'app',
            from: { mode: 'legacy' },
            to: { mode: 'canary', percent: 20 },
            reason: 'canary the site at 20%',
          },
          { actor: 'admin-api', via: 'api', route: 'login', from: { mode: 'canary', percent: 5 }, to: { mode: 'shadow' }, reason: 'compare first' },
          { actor: 'alice', via: 'api', route: 'login', from: { mode: 'legacy' }, to: { mode: 'canary', percent: 5 }, reason: 'first 5% of logins' },
        ],
      );
      for (const e of entries) {
        const at = Date.parse(String(e.at));
        assert.ok(at >= started - 1_000 && at <= Date.now() + 1_000, `audit time ${e.at}`);
      }
      assert.deepEqual(
        (await gateway.admin('GET', '/audit?route=login&limit=1')).json.entries.map((e: { reason: string }) => e.reason),
        ['compare first'],
      );

      // Its own migrations table: the gateway shares DATABASE_URL with the idp in the embedded mode.
      assert.equal(await db.knex.schema.hasTable('gateway_migrations'), true);
      assert.equal(await db.knex.schema.hasTable('knex_migrations'), false);
      const rows = await db.knex('gateway_audit').select('actor', 'route', 'from_state', 'to_state', 'reason').orderBy('id');
      assert.equal(rows.length, 3);
      assert.equal(rows[0].from_state, '{"mode":"legacy"}');
      st.diagnostic(`${db.kind}: ${rows.length} audit rows`);
    } finally {
      await gateway.stop();
      await legacy.close();
    }
  });
});

test('automatic rollback: a canary whose new side answers too many 5xx goes back to legacy, and the audit log says why', async () => {
  const legacy = await startUpstream('legacy');
  const broken = await startUpstream('new', (_req, res) => {
    res.statusCode = 500;
    res.end('boom');
  });
  const gateway = await startTestGateway(ROUTES, { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: broken.url });
  try {
    await gateway.flip('app', { mode: 'canary', percent: 100 }, 'try the new site');
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) {
      const res = await fetch(`${gateway.url}/p${i}`);
      statuses.push(res.status);
      await res.text();
    }
    assert.deepEqual(new Set(statuses), new Set([500]), 'below minRequests nothing is decided');
    assert.equal((await gateway.admin('GET', '/routes/app')).json.mode, 'canary');
    const tenth = await fetch(`${gateway.url}/p9`);
    await tenth.text();
    assert.ok(await eventually(async () => (await gateway.admin('GET', '/routes/app')).json.mode === 'legacy', 3_000), 'rolled back');
    const after = await fetch(`${gateway.url}/after`);
    assert.equal(after.headers.get('x-served-by'), 'legacy');
    await after.text();
    const [entry] = (await gateway.admin('GET', '/audit?route=app')).json.entries;
    assert.equal(entry.actor, 'auto-rollback');
    assert.equal(entry.via, 'auto-rollback');
    assert.deepEqual(entry.from, { mode: 'canary', percent: 100 });
    assert.deepEqual(entry.to, { mode: 'legacy' });
    assert.match(entry.reason, /new side answered 5xx to 10 of 10 requests \(100%\) in the last 30 s, over the 50% threshold/);
    assert.equal(sample(await gateway.metrics(), 'gateway_auto_rollbacks_total', { route: 'app' }), 1);
  } finally {
    await gateway.stop();
    await Promise.all([legacy.close(), broken.close()]);
  }
});

/** A POST that announces 100 bytes, sends 7 and stalls; resolves with the gateway's answer head. */
function stalledPost(base: string, path: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`POST ${path} HTTP/1.1\r\nHost: site.example\r\nContent-Length: 100\r\n\r\npartial`));
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.destroy();
      resolve(received.slice(0, end));
    });
    socket.on('error', reject);
  });
}

test('automatic rollback: clients that never finish their body get a 408 and do not count; a silent upstream does', async () => {
  const legacy = await startUpstream('legacy');
  const hung: import('node:http').ServerResponse[] = [];
  // The new side waits for whole bodies (as PHP does); /hang never answers at all.
  const next = await startUpstream('new', (req, res) => {
    if (req.url === '/hang') return void hung.push(res);
    res.end('ok');
  });
  const gateway = await startTestGateway(ROUTES, { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: next.url, UPSTREAM_TIMEOUT_MS: '300' });
  try {
    await gateway.flip('app', { mode: 'canary', percent: 100 }, 'try the new site');
    const heads = await Promise.all(Array.from({ length: 15 }, (_, i) => stalledPost(gateway.url, `/form${i}`)));
    for (const head of heads) {
      assert.match(head, /^HTTP\/1\.1 408 /, head);
      assert.match(head, /\r\nconnection: close/i, 'the rest of the body may still come: the connection is closed');
    }
    assert.equal((await gateway.admin('GET', '/routes/app')).json.mode, 'canary', 'stalled clients rolled the route back');
    assert.equal(sample(await gateway.metrics(), 'gateway_auto_rollbacks_total', { route: 'app' }), 0);

    // The same window still judges the upstream: ten of its own timeouts roll the route back.
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${gateway.url}/hang`, { method: 'POST', body: 'complete' });
      assert.equal(res.status, 504);
      await res.text();
    }
    assert.ok(await eventually(async () => (await gateway.admin('GET', '/routes/app')).json.mode === 'legacy', 3_000), 'rolled back');
    const [entry] = (await gateway.admin('GET', '/audit?route=app')).json.entries;
    assert.match(entry.reason, /new side answered 5xx to 10 of 10 requests/);
  } finally {
    for (const res of hung) res.destroy();
    await gateway.stop();
    await Promise.all([legacy.close(), next.close()]);
  }
});
