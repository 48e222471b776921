// The gateway's database (the audit log) goes silent: a flip is refused with 503
// audit_log_unavailable by GATEWAY_DATABASE_TIMEOUT_MS and leaves the route as it was (no flip
// without its audit row), instead of waiting for ever on a pooled connection; once the database
// answers again flips work at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestGateway } from '../support/gateway.ts';
import { withSilenceableDatabase } from '../support/silent-database.ts';

test("the gateway's database silent: a flip is refused with 503 by the deadline and changes nothing; flips work again once it is back", async (t) => {
  await withSilenceableDatabase(t, 'idm_gateway_deadline', async ({ viaProxy, whileSilent }) => {
    const gateway = await startTestGateway('routes:\n  - { name: app, paths: ["/*"] }\n', { DATABASE_URL: viaProxy, GATEWAY_DATABASE_TIMEOUT_MS: '2000' });
    try {
      // The pool now holds a connection through the proxy.
      assert.equal((await gateway.admin('PUT', '/routes/app/flag', { mode: 'idp', reason: 'before the outage' })).status, 200);

      const refused = await whileSilent(() => gateway.admin('PUT', '/routes/app/flag', { mode: 'legacy', reason: 'during the outage' }));
      assert.equal(refused.status, 503, JSON.stringify(refused.json));
      assert.equal(refused.json.error, 'audit_log_unavailable');
      assert.equal((await gateway.admin('GET', '/routes/app')).json.mode, 'idp', 'a flip the audit log could not record did not happen');

      assert.equal((await gateway.admin('PUT', '/routes/app/flag', { mode: 'legacy', reason: 'after the outage' })).status, 200);
      assert.equal((await gateway.admin('GET', '/routes/app')).json.mode, 'legacy');
    } finally {
      await gateway.stop();
    }
  });
});
