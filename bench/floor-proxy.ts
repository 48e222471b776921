// The floor under the gateway, for the benchmark's comparison: the gateway's own forwarder
// (lean-forward.ts on a node:http server) with none of its features: no route table, flags,
// header rules, request id, metrics or logs. What the gateway costs above this is what its
// features cost; what this costs above nginx is node's own price for a proxied request.
// BENCH_PORT and BENCH_TARGET come from bench/gateway.ts.
import { createServer } from 'node:http';
import { forwardLean } from '../gateway/proxy/lean-forward.ts';
import { ConnectionPool } from '../gateway/proxy/pool.ts';

const target = new URL(process.env.BENCH_TARGET ?? 'http://127.0.0.1:8080');
const pool = new ConnectionPool(target.hostname, Number(target.port));
const answered = () => {};

createServer((req, res) => {
  const head = `${req.method} ${req.url} HTTP/1.1\r\nhost: ${req.headers.host ?? target.host}\r\n\r\n`;
  forwardLean(req, res, pool, { head, method: req.method ?? 'GET', bodyless: true, chunked: false, requestId: '-', extraHeaders: undefined }, 30_000, {
    answered,
  });
}).listen(Number(process.env.BENCH_PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
