// A service that cannot take its port must let go of everything it built before the listen
// (database pools, pollers, timers): otherwise a process that handles the failure, a test
// harness retrying on another port for one, never exits.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { commonEnv, loadConfig } from '../../lib/config.ts';
import { startService } from '../../lib/service.ts';

async function occupiedPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

for (const which of ['public', 'ops'] as const) {
  test(`the ${which} port already in use: the start fails with EADDRINUSE and closes what it built`, async () => {
    const taken = await occupiedPort();
    let closed = 0;
    const config = loadConfig(commonEnv, { LOG_LEVEL: 'silent' });
    const ports = which === 'public' ? { port: taken.port, opsPort: 0 } : { port: 0, opsPort: taken.port };
    try {
      await assert.rejects(
        startService('start-failure-test', config, ports, async () => ({
          handler: (_req, res) => res.end('hello'),
          checks: [],
          close: async () => {
            closed++;
          },
        })),
        { code: 'EADDRINUSE' },
      );
      assert.equal(closed, 1, 'the parts were closed once');
    } finally {
      await taken.close();
    }
  });
}
