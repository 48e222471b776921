// Signing-key rotation, for ops. Reads the idp's configuration (DATABASE_URL, TTLs, poll period)
// from the environment, exactly as the running idp does.
//
//   node idp/cli/keys.ts list
//   node idp/cli/keys.ts ensure              first start: a key of its own, unless one is active
//   node idp/cli/keys.ts add-next            new key, published in JWKS, not signing yet
//   node idp/cli/keys.ts promote [--force]   next key signs; the old one keeps verifying
//   node idp/cli/keys.ts retire <kid> [--force]   unpublish a key no valid token can need
//   node idp/cli/keys.ts reencrypt           rewrite every private key with IDP_KEY_ENCRYPTION_KEY
//
// Every replica applies a change within IDP_KEYS_POLL_SECONDS, without a restart.
import { parseArgs } from 'node:util';
import { ConfigError } from '../../lib/config.ts';
import { createDatabase } from '../../lib/db.ts';
import { loadIdpConfig, type IdpConfig } from '../config.ts';
import { keyCipherFromConfig } from '../oidc/keys/key-encryption.ts';
import { addNextKey, encryptStoredKeys, KeyLifecycleError, listKeys, promoteNextKey, retireKey } from '../oidc/keys/key-store.ts';
import { loadResourcesFile } from '../oidc/resources.ts';

const USAGE = `usage: node idp/cli/keys.ts <command>
  list                      show every key with its state and dates
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

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { force: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
  const [command, kid] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 64;
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
        if (!keys.length) console.log('no keys');
        for (const k of keys) {
          console.log(
            [k.kid, k.state.padEnd(8), k.alg, k.development ? 'development' : 'production', `created ${iso(k.createdAt)}`, `activated ${iso(k.activatedAt)}`, `deactivated ${iso(k.deactivatedAt)}`, `retired ${iso(k.retiredAt)}`].join('  '),
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
        if (!kid) {
          console.error('retire needs the kid of a retiring key (see `list`)');
          return 64;
        }
        await retireKey(knex, kid, { minRetiringMs: minRetiringMs(config), force: values.force });
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
        console.error(`unknown command ${command}\n${USAGE}`);
        return 64;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 78;
    }
    if (error instanceof KeyLifecycleError) {
      console.error(`refused: ${error.message}`);
      return 2;
    }
    throw error;
  } finally {
    await knex.destroy();
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
