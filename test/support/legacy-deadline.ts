// A legacy database that stops answering, for the tests of the adapter's deadlines
// (LEGACY_DATABASE_TIMEOUT_MS): a throwaway MariaDB with the sample monolith's schema, and
// requests that wait far longer than the adapter may, so reaching that wait is a failure.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { RunningService } from '../../lib/service.ts';
import { insertLegacyRows } from '../jit-login/support.ts';
import { vector } from '../../scripts/support/legacy-hashes.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { legacyRow } from '../../scripts/support/legacy-users.ts';
import { ADAPTER_SECRET } from '../../scripts/support/legacy-adapter.ts';
import { createMariaDbDatabase, mariadbProblem, MARIADB_ADMIN_URL, skipLoudly, type TestDatabase } from '../../scripts/support/databases.ts';

// The adapter runs with its default deadline (LEGACY_DATABASE_TIMEOUT_MS, 2 s), generous enough
// that a busy machine does not miss it while the database is fine. This is far above it:
// reaching it means the adapter never answered by itself.
const CLIENT_PATIENCE_MS = 60_000;

export const UNAVAILABLE = [503, { error: 'legacy_unavailable' }];

export interface CallOptions {
  method?: string;
  /** The bearer secret: the idp's (LEGACY_ADAPTER_SECRET) unless told. */
  secret?: string;
}

export function post(adapter: RunningService, path: string, body: unknown, { method = 'POST', secret = ADAPTER_SECRET }: CallOptions = {}): Promise<Response> {
  return fetch(`${adapter.url}/internal/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(CLIENT_PATIENCE_MS),
  });
}

/**
 * Status and JSON body (null when there is none) of one call. An error body's description is
 * checked here (every internal error carries one, for people) and left out of what is returned,
 * so callers compare the code, which is what a client decides on.
 */
export async function answer(adapter: RunningService, path: string, body: unknown, options: CallOptions = {}): Promise<[number, unknown]> {
  const res = await post(adapter, path, body, options);
  const text = await res.text();
  const json: unknown = text === '' ? null : JSON.parse(text);
  if (res.status >= 400 && typeof json === 'object' && json !== null && 'error' in json) {
    const { error_description: description, ...rest } = json as { error_description?: unknown };
    assert.ok(typeof description === 'string' && description.length > 0, `${path}: an error body carries an error_description`);
    return [res.status, rest];
  }
  return [res.status, json];
}

/** A MariaDB legacy database with the sample schema and the user alice (bcrypt); skips loudly without MariaDB. */
export async function withLegacyDb(t: TestContext, body: (db: TestDatabase) => Promise<void>): Promise<void> {
  const problem = await mariadbProblem();
  if (problem) return skipLoudly(t, `MariaDB at ${MARIADB_ADMIN_URL}`, problem);
  const db = await createMariaDbDatabase('idm_deadline');
  try {
    await createLegacyPhpSchema(db);
    await insertLegacyRows(db.knex, [legacyRow('alice', vector('bcrypt-2y').hash)]);
    await body(db);
  } finally {
    await db.drop();
  }
}
