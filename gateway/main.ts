import { runMain } from '../lib/service.ts';
import { startGateway } from './app.ts';
import { loadGatewayConfig } from './config.ts';

await runMain('gateway', () => startGateway(loadGatewayConfig()));
