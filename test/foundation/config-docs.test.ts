// docs/configuration.md and .env.example are written from the zod schemas (npm run docs:config):
// this fails when a schema changed and the committed files were not regenerated, and when a
// variable is declared without a description.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { describe as describeVariable, generated, renderEnvExample, sections } from '../../scripts/generate-config-docs.ts';
import { repoRoot } from '../../scripts/support/processes.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { loadIdpConfig } from '../../idp/config.ts';
import { loadLegacyAdapterConfig } from '../../legacy-adapter/config.ts';

test('docs/configuration.md and .env.example are what npm run docs:config writes', () => {
  for (const [file, text] of generated()) {
    const committed = readFileSync(join(repoRoot, file), 'utf8');
    assert.ok(committed === text, `${file} is out of date with the zod schemas: run \`npm run docs:config\` and commit the result`);
  }
});

test('every variable a section lists has a description', () => {
  for (const section of sections) {
    for (const [name, schema] of Object.entries(section.shape)) assert.ok(describeVariable(name, schema).description.length > 10, name);
  }
});

test('.env.example, as generated, is a configuration every service starts with', () => {
  // The file is meant to be copied to .env: every value it assigns must pass the schemas.
  const env: Record<string, string> = {};
  for (const line of renderEnvExample().split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) env[match[1]!] = match[2]!;
  }
  assert.ok(Object.keys(env).length > 100, 'it lists the variables');
  assert.equal(env.IDP_ACCEPT_LEGACY_SESSION, 'true', 'the variable the hand-written file forgot');
  for (const load of [loadGatewayConfig, loadIdpConfig, loadLegacyAdapterConfig]) assert.doesNotThrow(() => load(env), load.name);
});

test('secrets are never given a value in .env.example', () => {
  for (const section of sections) {
    for (const [name, schema] of Object.entries(section.shape)) {
      const described = describeVariable(name, schema);
      if (described.secret === 'required') assert.equal(described.value, '', name);
    }
  }
  assert.doesNotMatch(renderEnvExample(), /dev-only-/);
});
