import { runMain } from '../lib/service.ts';
import { startIdp } from './app.ts';
import { loadIdpConfig } from './config.ts';

await runMain('idp', () => startIdp(loadIdpConfig()));
