// Client secrets for the clients file: generated here, never chosen.
//
//   IDP_CLIENT_SECRET_KEY=... node idp/cli/clients.ts new-secret
//
// prints a fresh secret (hand it to the client's operators, once) and the client_secret_hash
// line for idp/clients.yaml. The hash is keyed with IDP_CLIENT_SECRET_KEY, so run it with the
// same value the idp runs with.
import { ConfigError } from '../../lib/config.ts';
import { loadIdpConfig } from '../config.ts';
import { generateClientSecret, hashClientSecret } from '../oidc/client-secrets.ts';

function main(argv: string[]): number {
  if (argv[0] !== 'new-secret') {
    console.error('usage: node idp/cli/clients.ts new-secret');
    return 64;
  }
  let key: string;
  try {
    key = loadIdpConfig().IDP_CLIENT_SECRET_KEY;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 78;
    }
    throw error;
  }
  const secret = generateClientSecret();
  console.log(`client secret (give it to the client, it is not stored anywhere): ${secret}`);
  console.log(`for the clients file:\n    client_secret_hash: "${hashClientSecret(secret, key)}"`);
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
