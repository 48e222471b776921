// A service's own database going silent (a network partition: its pooled connections stay open
// and nothing answers), for the tests of IDP_DATABASE_TIMEOUT_MS and GATEWAY_DATABASE_TIMEOUT_MS:
// a throwaway MariaDB database reached through a TCP proxy the test blackholes, and a request
// waited on far longer than the service may take, so reaching that wait is a failure.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMariaDbDatabase, mariadbProblem, MARIADB_ADMIN_URL, skipLoudly, type TestDatabase } from '../../scripts/support/databases.ts';
import { startTcpProxy, type TcpProxy } from '../../scripts/support/tcp-proxy.ts';

const CLIENT_PATIENCE_MS = 60_000;

export interface SilenceableDatabase {
  db: TestDatabase;
  /** The database's URL through the proxy: what the service under test is given. */
  viaProxy: string;
  /** Runs `request` with the database silent; its answer, or a failure after CLIENT_PATIENCE_MS. The database answers again afterwards. */
  whileSilent<T>(request: () => Promise<T>): Promise<T>;
}

/** Runs `body` with a fresh MariaDB database behind a proxy; skips loudly without MariaDB. */
export async function withSilenceableDatabase(t: TestContext, prefix: string, body: (database: SilenceableDatabase) => Promise<void>): Promise<void> {
  const problem = await mariadbProblem();
  if (problem) return skipLoudly(t, `MariaDB at ${MARIADB_ADMIN_URL}`, problem);
  const db = await createMariaDbDatabase(prefix);
  const target = new URL(db.url);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 3306) });
  const viaProxy = new URL(db.url);
  viaProxy.port = String(proxy.port);
  try {
    await body({ db, viaProxy: viaProxy.href, whileSilent: (request) => whileSilent(proxy, request) });
  } finally {
    await proxy.close();
    await db.drop();
  }
}

async function whileSilent<T>(proxy: TcpProxy, request: () => Promise<T>): Promise<T> {
  proxy.setMode('blackhole');
  const patience = new AbortController();
  try {
    return await Promise.race([
      request(),
      sleep(CLIENT_PATIENCE_MS, undefined, { signal: patience.signal }).then(
        () => assert.fail(`no answer within ${CLIENT_PATIENCE_MS} ms: a database call without a deadline`),
        () => assert.fail('unreachable'),
      ),
    ]);
  } finally {
    patience.abort();
    // Also when the service never answered: its stop would otherwise wait on the silent connection.
    proxy.setMode('open');
  }
}
