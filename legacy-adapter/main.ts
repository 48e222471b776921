import { runMain } from '../lib/service.ts';
import { startLegacyAdapter } from './app.ts';
import { loadLegacyAdapterConfig } from './config.ts';

await runMain('legacy-adapter', () => startLegacyAdapter(loadLegacyAdapterConfig()));
