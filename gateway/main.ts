import cluster from 'node:cluster';
import { superviseWorkers } from './cluster.ts';
import { createLogger } from '../lib/logger.ts';
import { configOrExit, runMain } from '../lib/service.ts';
import { startGateway } from './app.ts';
import { loadGatewayConfig } from './config.ts';

const config = configOrExit('gateway', () => loadGatewayConfig());
if (config.GATEWAY_WORKERS > 1 && cluster.isPrimary) {
  // Several processes on one port: one node process proxies on one CPU (docs/PERFORMANCE.md).
  process.exit(await superviseWorkers('gateway', config.GATEWAY_WORKERS, createLogger('gateway', config.LOG_LEVEL)));
} else {
  await runMain('gateway', () => startGateway(config));
}
