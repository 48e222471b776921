// `idm sessions end --user <sub>`: sign an account out everywhere, over the idp's admin endpoint
// (docs/idp.md, "Ending sessions everywhere"). Every session of the account ends, every grant is revoked, and
// each client signed in through those sessions (the gateway among them: it ends the PHP sessions
// it made) gets a back-channel logout token.
//
//   IDP_ADMIN_TOKEN=... idm sessions end --user <sub> [--json]
//
// IDP_ADMIN_URL picks the idp (default http://127.0.0.1:3001), reached directly, not through the
// gateway. Exit codes: 0 done, 1 refused or failed (the reason is printed), 2 wrong usage,
// 78 a variable is malformed.
import { fillPath } from '../../contracts/endpoint.ts';
import { endSessionsEndpoint } from '../../contracts/idp-internal-api.ts';
import { readCommandArgs, UsageError } from '../../lib/cli/args.ts';
import { ConfigError, loadConfig } from '../../lib/config.ts';
import { sessionsCliEnv } from './env.ts';

const usage = `usage: idm sessions end --user <sub> [--json]
environment: IDP_ADMIN_TOKEN, IDP_ADMIN_URL (default http://127.0.0.1:3001)`;

function fail(message: string, code: number): number {
  console.error(message);
  return code;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = readCommandArgs(
    argv,
    { name: 'sessions', usage, positionals: true, options: { user: { type: 'string' }, json: { type: 'boolean', default: false } } },
    ({ values, positionals }) => {
      if (positionals.length !== 1 || positionals[0] !== 'end')
        throw new UsageError(positionals.length ? `unknown command ${positionals.join(' ')}` : 'which command?');
      if (!values.user) throw new UsageError('--user <sub> names the account');
      return { user: values.user, json: values.json };
    },
  );
  if (!parsed.ok) return parsed.exit;
  const values = parsed.args;
  let env;
  try {
    env = loadConfig(sessionsCliEnv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return fail(error.message, 78);
  }
  if (!env.IDP_ADMIN_TOKEN) return fail(`IDP_ADMIN_TOKEN is not set\n${usage}`, 2);
  const base = env.IDP_ADMIN_URL.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}${fillPath(endSessionsEndpoint.path, { sub: values.user })}`, {
      method: endSessionsEndpoint.method,
      headers: { authorization: `Bearer ${env.IDP_ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    return fail(`cannot reach the idp at ${base}: ${(error as Error).message}`, 1);
  }
  if (!res.ok) {
    await res.body?.cancel();
    return fail(`refused (HTTP ${res.status})`, 1);
  }
  const answer = endSessionsEndpoint.answer.safeParse(await res.json().catch(() => undefined));
  if (!answer.success) return fail('the idp answered something other than {grants, sessions}', 1);
  const ended = answer.data;
  console.log(
    values.json
      ? JSON.stringify({ user: values.user, sessions: ended.sessions, grants: ended.grants })
      : `${values.user}: ${ended.sessions} session(s) ended, ${ended.grants} grant(s) revoked; their clients are being told by back-channel logout`,
  );
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
