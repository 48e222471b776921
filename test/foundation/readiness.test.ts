// /readyz is cheap whoever asks: a burst of probes costs one round of checks, and a check that
// hangs is cut at its timeout rather than holding every caller.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, commonEnv } from '../../lib/config.ts';
import { startService } from '../../lib/service.ts';

test('a burst of /readyz calls runs the checks once, and each caller gets the same answer', async () => {
  let rounds = 0;
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const config = loadConfig(commonEnv, { LOG_LEVEL: 'silent' });
  const service = await startService('readiness-test', config, { port: 0, opsPort: 0 }, async () => ({
    handler: (_req, res) => res.end('hello'),
    checks: [
      {
        name: 'store',
        check: async () => {
          rounds++;
          await gate;
        },
      },
    ],
  }));
  try {
    let arrived = 0;
    service.opsServer.on('request', () => arrived++);
    const burst = Array.from({ length: 20 }, () => fetch(`${service.opsUrl}/readyz`).then(async (r) => [r.status, await r.json()] as const));
    // Every request is in before the (held) round answers: they all wait on that one round.
    while (arrived < 20) await new Promise((r) => setTimeout(r, 10));
    release();
    const answers = await Promise.all(burst);
    assert.equal(rounds, 1, 'one round of checks for the whole burst');
    for (const answer of answers) assert.deepEqual(answer, [200, { status: 'ready', checks: { store: 'ok' } }]);
  } finally {
    await service.stop();
  }
});
