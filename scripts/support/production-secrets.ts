// The secrets the idp refuses to start without in production (NODE_ENV=production), each fresh
// from the CSPRNG: for tests and benches that start it the way a deploy does.
import { randomBytes } from 'node:crypto';

/** A random 30-byte value, base64url: long enough for every secret the services check. */
export const randomSecret = (): string => randomBytes(30).toString('base64url');

/** Every secret the idp needs in production, fresh; the adapter's and the internal secret too, which the caller shares with the services that present them. */
export function idpProductionSecrets(): Record<string, string> {
  return {
    LEGACY_ADAPTER_SECRET: randomSecret(),
    IDP_INTERNAL_SECRET: randomSecret(),
    IDP_INTERACTION_SECRET: randomSecret(),
    IDP_REGISTRATION_ACCESS_TOKEN: randomSecret(),
    IDP_CLIENT_SECRET_KEY: randomSecret(),
    IDP_KEY_ENCRYPTION_KEY: randomSecret(),
    IDP_COOKIE_KEYS: randomSecret(),
  };
}
