// Dual-write end to end: a legacy user signs in through the idp (JIT import), changes the
// password there, and the sample PHP monolith then takes the new password and refuses the old
// one; with the legacy-adapter down the event waits, counted, and goes once it is back.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as oidc from 'openid-client';
import { hashPassword } from '../../lib/passwords/index.ts';
import type { RunningService } from '../../lib/service.ts';
import { authorize, UserAgent } from '../../scripts/support/browser.ts';
import { closeSharedResources, NATIVE_REDIRECT, withIdp, type Storage, type TestIdp } from '../support/idp.ts';
import { ADAPTER_SECRET, startAdapter } from '../../scripts/support/legacy-adapter.ts';
import {
  LEGACY_DEMO_PASSWORD,
  LegacyBrowser,
  legacyKnex,
  legacyPhpUnavailableReason,
  startLegacyPhp,
  type LegacyPhp,
} from '../../scripts/support/legacy-php.ts';
import { freePort } from '../../scripts/support/processes.ts';
import { sample } from '../support/prometheus-text.ts';

after(closeSharedResources);
const insecure = { execute: [oidc.allowInsecureRequests] };
const NEW_PASSWORD = 'a password chosen in the idp';

interface OutboxRow {
  status: string;
  attempts: number;
  last_error: string | null;
  legacy_id: string;
  legacy_hash: string | null;
}

async function signIn(idp: TestIdp, username: string, password: string): Promise<UserAgent> {
  const config = await oidc.discovery(new URL(idp.issuer), 'native-app', {}, oidc.None(), insecure);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: NATIVE_REDIRECT,
    scope: 'openid',
    state: 's',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const agent = new UserAgent();
  await authorize(agent, url, NATIVE_REDIRECT, { username, password });
  return agent;
}

