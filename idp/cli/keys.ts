// `idm keys`: signing-key rotation, for ops. Reads the idp's configuration (DATABASE_URL, TTLs,
// poll period) from the environment, exactly as the running idp does.
//
//   idm keys list [--json]
//   idm keys ensure              first start: a key of its own, unless one is active
//   idm keys add-next            new key, published in JWKS, not signing yet
//   idm keys promote [--force]   next key signs; the old one keeps verifying
//   idm keys retire <kid> [--force]   unpublish a key no valid token can need
//   idm keys reencrypt           rewrite every private key with IDP_KEY_ENCRYPTION_KEY
//
// Every replica applies a change within IDP_KEYS_POLL_SECONDS, without a restart. Exit codes:
// 0 done, 1 refused (too early, wrong state: why is printed) or failed, 2 usage, 78 configuration.
import { readCommandArgs } from '../../lib/cli/args.ts';
import { ConfigError } from '../../lib/config.ts';
import { createDatabase } from '../../lib/db.ts';
import { loadIdpConfig, type IdpConfig } from '../config.ts';
import { keyCipherFromConfig } from '../oidc/keys/key-encryption.ts';
import { addNextKey, encryptStoredKeys, KeyLifecycleError, listKeys, promoteNextKey, retireKey } from '../oidc/keys/key-store.ts';
import { loadResourcesFile } from '../oidc/resources.ts';

const USAGE = `usage: idm keys <command>
  list [--json]             show every key with its state and dates
  ensure                    first start (compose's setup, the migration Job): unless a production key
                            is active, add one and promote it; safe to run on every deploy
  add-next                  generate the next key: published in JWKS, not signing
  promote [--force]         the next key starts signing; the active one becomes retiring
  retire <kid> [--force]    unpublish a retiring key once no token it signed can be valid
  reencrypt                 encrypt every private key with IDP_KEY_ENCRYPTION_KEY (after a KEK rotation,
                            with the old one in IDP_KEY_ENCRYPTION_KEYS_PREVIOUS)`;

/** The next key must have reached every replica's JWKS, and relying parties' caches, first. */
export function minPublishedMs(config: IdpConfig): number {
  return (2 * config.IDP_KEYS_POLL_SECONDS + 60) * 1000;
}

/** Longest lifetime of anything signed, plus the poll delay and oidc-provider's clock tolerance. */
export function minRetiringMs(config: IdpConfig): number {
  let longest = Math.max(config.IDP_TTL_ID_TOKEN, config.IDP_TTL_ACCESS_TOKEN, config.IDP_TTL_CLIENT_CREDENTIALS);
  try {
    for (const r of loadResourcesFile(config.IDP_RESOURCES_FILE).all) longest = Math.max(longest, r.accessTokenTtl ?? 0);
  } catch {
    // Unreadable resources file: the idp would not start with it either; the defaults still apply.
  }
  return (longest + config.IDP_KEYS_POLL_SECONDS + 15) * 1000;
}

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

export async function main(argv: string[]): Promise<number> {
  const parsed = readCommandArgs(argv, {
    name: 'keys',
    usage: USAGE,
    positionals: true,
    options: { force: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
  });
  if (!parsed.ok) return parsed.exit;
  const { positionals, values } = parsed.args;
  const [command, kid] = positionals;
  if (!command || !['list', 'ensure', 'add-next', 'promote', 'retire', 'reencrypt'].includes(command)) {
    console.error(command ? `unknown command ${command}\n${USAGE}` : USAGE);
    return 2;
  }
  if (command === 'retire' && !kid) {
    console.error('retire needs the kid of a retiring key (see `list`)');
    return 2;
  }
  let config: IdpConfig;
  try {
    config = loadIdpConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 78;
    }
    throw error;
  }
  const knex = createDatabase(config.DATABASE_URL);
  try {
    if (!(await knex.schema.hasTable('signing_keys'))) {
      console.error('the signing_keys table does not exist: run `npm run migrate:db` (or start the idp once) first');
      return 1;
    }
    switch (command) {
      case 'list': {
        const keys = await listKeys(knex);
        if (values.json) {
          const iso8601 = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
          const view = keys.map((k) => ({
            kid: k.kid,
            state: k.state,
            alg: k.alg,
            development: k.development,
            createdAt: iso8601(k.createdAt),
            activatedAt: iso8601(k.activatedAt),
            deactivatedAt: iso8601(k.deactivatedAt),
            retiredAt: iso8601(k.retiredAt),
          }));
          console.log(JSON.stringify(view, null, 2));
          return 0;
        }
        if (!keys.length) console.log('no keys');
        for (const k of keys) {
          console.log(
            [
              k.kid,
              k.state.padEnd(8),
              k.alg,
              k.development ? 'development' : 'production',
              `created ${iso(k.createdAt)}`,
              `activated ${iso(k.activatedAt)}`,
              `deactivated ${iso(k.deactivatedAt)}`,
              `retired ${iso(k.retiredAt)}`,
            ].join('  '),
          );
        }
        return 0;
      }
      case 'ensure': {
        const keys = await listKeys(knex);
        const active = keys.find((k) => k.state === 'active' && !k.development);
        if (active) {
          console.log(`${active.kid} is active: nothing to do`);
          return 0;
        }
        // promote refuses to swap out an active development key before the new one is published:
        // that database signed tokens already, so its rotation is the operator's, as usual.
        if (!keys.some((k) => k.state === 'next')) await addNextKey(knex, keyCipherFromConfig(config));
        const result = await promoteNextKey(knex, { minPublishedMs: minPublishedMs(config) });
        console.log(`promoted ${result.promoted} (active)`);
        return 0;
      }
      case 'add-next': {
        const key = await addNextKey(knex, keyCipherFromConfig(config));
        console.log(`added ${key.kid} (next): published within ${config.IDP_KEYS_POLL_SECONDS} s; promote it after ${minPublishedMs(config) / 1000} s`);
        return 0;
      }
      case 'promote': {
        const result = await promoteNextKey(knex, { minPublishedMs: minPublishedMs(config), force: values.force });
        console.log(
          `promoted ${result.promoted} (active)` +
            (result.retiring ? `; ${result.retiring} is retiring: retire it after ${minRetiringMs(config) / 1000} s` : ''),
        );
        return 0;
      }
      case 'retire': {
        await retireKey(knex, kid!, { minRetiringMs: minRetiringMs(config), force: values.force });
        console.log(`retired ${kid}: unpublished within ${config.IDP_KEYS_POLL_SECONDS} s; its private key is erased`);
        return 0;
      }
      case 'reencrypt': {
        const rewritten = await encryptStoredKeys(knex, keyCipherFromConfig(config), { all: true });
        console.log(
          rewritten.length
            ? `re-encrypted ${rewritten.join(', ')} with IDP_KEY_ENCRYPTION_KEY`
            : 'every private key is already encrypted with IDP_KEY_ENCRYPTION_KEY',
        );
        return 0;
      }
      default:
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 78;
    }
    if (error instanceof KeyLifecycleError) {
      console.error(`refused: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await knex.destroy();
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
