// Production runs `node dist/<service>/main.js`: prove the compiled output starts and
// answers, with the files it reads next to its code. CI builds before it tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, repoRoot, startServiceProcess } from '../../scripts/support/processes.ts';

/** The image's HEALTHCHECK command (deploy/Dockerfile), run here against the one service started. */
function dockerHealthcheck(env: Record<string, string>) {
  const match = /^HEALTHCHECK .*CMD (\[.*\])$/m.exec(readFileSync(join(repoRoot, 'deploy/Dockerfile'), 'utf8'));
  const [command, ...args] = JSON.parse(match![1]!) as string[];
  return spawnSync(command === 'node' ? process.execPath : command!, args, { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
}

const services = [
  ['gateway', 'GATEWAY_PORT'],
  ['idp', 'IDP_PORT'],
  ['legacy-adapter', 'LEGACY_ADAPTER_PORT'],
] as const;

for (const [service, portVariable] of services) {
  test(`node dist/${service}/main.js starts and answers /healthz`, async (t) => {
    const entry = join(repoRoot, 'dist', service, 'main.js');
    if (!existsSync(entry)) {
      console.warn(`\n*** SKIPPED: ${entry} does not exist; run \`npm run build\` first (CI does) ***\n`);
      return t.skip('dist/ not built');
    }
    const dir = mkdtempSync(join(tmpdir(), 'idm-dist-'));
    const service_ = await startServiceProcess(entry, portVariable, {
      DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
      LEGACY_DATABASE_URL: `sqlite:${join(dir, 'legacy.sqlite')}`,
    });
    try {
      const res = await fetch(`${service_.url}/healthz`);
      assert.equal(res.status, 200);
      assert.match(await (await fetch(`${service_.opsUrl}/metrics`)).text(), /http_requests_total/);
      // Only this service listens: the others' ops ports are free ones, as in its own container.
      const ports = { GATEWAY_OPS_PORT: String(await freePort()), IDP_OPS_PORT: String(await freePort()), LEGACY_ADAPTER_OPS_PORT: String(await freePort()) };
      const health = dockerHealthcheck({ ...ports, [portVariable.replace(/_PORT$/, '_OPS_PORT')]: new URL(service_.opsUrl).port });
      assert.equal(health.status, 0, `HEALTHCHECK: ${health.stderr}`);
    } finally {
      assert.equal(await service_.stop(), 0, service_.output());
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
