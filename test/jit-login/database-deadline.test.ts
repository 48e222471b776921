// A legacy database that stops answering: the adapter answers 503 legacy_unavailable within its
// own deadline (LEGACY_DATABASE_TIMEOUT_MS), never "no such user", and recovers once the
// database answers again. Real MariaDB: a table lock held by another session, and a TCP proxy
// that stops forwarding in front of a pooled connection. The shared server itself keeps running.
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { createDatabase } from '../../lib/db.ts';
import { answer, UNAVAILABLE, withLegacyDb } from '../support/legacy-deadline.ts';
import { legacyIdOf } from './support.ts';
import { PASSWORD, vector } from '../../scripts/support/legacy-hashes.ts';
import { startAdapter } from '../../scripts/support/legacy-adapter.ts';
import { sample } from '../support/prometheus-text.ts';

test('a table locked by another session: every legacy call answers 503 unavailable, then works again', async (t) => {
  await withLegacyDb(t, async (db) => {
    const adapter = await startAdapter(db.url);
    // One connection, so LOCK and UNLOCK happen in the same session.
    const locker = createDatabase(db.url, { pool: { min: 1, max: 1 } });
    try {
      assert.deepEqual((await answer(adapter, '/authenticate', { login: 'alice', password: PASSWORD }))[0], 200);
      const legacyId = await legacyIdOf(db.knex, 'alice');
      await locker.raw('LOCK TABLES users WRITE');
      try {
        assert.deepEqual(await answer(adapter, '/authenticate', { login: 'alice', password: PASSWORD }), UNAVAILABLE);
        assert.deepEqual(await answer(adapter, '/authenticate', { login: 'nobody', password: PASSWORD }), UNAVAILABLE);
        assert.deepEqual(await answer(adapter, '/users/lookup', { email: 'alice@example.com' }), UNAVAILABLE);
        const write = { eventId: crypto.randomUUID(), sequence: 1, legacyId, hash: vector('bcrypt-2y').hash };
        assert.deepEqual(await answer(adapter, '/users/password', write), UNAVAILABLE);
      } finally {
        await locker.raw('UNLOCK TABLES');
      }
      const after = await answer(adapter, '/authenticate', { login: 'alice', password: PASSWORD });
      assert.equal((after[1] as { ok?: boolean }).ok, true);
      const metrics = await (await fetch(`${adapter.opsUrl}/metrics`)).text();
      assert.equal(sample(metrics, 'legacy_adapter_authentications_total', { result: 'unavailable' }), 2);
      assert.equal(sample(metrics, 'legacy_adapter_authentications_total', { result: 'not_found' }), 0);
    } finally {
      await locker.destroy();
      await adapter.stop();
    }
  });
});

/** A TCP relay to MariaDB that can stop forwarding, like a database host that went silent. */
async function startSilenceableProxy(target: { host: string; port: number }): Promise<{ port: number; silence(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let silent = false;
  const server: Server = createServer((client) => {
    const upstream = createConnection(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    // Forwarding by hand, so that going silent drops bytes instead of buffering them for later.
    client.on('data', (chunk) => silent || upstream.write(chunk));
    upstream.on('data', (chunk) => silent || client.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    silence: () => {
      silent = true;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a pooled connection whose database went silent: the adapter answers 503 unavailable by its deadline', async (t) => {
  await withLegacyDb(t, async (db) => {
    const target = new URL(db.url);
    const proxy = await startSilenceableProxy({ host: target.hostname, port: Number(target.port || 3306) });
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    const adapter = await startAdapter(viaProxy.href);
    try {
      // The pool now holds a connection through the proxy.
      assert.equal((await answer(adapter, '/authenticate', { login: 'alice', password: PASSWORD }))[0], 200);
      proxy.silence();
      assert.deepEqual(await answer(adapter, '/authenticate', { login: 'alice', password: PASSWORD }), UNAVAILABLE);
      assert.deepEqual(await answer(adapter, '/authenticate', { login: 'nobody', password: PASSWORD }), UNAVAILABLE);
      assert.deepEqual(await answer(adapter, '/users/lookup', { login: 'alice' }), UNAVAILABLE);
    } finally {
      await adapter.stop();
      await proxy.close();
    }
  });
});