async function changePassword(idp: TestIdp, agent: UserAgent, current: string, next: string): Promise<number> {
  const page = await (await agent.request(`${idp.url}/account/password`)).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  assert.ok(csrf, 'signed in: the password form');
  const response = await agent.request(`${idp.url}/account/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ 'current-password': current, 'new-password': next, 'confirm-password': next, csrf }),
  });
  await response.text();
  return response.status;
}

const outboxRows = async (idp: TestIdp): Promise<OutboxRow[]> => (await idp.db.knex('legacy_outbox').orderBy('id')) as OutboxRow[];

/** Polls until `check` holds (the relay works in the background); fails with the last state after a generous deadline. */
async function eventually<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  let value = await read();
  while (!check(value)) {
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

const metricsOf = async (idp: TestIdp) => (await fetch(`${idp.opsUrl}/metrics`)).text();

for (const storage of [
  { db: 'mysql', redis: false },
  { db: 'sqlite', redis: false },
] satisfies Storage[]) {
  test(`${storage.db}: a password changed in the idp reaches the PHP monolith, also after the legacy-adapter was down`, async (t) => {
    const reason = await legacyPhpUnavailableReason({ db: storage.db });
    if (reason) {
      console.warn(`SKIPPED: dual-write end to end on ${storage.db}: ${reason}`);
      return t.skip(reason);
    }
    const php: LegacyPhp = await startLegacyPhp({ db: storage.db });
    const adapterPort = String(await freePort());
    let adapter: RunningService | undefined = await startAdapter(php.db.url, undefined, { LEGACY_ADAPTER_PORT: adapterPort });
    try {
      const env = {
        LEGACY_ADAPTER_URL: adapter.url,
        LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
        IDP_DUAL_WRITE_BCRYPT_COST: '4',
        IDP_DUAL_WRITE_POLL_MS: '50',
        IDP_DUAL_WRITE_RETRY_BASE_MS: '20',
        IDP_DUAL_WRITE_RETRY_MAX_MS: '100',
      };
      await withIdp(
        t,
        storage,
        async (idp) => {
          // erin (phpass on the legacy side) is imported just in time by her first idp login.
          const agent = await signIn(idp, 'erin', LEGACY_DEMO_PASSWORD);
          const erin = (await idp.db.knex('users').where({ username: 'erin' }).first('id', 'legacy_id')) as { id: string; legacy_id: string };
          assert.ok(erin.legacy_id, 'linked to her legacy id');

          // The adapter goes away; the change still succeeds in the idp and waits in the outbox.
          await adapter!.stop();
          adapter = undefined;
          assert.equal(await changePassword(idp, agent, LEGACY_DEMO_PASSWORD, NEW_PASSWORD), 200);
          const [pending] = await eventually(
            'failed attempts are counted',
            () => outboxRows(idp),
            (rows) => (rows[0]?.attempts ?? 0) >= 2,
          );
          assert.equal(pending!.status, 'pending');
          assert.equal(pending!.legacy_id, erin.legacy_id);
          assert.equal(pending!.last_error, 'unreachable');
          assert.match(pending!.legacy_hash ?? '', /^\$2y\$04\$/, 'the legacy form: $2y$ bcrypt');
          let metrics = await metricsOf(idp);
          assert.equal(sample(metrics, 'idp_dual_write_events_written_total', {}), 1);
          assert.ok(sample(metrics, 'idp_dual_write_attempts_failed_total', { reason: 'unreachable' }) >= 2);
          assert.equal(sample(metrics, 'idp_dual_write_backlog', {}), 1);
          assert.ok(sample(metrics, 'idp_dual_write_lag_seconds', {}) > 0);
          // Meanwhile the monolith still has the old password.
          assert.equal((await new LegacyBrowser(php.url).login('erin', LEGACY_DEMO_PASSWORD)).status, 302);

          // The adapter is back: the event goes, the hash leaves the idp's database.
          adapter = await startAdapter(php.db.url, undefined, { LEGACY_ADAPTER_PORT: adapterPort });
          const [relayed] = await eventually(
            'relayed once the adapter is back',
            () => outboxRows(idp),
            (rows) => rows[0]?.status === 'relayed',
          );
          assert.equal(relayed!.legacy_hash, null, 'erased once relayed');
          metrics = await metricsOf(idp);
          assert.equal(sample(metrics, 'idp_dual_write_events_relayed_total', { result: 'applied' }), 1);
          assert.equal(sample(metrics, 'idp_dual_write_backlog', {}), 0);
          assert.equal(sample(metrics, 'idp_dual_write_lag_seconds', {}), 0);

          // The PHP monolith: the new password in, the old one out.
          const accepted = await new LegacyBrowser(php.url).login('erin', NEW_PASSWORD);
          assert.equal(accepted.status, 302);
          assert.match(accepted.location?.pathname ?? '', /account\.php$/);
          const refused = await new LegacyBrowser(php.url).login('erin', LEGACY_DEMO_PASSWORD);
          assert.notEqual(refused.status, 302, 'the old password no longer signs in on the monolith');
          const legacy = legacyKnex(php);
          try {
            const row = (await legacy('users').where({ user_login: 'erin' }).first('user_pass', 'user_salt', 'updated_at')) as {
              user_pass: string;
              user_salt: unknown;
              updated_at: unknown;
            };
            assert.match(row.user_pass, /^\$2y\$04\$/);
            assert.equal(row.user_salt, null);
            assert.notEqual(row.updated_at, null);
          } finally {
            await legacy.destroy();
          }
          // The idp took note of the legacy hash it wrote (the batch migration's delta pass sees no change).
          const fingerprint = (await idp.db.knex('users').where({ id: erin.id }).first('legacy_fingerprint')) as { legacy_fingerprint: string | null };
          assert.match(fingerprint.legacy_fingerprint ?? '', /^v1\./);
          // And the outbox keeps it, so a delta that read the row before this write landed knows the hash for the idp's own.
          const [event] = (await idp.db.knex('legacy_outbox').select('legacy_fingerprint')) as { legacy_fingerprint: string | null }[];
          assert.equal(event!.legacy_fingerprint, fingerprint.legacy_fingerprint);
          assert.ok(sample(await (await fetch(`${adapter.opsUrl}/metrics`)).text(), 'legacy_adapter_password_writes_total', { result: 'applied' }) >= 1);

          // A user of the idp alone (no legacy link) changes the password: no outbox row.
          await idp.db.knex('users').insert({
            id: 'idp-only-user',
            username: 'zoe',
            username_normalized: 'zoe',
            email: 'zoe@example.test',
            email_normalized: 'zoe@example.test',
            name: 'Zoe',
            password_hash: await hashPassword(LEGACY_DEMO_PASSWORD, { iterations: 20_000, keyLength: 32, saltLength: 16 }),
            password_scheme: 'pbkdf2-sha256',
          });
          const zoe = await signIn(idp, 'zoe', LEGACY_DEMO_PASSWORD);
          assert.equal(await changePassword(idp, zoe, LEGACY_DEMO_PASSWORD, NEW_PASSWORD), 200);
          assert.equal((await outboxRows(idp)).length, 1, "still only erin's event");
          assert.equal(sample(await metricsOf(idp), 'idp_dual_write_events_written_total', {}), 1);
        },
        { env },
      );
    } finally {
      await adapter?.stop();
      await php.stop();
    }
  });
}
