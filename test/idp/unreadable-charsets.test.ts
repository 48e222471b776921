// A form or JSON body in a charset the server cannot decode is the client's mistake: 415, never
// a 500, on every endpoint that parses a body (the idp's pages, its internal API, the provider's
// own endpoints, and the gateway's admin forms).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loadIdpConfig } from '../../idp/config.ts';
import { ADMIN_TOKEN, startTestGateway } from '../support/gateway.ts';
import { location, UserAgent } from '../../scripts/support/browser.ts';
import { closeSharedResources, NATIVE_REDIRECT, withIdp } from '../support/idp.ts';

after(closeSharedResources);

const FORM = 'application/x-www-form-urlencoded; charset=ebcdic-xyz';
const JSON_TYPE = 'application/json; charset=ebcdic-xyz';

async function post(agent: UserAgent, url: string, contentType: string, body: string, headers: Record<string, string> = {}) {
  const res = await agent.request(url, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

test('idp: a body in an unknown charset is 415 on our forms and internal API, never a 5xx anywhere', async (t) => {
  await withIdp(
    t,
    { db: 'sqlite', redis: false },
    async (idp) => {
      const agent = new UserAgent();
      const auth = new URL('/auth', idp.issuer);
      auth.search = new URLSearchParams({
        client_id: 'native-app',
        response_type: 'code',
        redirect_uri: NATIVE_REDIRECT,
        scope: 'openid',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
      }).toString();
      const toInteraction = await agent.request(auth);
      await toInteraction.body?.cancel();
      const interaction = location(toInteraction, auth.href).pathname;
      assert.match(interaction, /^\/interaction\/[^/]+$/);

      for (const path of [`${interaction}/login`, `${interaction}/confirm`, `${interaction}/abort`, '/account/password']) {
        const answer = await post(agent, `${idp.url}${path}`, FORM, 'identifier=alice&password=x');
        assert.equal(answer.status, 415, `${path}: ${answer.status}`);
        assert.match(answer.type, /^text\/html/, path);
        assert.match(answer.body, /The form could not be read/, path);
        assert.doesNotMatch(answer.body, /ebcdic|unsupported|Error:/i, `${path}: no internals`);
      }
      const check = await post(agent, `${idp.url}/internal/v1/login-check`, JSON_TYPE, '{"login":"a","password":"b"}', {
        authorization: `Bearer ${loadIdpConfig(idp.env).IDP_INTERNAL_SECRET}`,
      });
      assert.equal(check.status, 415, 'login-check');

      // oidc-provider's own endpoints read their bodies themselves: whatever they answer, it is not a server error.
      for (const path of ['/token', '/token/introspection', '/token/revocation', '/reg', '/session/end/confirm', '/auth', '/me']) {
        const answer = await post(agent, `${idp.url}${path}`, FORM, 'client_id=native-app&token=x');
        assert.ok(answer.status < 500, `${path}: ${answer.status} ${answer.body.slice(0, 200)}`);
      }
    },
    { realPages: true },
  );
});

test('gateway: the admin page and API refuse a body in an unknown charset with 415', async () => {
  const gateway = await startTestGateway('routes:\n  - { name: site, paths: ["/*"] }\n', {
    LEGACY_UPSTREAM_URL: 'http://127.0.0.1:9',
    IDP_UPSTREAM_URL: 'http://127.0.0.1:9',
  });
  try {
    const agent = new UserAgent();
    for (const path of ['/admin/login', '/admin/flip', '/admin/logout']) {
      const answer = await post(agent, `${gateway.url}${path}`, FORM, 'token=x');
      assert.equal(answer.status, 415, `${path}: ${answer.status}`);
    }
    const api = await post(agent, `${gateway.url}/admin/api/routes/site/flip`, JSON_TYPE, '{"mode":"legacy"}', { authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.equal(api.status, 415, `admin api: ${api.status}`);
  } finally {
    await gateway.stop();
  }
});
