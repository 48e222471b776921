// Rotating IDP_CLIENT_SECRET_KEY: hashes made by an old key (with or without the key id they now
// carry) keep verifying while that key is in IDP_CLIENT_SECRET_KEYS_PREVIOUS; new hashes use the
// current key; a hash from a key the idp does not hold stops it at start, naming the client.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '../../lib/config.ts';
import { idpEnv, loadIdpConfig } from '../../idp/config.ts';
import { clientSecretKeyId, generateClientSecret, hashClientSecret, verifyClientSecret } from '../../idp/oidc/client-secrets.ts';
import { loadClientsFile } from '../../idp/oidc/clients.ts';
import { DeclarationFileError } from '../../idp/oidc/yaml-file.ts';
import { closeSharedResources, REGISTRATION_TOKEN, startTestIdp, storageProblem, type TestIdp } from '../support/idp.ts';
import { skipLoudly } from '../../scripts/support/databases.ts';
import { spawnScript } from '../../scripts/support/processes.ts';

const OLD_KEY = 'old-client-secret-hmac-key-0123456789abcdef';
const NEW_KEY = 'new-client-secret-hmac-key-0123456789abcdef';
const ROTATED = { current: NEW_KEY, previous: [OLD_KEY] };
/** How hashes looked before they carried a key id. */
const legacyHash = (secret: string, key: string) => '$hmac-sha256$' + createHmac('sha256', key).update(secret, 'utf8').digest('base64url');

const dir = mkdtempSync(join(tmpdir(), 'idp-secret-rotation-'));
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await closeSharedResources();
});

test('a secret hashed with the old key, in either format, verifies after rotation; a new hash uses the new key', () => {
  const secret = generateClientSecret();
  const withKid = hashClientSecret(secret, OLD_KEY);
  assert.match(withKid, new RegExp(`^\\$hmac-sha256\\$${clientSecretKeyId(OLD_KEY).replace(/[-]/g, '\\-')}\\$[A-Za-z0-9_-]{43}$`));
  assert.ok(verifyClientSecret(secret, withKid, ROTATED));
  assert.ok(verifyClientSecret(secret, legacyHash(secret, OLD_KEY), ROTATED), 'a hash without a key id is tried against the previous keys');
  assert.ok(verifyClientSecret(secret, legacyHash(secret, NEW_KEY), ROTATED), 'and against the current key');

  const fresh = hashClientSecret(secret, NEW_KEY);
  assert.ok(fresh.includes(`$${clientSecretKeyId(NEW_KEY)}$`), 'new hashes name the current key');
  assert.notEqual(clientSecretKeyId(NEW_KEY), clientSecretKeyId(OLD_KEY));
  assert.ok(verifyClientSecret(secret, fresh, { current: NEW_KEY }), 'a new hash needs no previous key');

  assert.ok(!verifyClientSecret(secret, withKid, { current: NEW_KEY }), 'once the old key is dropped its hashes stop verifying');
  assert.ok(!verifyClientSecret(secret, legacyHash(secret, OLD_KEY), { current: NEW_KEY }));
});

test('a wrong secret fails for every key and every format', () => {
  const secret = generateClientSecret();
  const wrong = generateClientSecret();
  for (const key of [OLD_KEY, NEW_KEY]) {
    for (const stored of [hashClientSecret(secret, key), legacyHash(secret, key)]) {
      assert.ok(!verifyClientSecret(wrong, stored, ROTATED), `${stored.slice(0, 22)}…`);
      assert.ok(!verifyClientSecret('', stored, ROTATED));
    }
  }
  // A kid names the key: the other key's HMAC of the right secret is not accepted in its place.
  const forged = `$hmac-sha256$${clientSecretKeyId(NEW_KEY)}$${legacyHash(secret, OLD_KEY).slice('$hmac-sha256$'.length)}`;
  assert.ok(!verifyClientSecret(secret, forged, ROTATED));
  assert.ok(!verifyClientSecret(secret, '$hmac-sha256$not-a-hash', ROTATED));
});

