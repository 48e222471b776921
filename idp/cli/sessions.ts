// Ops command: sign an account out everywhere, over the idp's admin endpoint (README, "Ending
// sessions"). Every session of the account ends, every grant is revoked, and each client signed
// in through those sessions (the gateway among them: it ends the PHP sessions it made) gets a
// back-channel logout token.
//
//   IDP_ADMIN_TOKEN=... node idp/cli/sessions.ts end --user <sub>
//
// IDP_ADMIN_URL picks the idp (default http://127.0.0.1:3001), reached directly, not through the
// gateway. Exit codes: 0 done, 1 refused or failed (the reason is printed), 2 wrong usage.
import { parseArgs } from 'node:util';

const usage = `usage:
  node idp/cli/sessions.ts end --user <sub>
environment: IDP_ADMIN_TOKEN, IDP_ADMIN_URL (default http://127.0.0.1:3001)`;

function die(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { user: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } });
  if (values.help) die(usage, 0);
  if (positionals.length !== 1 || positionals[0] !== 'end' || !values.user) die(usage, 2);
  const token = process.env.IDP_ADMIN_TOKEN;
  if (!token) die(`IDP_ADMIN_TOKEN is not set\n${usage}`, 2);
  const base = (process.env.IDP_ADMIN_URL ?? 'http://127.0.0.1:3001').replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/internal/v1/users/${encodeURIComponent(values.user)}/sessions/end`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    die(`cannot reach the idp at ${base}: ${(error as Error).message}`, 1);
  }
  if (!res.ok) {
    await res.body?.cancel();
    die(`refused (HTTP ${res.status})`, 1);
  }
  const ended = (await res.json()) as { grants: number; sessions: number };
  console.log(`${values.user}: ${ended.sessions} session(s) ended, ${ended.grants} grant(s) revoked; their clients are being told by back-channel logout`);
}

await main();
