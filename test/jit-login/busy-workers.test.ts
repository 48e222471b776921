// Password worker threads all busy and their queue full: a legacy login is answered "busy, try
// again" (503), which the idp reports as unavailable, never as a wrong password.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { closePasswordWorkers, configurePasswordWorkers, DEFAULT_WORKER_QUEUE_DEPTH } from '../../lib/passwords/index.ts';
import { createSqliteDatabase } from '../../scripts/support/databases.ts';
import { occupyEveryThread } from '../support/password-workers.ts';
import { insertLegacyRows } from './support.ts';
import { PASSWORD, vector } from '../../scripts/support/legacy-hashes.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { legacyRow } from '../../scripts/support/legacy-users.ts';
import { ADAPTER_SECRET, startAdapter } from '../../scripts/support/legacy-adapter.ts';
import { sample } from '../support/prometheus-text.ts';
import { internalErrorBody } from '../../contracts/internal-error.ts';

after(async () => {
  configurePasswordWorkers({ maxQueue: DEFAULT_WORKER_QUEUE_DEPTH });
  await closePasswordWorkers();
});

test('a legacy login that finds every password worker busy gets 503 busy, and the next one goes through', async () => {
  const db = await createSqliteDatabase();
  await createLegacyPhpSchema(db);
  await insertLegacyRows(db.knex, [legacyRow('sha', vector('crypt-sha512').hash)]);
  const adapter = await startAdapter(db.url, undefined, { PASSWORD_WORKER_QUEUE_MAX: '0' });
  const login = () =>
    fetch(`${adapter.url}/internal/v1/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADAPTER_SECRET}` },
      body: JSON.stringify({ login: 'sha', password: PASSWORD }),
      signal: AbortSignal.timeout(60_000),
    });
  try {
    const endless = await occupyEveryThread();
    const busy = await login();
    assert.deepEqual([busy.status, busy.headers.get('retry-after'), internalErrorBody.parse(await busy.json()).error], [503, '1', 'busy']);
    await closePasswordWorkers();
    await Promise.all(endless);
    const ok = await login();
    assert.equal(((await ok.json()) as { ok?: boolean }).ok, true);
    const metrics = await (await fetch(`${adapter.opsUrl}/metrics`)).text();
    assert.equal(sample(metrics, 'legacy_adapter_authentications_total', { result: 'busy' }), 1);
    assert.equal(sample(metrics, 'legacy_adapter_authentications_total', { result: 'wrong_password' }), 0);
  } finally {
    await adapter.stop();
    await db.drop();
  }
});