let n = 0;
function loadFile(hash: string, previous: string[]) {
  const file = join(dir, `clients-${++n}.yaml`);
  writeFileSync(
    file,
    `clients:
  - client_id: billing
    client_secret_hash: "${hash}"
    response_types: []
    grant_types: [client_credentials]
    scope: openid
`,
  );
  return loadClientsFile(file, { secretKey: NEW_KEY, previousSecretKeys: previous, knownScopes: new Set(['openid']), allowHttpLoopbackForWeb: false });
}

test('a clients file hash from a key in neither list stops the idp at start, naming the client', () => {
  const secret = generateClientSecret();
  assert.equal(loadFile(hashClientSecret(secret, OLD_KEY), [OLD_KEY]).length, 1, 'a previous key is known');
  assert.equal(loadFile(legacyHash(secret, 'a-key-nobody-configured-0123456789abc'), []).length, 1, 'a hash without a key id cannot be checked at start');
  let problems: string[] = [];
  try {
    loadFile(hashClientSecret(secret, OLD_KEY), []);
    assert.fail('the file was accepted');
  } catch (error) {
    assert.ok(error instanceof DeclarationFileError, String(error));
    problems = error.problems;
  }
  assert.equal(problems.length, 1);
  assert.match(
    problems[0] ?? '',
    /^client "billing": client_secret_hash: made with a key \(id [A-Za-z0-9_-]{8}\) that is neither IDP_CLIENT_SECRET_KEY .* nor in IDP_CLIENT_SECRET_KEYS_PREVIOUS/,
  );
  assert.ok(problems[0]?.includes(clientSecretKeyId(OLD_KEY)));
  assert.ok(!problems[0]?.includes(OLD_KEY) && !problems[0]?.includes(NEW_KEY), 'keys are never printed');
});

