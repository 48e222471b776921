// deploy/nginx/load-balancer.conf.template, the load balancer the zero-downtime test runs: nginx
// accepts it as rendered, its idle upstream connections end before a replica's drain closes them,
// and a request a draining replica reset unread (the connections its kernel had accepted when it
// closed its listener) reaches another replica, a POST included.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { checkNginxConf, nginxProblem, renderBalancerConf, startNginx } from '../../scripts/support/nginx.ts';
import { freePort, repoRoot } from '../../scripts/support/processes.ts';

const problem = nginxProblem();

test('the shipped template, rendered, passes nginx -t', { skip: problem }, async () => {
  const [a, b, c, d] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const conf = renderBalancerConf({
    gateways: [`127.0.0.1:${a}`, `127.0.0.1:${b}`],
    idps: [`127.0.0.1:${c}`],
    publicListen: `127.0.0.1:${d}`,
    idpListen: '127.0.0.1:1',
  });
  const check = checkNginxConf(conf);
  assert.ok(check.ok, check.output);
  assert.doesNotMatch(conf, /\{\{/, 'every placeholder filled in');
});

test('a placeholder without a value is an error, not a broken nginx.conf', () => {
  assert.throws(() => renderBalancerConf({ gateways: [], idps: [], publicListen: '', idpListen: '' }, 'listen {{NOT_A_NAME}};'), /NOT_A_NAME/);
});

test('nginx closes its idle upstream connections before the shipped SHUTDOWN_DELAY_MS runs out', () => {
  const conf = renderBalancerConf({ gateways: ['127.0.0.1:1'], idps: ['127.0.0.1:2'], publicListen: '127.0.0.1:3', idpListen: '127.0.0.1:4' });
  const upstreamTimeouts = [...conf.matchAll(/upstream \w+ \{[^}]*?keepalive_timeout (\d+)s;/g)].map((m) => Number(m[1]) * 1000);
  assert.equal(upstreamTimeouts.length, 2, 'both upstream blocks set keepalive_timeout');
  const k8s = parseAllDocuments(readFileSync(join(repoRoot, 'deploy/k8s/base/config.yaml'), 'utf8'))
    .map((d) => d.toJS() as { metadata: { name: string }; data: Record<string, string> })
    .find((d) => d.metadata.name === 'identity-migration')!;
  const compose = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
  const delays = [Number(k8s.data.SHUTDOWN_DELAY_MS), Number(/SHUTDOWN_DELAY_MS: "(\d+)"/.exec(compose)?.[1])];
  for (const delay of delays)
    for (const timeout of upstreamTimeouts) assert.ok(timeout < delay, `keepalive_timeout ${timeout} ms < SHUTDOWN_DELAY_MS ${delay} ms`);
});

test('a request whose connection a replica reset unread goes to the other replica, a POST too', { skip: problem }, async () => {
  // The draining replica's lost connections: accepted, the request sent, then a reset (RST), never an answer.
  const resetting = createTcpServer((socket: Socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.resetAndDestroy());
  });
  const healthy = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => res.end(`${req.method} ${body}`));
  });
  const [resetPort, healthyPort, publicPort, idpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  await Promise.all([
    new Promise<void>((resolve) => resetting.listen(resetPort, '127.0.0.1', resolve)),
    new Promise<void>((resolve) => healthy.listen(healthyPort, '127.0.0.1', resolve)),
  ]);
  const conf = renderBalancerConf({
    gateways: [`127.0.0.1:${resetPort}`, `127.0.0.1:${healthyPort}`],
    idps: [`127.0.0.1:${healthyPort}`],
    publicListen: `127.0.0.1:${publicPort}`,
    idpListen: `127.0.0.1:${idpPort}`,
  });
  const nginx = await startNginx(conf, async () => (await fetch(`http://127.0.0.1:${idpPort}/`)).ok);
  try {
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`http://127.0.0.1:${publicPort}/token`, { method: 'POST', body: `request ${i}` });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), `POST request ${i}`);
    }
    const passedOn = nginx
      .log('access.log')
      .split('\n')
      .filter((line) => line.includes(`upstream=127.0.0.1:${resetPort}, 127.0.0.1:${healthyPort}`));
    assert.ok(passedOn.length >= 1, `nginx tried the resetting replica first at least once:\n${nginx.log('access.log')}`);
  } finally {
    await nginx.stop();
    resetting.close();
    healthy.close();
  }
});
