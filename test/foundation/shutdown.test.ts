import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { startServiceProcess } from '../../scripts/support/processes.ts';

function get(url: string, agent: Agent): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
    })
      .on('error', reject)
      .end();
  });
}

test('SIGTERM drains in-flight requests, keep-alive included, then refuses new connections and exits 0', async () => {
  const service = await startServiceProcess('test/fixtures/slow-service.ts', 'SLOW_PORT', { SHUTDOWN_GRACE_MS: '10000' });
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 10 });
  // Warm the keep-alive sockets so the slow requests below ride on reused connections.
  await Promise.all(Array.from({ length: 5 }, () => get(`${service.url}/slow?ms=0`, keepAlive)));
  const inFlight = Array.from({ length: 5 }, () => get(`${service.url}/slow?ms=1500`, keepAlive));
  await sleep(300);

  service.child.kill('SIGTERM');
  await sleep(300);
  // The ops listener stays open through the drain, so the load balancer hears "draining".
  const ready = await fetch(`${service.opsUrl}/readyz`).then(
    (r) => r.status,
    (e: Error) => e.message,
  );
  // The listener is closed as the drain starts: a new connection is refused.
  await assert.rejects(fetch(`${service.url}/healthz`, { signal: AbortSignal.timeout(2000) }), (error: Error) => {
    const cause = (error as Error & { cause?: { code?: string } }).cause;
    return cause?.code === 'ECONNREFUSED';
  });
  assert.equal(ready, 503, 'not ready while draining');

  const results = await Promise.all(inFlight);
  for (const r of results) {
    assert.equal(r.status, 200);
    assert.equal(r.body, 'slept 1500');
    assert.equal(r.connection, 'close', 'a draining server tells keep-alive clients to go away');
  }
  assert.equal(await service.exited, 0, service.output());
  keepAlive.destroy();
});

test('requests still running after the grace period are cut and the exit code says so', async () => {
  const service = await startServiceProcess('test/fixtures/slow-service.ts', 'SLOW_PORT', { SHUTDOWN_GRACE_MS: '300' });
  const agent = new Agent({ keepAlive: false });
  const slow = get(`${service.url}/slow?ms=5000`, agent).then(
    () => 'completed',
    () => 'cut',
  );
  await sleep(200);
  service.child.kill('SIGTERM');
  assert.equal(await slow, 'cut');
  assert.equal(await service.exited, 1);
});
