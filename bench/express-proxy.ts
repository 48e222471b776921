// The design the gateway does not use, kept for the benchmark's comparison: express with
// http-proxy-middleware in front of every request (what gateway/app.ts started as).
// BENCH_PORT and BENCH_TARGET come from bench/gateway.ts.
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';

const app = express();
app.disable('x-powered-by');
app.use(createProxyMiddleware({ target: process.env.BENCH_TARGET, xfwd: true }));
app.listen(Number(process.env.BENCH_PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
