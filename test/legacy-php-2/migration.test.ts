// The product against the second sample monolith with nothing but its mapping file: the database
// legacy-php-2's own seed wrote, read by check-mapping, the legacy-adapter's just-in-time login
// (every hash era) and the batch migration.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, it } from 'node:test';
import { createLoginRig } from '../jit-login/support.ts';
import { createDatabaseOfKind } from '../../scripts/support/databases.ts';
import { startAdapter } from '../../scripts/support/legacy-adapter.ts';
import { createIdpStore, loginServiceFor, spawnMigrate } from '../etl/support.ts';
import type { TestDatabase } from '../../scripts/support/databases.ts';
import { describeOrSkip, legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { LEGACY_PHP_2_MAPPING, MEMBERS_DEMO, startLegacyPhp2, type LegacyPhp2 } from '../support/legacy-php-2.ts';
import { repoRoot } from '../../scripts/support/processes.ts';
import { WEAK_SCHEMES, WRAPPED_SCHEME } from '../../lib/passwords/index.ts';
import { sample } from '../support/prometheus-text.ts';

const execFileAsync = promisify(execFile);
const active = MEMBERS_DEMO.filter((m) => !m.banned);

for (const kind of ['mysql', 'sqlite'] as const) {
  const reason = await legacyPhpUnavailableReason({ db: kind, sessionStore: 'redis' });

  describeOrSkip(`legacy-php-2 cut over by its mapping file (${kind})`, reason, () => {
    let site: LegacyPhp2;

    before(async () => {
      site = await startLegacyPhp2({ db: kind });
    });
    after(async () => {
      await site?.stop();
    });

    it('check-mapping reads the members table: every row recognised, dual-write possible, php_serialize sessions', async () => {
      const run = async (args: string[]) => {
        try {
          const { stdout } = await execFileAsync(process.execPath, ['legacy-adapter/cli/check-mapping.ts', '--mapping', LEGACY_PHP_2_MAPPING, ...args], {
            cwd: repoRoot,
            env: { PATH: process.env.PATH ?? '', LEGACY_DATABASE_URL: site.db.url },
          });
          return stdout;
        } catch (error) {
          const e = error as Error & { stdout?: string; stderr?: string };
          assert.fail(`check-mapping failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
        }
      };
      const report = JSON.parse(await run(['--json']));
      assert.equal(report.ready, true);
      assert.equal(report.rows, MEMBERS_DEMO.length);
      assert.equal(report.inactive, 1);
      const schemes: Record<string, number> = {};
      for (const m of MEMBERS_DEMO) schemes[m.scheme] = (schemes[m.scheme] ?? 0) + 1;
      assert.deepEqual(report.schemes, schemes);
      assert.equal(report.unrecognised.count, 0);
      assert.equal(report.write.canWrite, true);
      const session = report.session as { serialize_handler: string; store: { type: string }; cookie: { name: string }; keys: { name: string }[]; loggedInAs: string[] };
      assert.equal(session.serialize_handler, 'php_serialize');
      assert.equal(session.store.type, 'phpredis');
      assert.equal(session.cookie.name, 'MEMBERSID');
      assert.deepEqual(session.keys.map((k) => k.name), ['uid', 'uname', 'is_admin']);
      assert.deepEqual(session.loggedInAs, ['uid', 'uname']);

      const human = await run([]);
      assert.match(human, /READY: every row can migrate/);
      assert.match(human, /session\.serialize_handler = php_serialize/);
      assert.match(human, /\$_SESSION\['uid'\] and \$_SESSION\['uname'\]/);
    });

    it('the legacy-adapter verifies every hash era just in time; banned, wrong and unknown are refused', async () => {
      const idpDb: TestDatabase = await createDatabaseOfKind(kind);
      const adapter = await startAdapter(site.db.url, LEGACY_PHP_2_MAPPING);
      try {
        const rig = await createLoginRig(idpDb, adapter.url);
        // A documented superset (the mapping maps mail, the site logs in by handle only): the
        // adapter also finds a member by e-mail address.
        const byMail = await rig.login.login('CLARA@members.example', "clara's cat");
        assert.ok(byMail.ok);
        assert.equal(byMail.user.username, 'clara');
        for (const member of active) {
          const outcome = await rig.login.login(member.handle.toUpperCase(), member.password);
          assert.ok(outcome.ok, `${member.handle} (${member.scheme})`);
          assert.equal(outcome.user.username, member.handle);
          assert.equal(outcome.user.email, member.mail);
          assert.equal((await rig.users.findById(outcome.user.id))?.legacyId, String(member.id));
        }
        const metrics = await rig.metricsText();
        for (const scheme of new Set(active.map((m) => m.scheme))) {
          const imported = sample(metrics, 'idp_password_upgrades_total', { from_scheme: scheme, result: 'imported' });
          assert.equal(imported, active.filter((m) => m.scheme === scheme).length, scheme);
        }
        const frank = MEMBERS_DEMO.find((m) => m.banned)!;
        assert.equal((await rig.login.login(frank.handle, frank.password)).ok, false, 'banned');
        assert.equal((await rig.login.login('nobody', 'sunshine04')).ok, false, 'unknown');
        assert.equal((await rig.login.login('anna', 'sunshine05')).ok, false, 'wrong password');
      } finally {
        await adapter.stop();
        await idpDb.drop();
      }
    });

    it('the batch migration copies every member, who then log in without the legacy side', async () => {
      const idp = await createIdpStore(kind);
      try {
        const env = { ...idp.env, LEGACY_DATABASE_URL: site.db.url, LEGACY_MAPPING_FILE: LEGACY_PHP_2_MAPPING };
        const run = await spawnMigrate(['--json'], env).done;
        assert.equal(run.code, 0, run.stderr);
        const report = JSON.parse(run.stdout);
        assert.equal(report.counts.read, MEMBERS_DEMO.length);
        assert.equal(report.counts.inserted, MEMBERS_DEMO.length);
        assert.equal(report.complete, true);

        const rows = (await idp.knex('users').select('legacy_id', 'username', 'email', 'active', 'password_scheme').orderBy('legacy_id')) as Array<Record<string, unknown>>;
        assert.deepEqual(
          rows.map((r) => ({ ...r, active: Number(r.active) })),
          MEMBERS_DEMO.map((m) => ({ legacy_id: String(m.id), username: m.handle, email: m.mail, active: m.banned ? 0 : 1, password_scheme: WEAK_SCHEMES.includes(m.scheme) ? WRAPPED_SCHEME : m.scheme })),
        );
        // Nobody answers on the legacy side: the imported hashes alone must verify.
        const { login } = loginServiceFor(idp.knex);
        for (const member of active) assert.equal((await login.login(member.handle, member.password)).ok, true, member.handle);
        assert.equal((await login.login('Bernd', 'Kasekuchen7')).ok, false, 'UTF-8 bytes, not a lookalike');
      } finally {
        await idp.drop();
      }
    });
  });
}
