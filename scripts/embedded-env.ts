import { z } from 'zod';
import { port, variable } from '../lib/config.ts';

/** What `npm start` (scripts/start-embedded.ts) reads besides the services' own variables, which it passes on. */
export const embeddedEnv = {
  DATA_DIR: variable(z.string().min(1).default('data'), 'Where `npm start` keeps its SQLite files and mail, relative to the checkout.'),
  LEGACY_PHP_PORT: variable(port(8080), 'Port of the sample PHP monolith `npm start` runs (or of its "install php" page).'),
};
