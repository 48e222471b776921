// Client secrets for the clients file: generated here, never chosen.
//
//   IDP_CLIENT_SECRET_KEY=... node idp/cli/clients.ts new-secret
//
// prints a fresh secret (hand it to the client's operators, once) and the client_secret_hash
// line for idp/clients.yaml. The hash is keyed with IDP_CLIENT_SECRET_KEY, so run it with the
// same value the idp runs with.
//
//   IDP_CLIENT_SECRET_KEY=... node idp/cli/clients.ts rehash < secret.txt
//
// reads an existing client's secret on stdin and prints its hash under the current key: after a
// key rotation, the clients file's hashes move to the new key without new secrets for anyone.
import { ConfigError } from '../../lib/config.ts';
import { loadIdpConfig } from '../config.ts';
import { generateClientSecret, hashClientSecret } from '../oidc/client-secrets.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (command !== 'new-secret' && command !== 'rehash') {
    console.error('usage: node idp/cli/clients.ts new-secret\n       node idp/cli/clients.ts rehash < file-holding-the-secret');
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
  if (command === 'rehash') {
    // Only the line ending is dropped: a generated secret has no other whitespace.
    const secret = (await readStdin()).replace(/\r?\n$/, '');
    if (!secret) {
      console.error('rehash: give the client secret on stdin');
      return 64;
    }
    console.log(`client_secret_hash: "${hashClientSecret(secret, key)}"`);
    return 0;
  }
  const secret = generateClientSecret();
  console.log(`client secret (give it to the client, it is not stored anywhere): ${secret}`);
  console.log(`for the clients file:\n    client_secret_hash: "${hashClientSecret(secret, key)}"`);
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
