// Every answer carries exactly one X-Request-Id: the idp's own, the legacy-adapter's, and the
// idp's pages and endpoints as the gateway relays them (the gateway's id is the one the idp
// received and echoed, so the upstream's copy is redundant).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, test } from 'node:test';
import { startTestGateway } from '../support/gateway.ts';
import { startAdapter } from '../../scripts/support/legacy-adapter.ts';
import { createSqliteDatabase } from '../../scripts/support/databases.ts';
import { closeSharedResources, withIdp } from '../support/idp.ts';

after(closeSharedResources);

/** The values of X-Request-Id in an answer, as sent (node's fetch would join duplicates into one). */
function requestIds(url: string, headers: Record<string, string> = {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      res.resume();
      const ids: string[] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i]!.toLowerCase() === 'x-request-id') ids.push(res.rawHeaders[i + 1]!);
      resolve(ids);
    });
    req.on('error', reject);
    req.end();
  });
}

test('the idp through the gateway: one X-Request-Id, on the hot path and the ordinary one', async (t) => {
  await withIdp(t, { db: 'sqlite', redis: false }, async (idp) => {
    // The legacy side is the idp too, so that a shadowed route (the ordinary path) is also served by it.
    const gateway = await startTestGateway(
      'routes:\n  - { name: oidc, paths: ["/.well-known/*"], default: idp }\n  - { name: keys, paths: [/jwks], default: shadow }\n  - { name: site, paths: ["/*"] }\n',
      { LEGACY_UPSTREAM_URL: idp.url, IDP_UPSTREAM_URL: idp.url },
    );
    try {
      for (const path of ['/.well-known/openid-configuration', '/jwks']) {
        const made = await requestIds(`${gateway.url}${path}`);
        assert.equal(made.length, 1, `${path}: ${made.join(' | ')}`);
        const kept = await requestIds(`${gateway.url}${path}`, { 'x-request-id': 'trace-0123456789' });
        assert.deepEqual(kept, ['trace-0123456789'], path);
      }
      assert.equal((await requestIds(`${idp.url}/.well-known/openid-configuration`)).length, 1, 'the idp itself');
    } finally {
      await gateway.stop();
    }
  });
});

test('the legacy-adapter answers with one X-Request-Id', async () => {
  const db = await createSqliteDatabase();
  const adapter = await startAdapter(db.url);
  try {
    for (const path of ['/healthz', '/internal/v1/users/lookup', '/nothing']) assert.equal((await requestIds(`${adapter.url}${path}`)).length, 1, path);
  } finally {
    await adapter.stop();
    await db.drop();
  }
});