test('in production each previous key passes the checks the current one does', () => {
  // Every secret of the idp gets a strong value, so only the previous keys can be wrong.
  const env: Record<string, string> = { NODE_ENV: 'production' };
  for (const [name, schema] of Object.entries(idpEnv)) {
    const value = randomBytes(32).toString('base64url');
    if (/SECRET|KEY|TOKEN/.test(name) && schema.safeParse(value).success) env[name] = value;
  }
  delete env.IDP_CLIENT_SECRET_KEYS_PREVIOUS;
  assert.deepEqual(loadIdpConfig({ ...env, IDP_CLIENT_SECRET_KEYS_PREVIOUS: `${OLD_KEY}, ${NEW_KEY}` }).IDP_CLIENT_SECRET_KEYS_PREVIOUS, [OLD_KEY, NEW_KEY]);
  const refused = (previous: string) => {
    try {
      loadIdpConfig({ ...env, IDP_CLIENT_SECRET_KEYS_PREVIOUS: previous });
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.problems;
    }
    assert.fail(`${previous} was accepted in production`);
  };
  assert.deepEqual(refused(`${OLD_KEY},dev-only-idp-client-secret-hmac-key-change-me`), [
    'IDP_CLIENT_SECRET_KEYS_PREVIOUS[1]: the development default cannot be used in production; set a random value (openssl rand -base64 32)',
  ]);
  assert.deepEqual(refused('short-old-key'), ['IDP_CLIENT_SECRET_KEYS_PREVIOUS[0]: must be at least 32 characters in production (got 13)']);
  // The signing keys' former key-encryption keys are held to the same rule: they still decrypt.
  assert.throws(
    () => loadIdpConfig({ ...env, IDP_KEY_ENCRYPTION_KEYS_PREVIOUS: `${OLD_KEY},dev-only-idp-key-encryption-key-change-me` }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.problems.length === 1 &&
      /^IDP_KEY_ENCRYPTION_KEYS_PREVIOUS\[1\]: the development default/.test(error.problems[0] ?? ''),
  );
  // Development keeps its default, as the current key does.
  assert.deepEqual(loadIdpConfig({ IDP_CLIENT_SECRET_KEYS_PREVIOUS: 'dev-only-idp-client-secret-hmac-key-change-me' }).IDP_CLIENT_SECRET_KEYS_PREVIOUS, [
    'dev-only-idp-client-secret-hmac-key-change-me',
  ]);
});

async function clientCredentials(idp: TestIdp, clientId: string, secret: string): Promise<number> {
  const response = await fetch(new URL('/token', idp.issuer), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  await response.body?.cancel();
  return response.status;
}

const FILE_SECRET = generateClientSecret();
const LEGACY_FILE_SECRET = generateClientSecret();
const fileClients = `
clients:
  - client_id: old-kid
    client_secret_hash: "${hashClientSecret(FILE_SECRET, OLD_KEY)}"
    response_types: []
    grant_types: [client_credentials]
    scope: orders:read
  - client_id: old-format
    client_secret_hash: "${legacyHash(LEGACY_FILE_SECRET, OLD_KEY)}"
    response_types: []
    grant_types: [client_credentials]
    scope: orders:read
`;

test('after rotation, file clients hashed with the old key and clients registered under it still authenticate', async (t) => {
  const storage = { db: 'sqlite' as const, redis: true };
  const problem = await storageProblem(storage);
  if (problem) return skipLoudly(t, 'Redis', problem);
  // Before: the old key is the current one; a client registers and gets a hash under it.
  const before = await startTestIdp({ storage, clients: fileClients, env: { IDP_CLIENT_SECRET_KEY: OLD_KEY } });
  try {
    const created = await fetch(new URL('/reg', before.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${REGISTRATION_TOKEN}` },
      body: JSON.stringify({
        redirect_uris: ['https://registered.example.test/cb'],
        grant_types: ['authorization_code', 'client_credentials'],
        response_types: ['code'],
      }),
    });
    assert.equal(created.status, 201);
    const registered = (await created.json()) as { client_id: string; client_secret: string };
    const stored = await (before.provider.Client.adapter as { find(id: string): Promise<Record<string, unknown>> }).find(registered.client_id);
    assert.ok(String(stored.client_secret).startsWith(`$hmac-sha256$${clientSecretKeyId(OLD_KEY)}$`), 'registration stores a hash that names its key');

    // After: the new key is current and the old one previous, as the README's procedure says.
    const after = await startTestIdp({
      storage,
      replicaOf: before,
      clients: fileClients,
      env: { IDP_CLIENT_SECRET_KEY: NEW_KEY, IDP_CLIENT_SECRET_KEYS_PREVIOUS: OLD_KEY },
    });
    try {
      assert.equal(await clientCredentials(after, 'old-kid', FILE_SECRET), 200);
      assert.equal(await clientCredentials(after, 'old-format', LEGACY_FILE_SECRET), 200);
      assert.equal(await clientCredentials(after, registered.client_id, registered.client_secret), 200, 'a registered client keeps working');
      assert.equal(await clientCredentials(after, 'old-kid', LEGACY_FILE_SECRET), 401, 'another client’s secret is still refused');
      assert.equal(await clientCredentials(after, registered.client_id, FILE_SECRET), 401);
    } finally {
      await after.stop();
    }
  } finally {
    await before.stop();
  }
});

test('a clients file hash under a key the idp does not hold stops the idp at start, naming the client', async () => {
  const file = join(dir, 'unknown-key.yaml');
  writeFileSync(file, fileClients);
  const idp = spawnScript('idp/main.ts', {
    NODE_ENV: 'test',
    IDP_PORT: '0',
    IDP_OPS_PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    IDP_CLIENTS_FILE: file,
    IDP_CLIENT_SECRET_KEY: NEW_KEY,
  });
  assert.notEqual(await idp.exited, 0);
  assert.match(idp.output(), /client "old-kid": client_secret_hash: made with a key \(id [A-Za-z0-9_-]{8}\) that is neither IDP_CLIENT_SECRET_KEY/);
  assert.ok(!idp.output().includes(NEW_KEY), 'the key is never printed');
});
