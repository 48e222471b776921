// `npm run compose:env`: everything docker-compose.yml needs before `docker compose up`, so that is
// the second command. Writes
//   .env                          every secret, fresh from the CSPRNG (never printed), and the public URL
//   deploy/compose/clients.yaml   the idp's clients file for that URL: the gateway's sign-in takes its
//                                 secret from GATEWAY_OIDC_CLIENT_SECRET (client_secret_env), and the
//                                 development-only gateway-ops hash is left out
// Neither is overwritten without --force: new secrets would lock out what the old ones made
// (sessions, encrypted signing keys, the databases' passwords). The signing key itself is made by
// compose's `setup` service on the first `up` (idp/cli/keys.ts ensure), inside the database.
//   npm run compose:env -- [--public-url https://login.example.com] [--trust-proxy <LB address>] [--force]
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { variable } from '../lib/config.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every secret docker-compose.yml requires; each a random 32-byte base64url value (43 characters, URL-safe for the database URLs). */
export const COMPOSE_SECRETS = [
  'MARIADB_ROOT_PASSWORD',
  'MARIADB_PASSWORD',
  'LEGACY_DB_PASSWORD',
  'GATEWAY_ADMIN_TOKEN',
  'GATEWAY_OIDC_CLIENT_SECRET',
  'GATEWAY_AUTH_COOKIE_SECRET',
  'LEGACY_ADAPTER_SECRET',
  'LEGACY_SESSION_BRIDGE_SECRET',
  'IDP_INTERNAL_SECRET',
  'IDP_INTERACTION_SECRET',
  'IDP_REGISTRATION_ACCESS_TOKEN',
  'IDP_CLIENT_SECRET_KEY',
  'IDP_KEY_ENCRYPTION_KEY',
  'IDP_COOKIE_KEYS',
  'GRAFANA_ADMIN_PASSWORD',
] as const;

/**
 * What docker-compose.yml reads besides the services' own variables (compose substitutes them; no
 * service reads them): declared here so that docs/configuration.md and .env.example describe them.
 */
export const composeOnlyEnv = {
  PUBLIC_URL: variable(
    z.string().optional(),
    "The https origin users reach the gateway at: the idp's issuer, the gateway's public URL and the sign-in client's URIs (deploy/compose/clients.yaml).",
    { default: 'written by `npm run compose:env` (`https://localhost:3000`)' },
  ),
  MARIADB_ROOT_PASSWORD: variable(
    z.string().optional(),
    "MariaDB's root password. Written, random, by `npm run compose:env`; compose refuses to start without it.",
    {
      secret: true,
      default: 'random',
    },
  ),
  MARIADB_PASSWORD: variable(z.string().optional(), "The idp's database user's password (random, from `npm run compose:env`).", {
    secret: true,
    default: 'random',
  }),
  LEGACY_DB_PASSWORD: variable(z.string().optional(), "The monolith's own database user's password (random, from `npm run compose:env`).", {
    secret: true,
    default: 'random',
  }),
  GRAFANA_ADMIN_PASSWORD: variable(z.string().optional(), "Grafana's `admin` password (random, from `npm run compose:env`).", {
    secret: true,
    default: 'random',
  }),
  MARIADB_DATABASE: variable(z.string().default('idm'), "The idp's database."),
  MARIADB_USER: variable(z.string().default('idm'), "The idp's database user."),
  LEGACY_DB_NAME: variable(
    z.string().default('legacy'),
    "The monolith's database, created on MariaDB's first start (names the monolith chose are configuration).",
  ),
  LEGACY_DB_USER: variable(z.string().default('legacy'), "The monolith's database user."),
};

interface Client {
  client_id: string;
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  backchannel_logout_uri?: string;
  client_secret_hash?: string;
  client_secret_env?: string;
}

/** The shipped clients file, moved to `publicUrl`, with the gateway's secret from the environment. */
export function composeClients(shipped: string, publicUrl: string): string {
  const doc = parse(shipped) as { clients: Client[] };
  const at = (uri: string) => uri.replace('https://localhost:3000', publicUrl.replace(/\/$/, ''));
  const clients = doc.clients
    .filter((c) => c.client_id !== 'gateway-ops')
    .map((c) => {
      const moved: Client = { ...c };
      if (c.redirect_uris) moved.redirect_uris = c.redirect_uris.map(at);
      if (c.post_logout_redirect_uris) moved.post_logout_redirect_uris = c.post_logout_redirect_uris.map(at);
      if (c.backchannel_logout_uri) moved.backchannel_logout_uri = at(c.backchannel_logout_uri);
      if (c.client_id === 'gateway') {
        delete moved.client_secret_hash;
        moved.client_secret_env = 'GATEWAY_OIDC_CLIENT_SECRET';
      }
      return moved;
    });
  return `# Written by npm run compose:env from idp/clients.yaml for ${publicUrl}; do not commit.\n${stringify({ ...doc, clients })}`;
}

export function composeEnv(options: { publicUrl: string; trustProxy: string }): string {
  const lines = [
    '# Written by npm run compose:env. Secrets: never commit, never share; rotate per SECURITY.md "Secrets and how to rotate them".',
    '# The https URL users reach the gateway at (a TLS terminator or load balancer in front of port 3000).',
    `PUBLIC_URL=${options.publicUrl}`,
    '# Every Host the site is served at, comma-separated; any other is refused (421) before it reaches the monolith.',
    `GATEWAY_ALLOWED_HOSTS=${new URL(options.publicUrl).hostname}`,
    '# The address or CIDR of that load balancer, exactly (docs/operations.md "Proxy trust"); false: clients connect directly.',
    `TRUST_PROXY=${options.trustProxy}`,
    ...COMPOSE_SECRETS.map((name) => `${name}=${randomBytes(32).toString('base64url')}`),
  ];
  return `${lines.join('\n')}\n`;
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      'public-url': { type: 'string', default: 'https://localhost:3000' },
      'trust-proxy': { type: 'string', default: 'false' },
      'env-out': { type: 'string', default: resolve(root, '.env') },
      'clients-out': { type: 'string', default: resolve(root, 'deploy/compose/clients.yaml') },
      force: { type: 'boolean', default: false },
    },
  });
  const publicUrl = values['public-url'];
  if (!/^https:\/\/[^/\s]+$/.test(publicUrl)) {
    console.error(`--public-url must be an https origin without a path (web clients need https), got ${JSON.stringify(publicUrl)}`);
    return 64;
  }
  const targets = [values['env-out'], values['clients-out']];
  const present = targets.filter((file) => existsSync(file));
  if (present.length && !values.force) {
    console.error(
      `${present.join(' and ')} already exist${present.length > 1 ? '' : 's'}: kept (new secrets would lock out what the old ones made). --force replaces them.`,
    );
    return 1;
  }
  writeFileSync(values['env-out'], composeEnv({ publicUrl, trustProxy: values['trust-proxy'] }), { mode: 0o600 });
  mkdirSync(dirname(values['clients-out']), { recursive: true });
  writeFileSync(values['clients-out'], composeClients(readFileSync(resolve(root, 'idp/clients.yaml'), 'utf8'), publicUrl));
  console.log(`wrote ${targets.join(' and ')} (${COMPOSE_SECRETS.length} fresh secrets, public URL ${publicUrl}); next: docker compose up -d`);
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
