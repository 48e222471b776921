// The gateway's routes as ops change them in the chaos and zero-downtime tests: a flip through the
// admin API, and afterwards the check that every gateway serves what the audit log says ops chose.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { adminRequest } from './agent.ts';
import { StepFailed } from './flows.ts';
import type { ChaosStack } from './stack.ts';

interface FlagView {
  name: string;
  mode: string;
  percent: number | null;
}

/** Flips `route` through the gateway's admin API, as ops do. */
export async function flip(stack: ChaosStack, route: string, to: { mode: string; percent?: number }, reason: string, deadlineMs: number): Promise<void> {
  const answer = await adminRequest(
    stack.gateway,
    stack.adminToken,
    'PUT',
    `/admin/api/routes/${route}/flag`,
    { ...to, reason, actor: 'chaos test' },
    deadlineMs,
  );
  if (answer.status !== 200) throw new StepFailed(`PUT /admin/api/routes/${route}/flag`, answer);
}

/**
 * Every gateway (each worker, each replica behind the balancer: calls in a row, each on a
 * connection of its own) serves, for each route, the flag the audit log's last flip chose;
 * resolves with those last flips.
 */
export async function checkFlags(
  t: Pick<TestContext, 'diagnostic'>,
  stack: ChaosStack,
  deadlineMs: number,
): Promise<Map<string, { mode: string; percent?: number }>> {
  const audit = await adminRequest(stack.gateway, stack.adminToken, 'GET', '/admin/api/audit?limit=500', undefined, deadlineMs);
  assert.equal(audit.status, 200, audit.body);
  const audited = new Map<string, { mode: string; percent?: number }>();
  // Newest first: the first entry of a route is what ops chose last.
  for (const entry of (JSON.parse(audit.body) as { entries: Array<{ route: string; to: { mode: string; percent?: number } }> }).entries) {
    if (!audited.has(entry.route)) audited.set(entry.route, entry.to);
  }
  // Several calls in a row: each worker of the gateway answers some.
  for (let call = 0; call < 2 * Math.max(2, stack.gateways.length); call++) {
    const answer = await adminRequest(stack.gateway, stack.adminToken, 'GET', '/admin/api/routes', undefined, deadlineMs);
    assert.equal(answer.status, 200, answer.body);
    const served = (JSON.parse(answer.body) as { routes: FlagView[] }).routes;
    for (const [route, chosen] of audited) {
      const view = served.find((r) => r.name === route);
      const actual = view ? { mode: view.mode, ...(view.percent === null ? {} : { percent: view.percent }) } : undefined;
      assert.deepEqual(
        actual,
        chosen,
        `route ${route} (call ${call + 1}): the gateway serves ${JSON.stringify(view)}, the audit log's last flip says ${JSON.stringify(chosen)}`,
      );
    }
  }
  t.diagnostic(`audited routes: ${JSON.stringify(Object.fromEntries(audited))}`);
  return audited;
}
