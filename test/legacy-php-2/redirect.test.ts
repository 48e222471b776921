// legacy-php-2's login page follows ?redirect= (carried through the form), refuses full URLs,
// and, as such sites did, lets a protocol-relative "//host" through: whatever reads the
// parameter on its behalf must not trust it.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeOrSkip, legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { demoMember, MembersBrowser, startLegacyPhp2, type LegacyPhp2 } from '../support/legacy-php-2.ts';

const reason = await legacyPhpUnavailableReason({ db: 'mysql', sessionStore: 'redis' });

describeOrSkip('legacy-php-2 ?redirect= on the login page', reason, () => {
  let site: LegacyPhp2;
  const anna = demoMember('anna');

  before(async () => {
    site = await startLegacyPhp2({ db: 'mysql' });
  });
  after(async () => {
    await site?.stop();
  });

  it('a page that needs a login sends the visitor to the form with itself as the target, and the form carries it', async () => {
    const browser = new MembersBrowser(site);
    const account = await browser.get('account.php');
    assert.equal(account.status, 302);
    assert.equal(account.headers.get('location'), '/login.php?redirect=%2Faccount.php');
    const form = await browser.get('login.php?redirect=%2Fapi%2Forders.php%3Fx%3D1');
    assert.equal(form.status, 200);
    assert.match(form.body, /<input type="hidden" name="redirect" value="\/api\/orders\.php\?x=1">/);
    assert.match(form.body, /name="handle"/);
    assert.match(form.body, /name="pass"/);
    assert.equal(browser.sessionId(), undefined, 'the form starts no session');
  });

  it('a target on the site is followed, after the login and for a member already logged in', async () => {
    const browser = new MembersBrowser(site);
    const login = await browser.login(anna.handle, anna.password, '/api/orders.php?x=1');
    assert.equal(login.status, 302);
    assert.equal(login.headers.get('location'), '/api/orders.php?x=1');
    const again = await browser.get('login.php?redirect=%2Findex.php');
    assert.equal(again.status, 302);
    assert.equal(again.headers.get('location'), '/index.php');
  });

  it('no target, a full URL, a relative path or a header injection attempt end on the account page', async () => {
    for (const target of [undefined, '', 'https://elsewhere.example/', 'http:/elsewhere.example', 'account.php', 'javascript:alert(1)', '/x\r\nSet-Cookie: a=b']) {
      const browser = new MembersBrowser(site);
      const login = await browser.login(anna.handle, anna.password, target);
      assert.equal(login.status, 302, JSON.stringify(target));
      assert.equal(login.headers.get('location'), '/account.php', JSON.stringify(target));
      assert.equal(login.headers.get('set-cookie')?.includes('a=b'), false);
    }
  });

  it('KNOWN HOLE, kept on purpose: a protocol-relative //host (or /\\host) target is followed off-site', async () => {
    for (const target of ['//elsewhere.example/phish', '/\\elsewhere.example/phish']) {
      const browser = new MembersBrowser(site);
      const login = await browser.login(anna.handle, anna.password, target);
      assert.equal(login.status, 302);
      assert.equal(login.headers.get('location'), target);
      assert.equal(login.location?.host, 'elsewhere.example', 'a browser goes to another host');
    }
  });
});
