import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface ReadinessCheck {
  name: string;
  check(): Promise<unknown>;
}

const CHECK_TIMEOUT_MS = 2_000;
/** Probes, a load balancer and a curious operator at once cost one round of checks a second, not one each. */
const RESULT_TTL_MS = 1_000;

async function runCheck(c: ReadinessCheck): Promise<[string, string]> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      c.check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return [c.name, 'ok'];
  } catch (error) {
    return [c.name, `failing: ${(error as Error).message || 'error'}`];
  } finally {
    clearTimeout(timer);
  }
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}

/**
 * `/healthz` says the process is alive (never touches a dependency, so a database outage
 * does not get every replica restarted); `/readyz` says it should get traffic.
 */
export function healthHandler(checks: ReadinessCheck[], isDraining: () => boolean) {
  let latest: { at: number; results: Promise<Record<string, string>> } | undefined;
  const results = () => {
    const now = performance.now();
    if (!latest || now - latest.at >= RESULT_TTL_MS) {
      // Timed from the start of the round: a round still running is shared, not repeated.
      latest = { at: now, results: Promise.all(checks.map(runCheck)).then(Object.fromEntries) };
    }
    return latest.results;
  };
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') {
      send(res, 200, { status: 'ok' });
      return true;
    }
    if (path === '/readyz') {
      if (isDraining()) {
        send(res, 503, { status: 'draining' });
        return true;
      }
      const outcome = await results();
      const ready = Object.values(outcome).every((r) => r === 'ok');
      send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks: outcome });
      return true;
    }
    return false;
  };
}
