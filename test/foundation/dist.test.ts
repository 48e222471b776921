// Production runs `node dist/<service>/main.js`: prove the compiled output starts and
// answers, with the files it reads next to its code. CI builds before it tests.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, startServiceProcess } from '../support/processes.ts';

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
    } finally {
      assert.equal(await service_.stop(), 0, service_.output());
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
