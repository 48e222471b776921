// The dual-write's books after a run: every password change the idp confirmed reached the PHP
// monolith (its login takes the password the idp holds), and the outbox relayed every event,
// none pending, none given up, one per confirmed change (and at most one per change whose
// answer was lost).
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { verifyPassword } from '../../../lib/passwords/index.ts';
import { LegacyBrowser } from '../legacy-php.ts';
import type { PasswordUser } from './load.ts';
import type { ChaosStack } from './stack.ts';

/** Waits until the outbox has nothing left to relay (the relay retries on its own); the rows then. */
async function drainedOutbox(stack: ChaosStack): Promise<Array<{ status: string; n: number }>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = (await stack.idpDb('legacy_outbox').select('status').count({ n: '*' }).groupBy('status')) as Array<{ status: string; n: number | string }>;
    const byStatus = rows.map((r) => ({ status: r.status, n: Number(r.n) }));
    if (!byStatus.some((r) => r.status === 'pending') || Date.now() > deadline) return byStatus;
    await sleep(250);
  }
}

/** The password the idp holds for `user`, among the ones it may hold. */
async function idpPassword(stack: ChaosStack, user: PasswordUser): Promise<string | undefined> {
  const row = (await stack.idpDb('users').where({ username: user.login }).first('password_hash')) as { password_hash: string } | undefined;
  for (const candidate of user.candidates) if (row && (await verifyPassword(candidate, { hash: row.password_hash })).ok) return candidate;
  return undefined;
}

export async function checkDualWrite(t: Pick<TestContext, 'diagnostic'>, stack: ChaosStack, users: PasswordUser[]): Promise<void> {
  const outbox = await drainedOutbox(stack);
  t.diagnostic(`outbox after the run: ${JSON.stringify(outbox)}`);
  const lost: string[] = [];
  let checked = 0;
  for (const user of users.filter((u) => u.changes > 0 || u.candidates.length > 1)) {
    const held = await idpPassword(stack, user);
    if (held === undefined) {
      lost.push(`${user.login}: the idp holds none of the passwords the test set`);
      continue;
    }
    checked++;
    const php = await new LegacyBrowser(stack.php.url).login(user.login, held);
    if (php.status !== 302 || !php.location?.pathname.endsWith('account.php'))
      lost.push(`${user.login}: the PHP site refuses the password the idp holds (after ${user.changes} confirmed changes)`);
  }
  t.diagnostic(`password users checked on the PHP site: ${checked}`);
  assert.deepEqual(lost, [], 'every password change reached the PHP site');
  assert.deepEqual(
    outbox.filter((r) => r.status !== 'relayed'),
    [],
    'every outbox event relayed (none pending, none given up)',
  );
  // One event per change the idp confirmed, and at most one more per change whose answer was lost.
  const relayed = outbox.find((r) => r.status === 'relayed')?.n ?? 0;
  const confirmed = users.reduce((sum, u) => sum + u.changes, 0);
  const unsure = users.reduce((sum, u) => sum + u.candidates.length - 1, 0);
  assert.ok(relayed >= confirmed && relayed <= confirmed + unsure, `${relayed} events relayed for ${confirmed} confirmed changes and ${unsure} unsure ones`);
}
