// `idm clients`: client secrets for the clients file, generated here, never chosen.
//
//   IDP_CLIENT_SECRET_KEY=... idm clients new-secret [--json]
//
// prints a fresh secret (hand it to the client's operators, once) and the client_secret_hash
// line for idp/clients.yaml. The hash is keyed with IDP_CLIENT_SECRET_KEY, so run it with the
// same value the idp runs with.
//
//   IDP_CLIENT_SECRET_KEY=... idm clients rehash [--json] < secret.txt
//
// reads an existing client's secret on stdin and prints its hash under the current key: after a
// key rotation, the clients file's hashes move to the new key without new secrets for anyone.
// Exit codes: 0 done, 2 usage, 78 configuration.
import { readCommandArgs, UsageError } from '../../lib/cli/args.ts';
import { ConfigError } from '../../lib/config.ts';
import { loadIdpConfig } from '../config.ts';
import { generateClientSecret, hashClientSecret } from '../oidc/client-secrets.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const USAGE = `usage: idm clients new-secret [--json]
       idm clients rehash [--json] < file-holding-the-secret`;

export async function main(argv: string[]): Promise<number> {
  const parsed = readCommandArgs(
    argv,
    { name: 'clients', usage: USAGE, positionals: true, options: { json: { type: 'boolean', default: false } } },
    ({ values, positionals }) => {
      const [command, ...extra] = positionals;
      if ((command !== 'new-secret' && command !== 'rehash') || extra.length)
        throw new UsageError(command ? `unknown command ${positionals.join(' ')}` : 'which command?');
      return { command, json: values.json };
    },
  );
  if (!parsed.ok) return parsed.exit;
  const { command, json } = parsed.args;
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
      return 2;
    }
    const hash = hashClientSecret(secret, key);
    console.log(json ? JSON.stringify({ client_secret_hash: hash }) : `client_secret_hash: "${hash}"`);
    return 0;
  }
  const secret = generateClientSecret();
  if (json) {
    console.log(JSON.stringify({ client_secret: secret, client_secret_hash: hashClientSecret(secret, key) }));
    return 0;
  }
  console.log(`client secret (give it to the client, it is not stored anywhere): ${secret}`);
  console.log(`for the clients file:\n    client_secret_hash: "${hashClientSecret(secret, key)}"`);
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
