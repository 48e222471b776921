// legacy-php-2's api/orders.php believes its proxy's user header only from the proxy's address.
// php -S listens on 127.0.0.1; requests sent from 127.0.0.1 come "from the proxy", requests sent
// from 127.0.0.2 (also loopback) come from anybody else.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, it } from 'node:test';
import { describeOrSkip, legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { demoMember, MembersBrowser, startLegacyPhp2, type LegacyPhp2 } from '../support/legacy-php-2.ts';

const PROXY = '127.0.0.1';
const STRANGER = '127.0.0.2';

interface Answer {
  status: number;
  body: { ok: boolean; error?: string; member?: { id: number; handle: string }; orders?: unknown[] };
  setCookie: string[];
}

/** GET api/orders.php from `localAddress`, with `headers`. */
function orders(site: LegacyPhp2, localAddress: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${site.url}/api/orders.php`, { localAddress, headers, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), setCookie: res.headers['set-cookie'] ?? [] }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function sessionCookie(site: LegacyPhp2, handle: string): Promise<string> {
  const browser = new MembersBrowser(site);
  const member = demoMember(handle);
  assert.equal((await browser.login(member.handle, member.password)).status, 302);
  return `${site.sessionName}=${browser.sessionId()}`;
}

const configurations = [
  { db: 'mysql' as const, header: 'X-Remote-User', proxies: [PROXY] },
  // Another header name and a list: both are the site's settings.
  { db: 'sqlite' as const, header: 'X-Forwarded-User', proxies: ['10.1.2.3', PROXY] },
];

for (const config of configurations) {
  const reason = await legacyPhpUnavailableReason({ db: config.db, sessionStore: 'redis' });

  describeOrSkip(`legacy-php-2 api/orders.php and its trusted proxy (${config.db}, ${config.header})`, reason, () => {
    let site: LegacyPhp2;

    before(async () => {
      site = await startLegacyPhp2({ db: config.db, trustedProxies: config.proxies, proxyUserHeader: config.header });
    });
    after(async () => {
      await site?.stop();
    });

    it('from the proxy, the header names the member, whatever the session says', async () => {
      const clara = await orders(site, PROXY, { [config.header]: 'clara' });
      assert.equal(clara.status, 200);
      assert.deepEqual(clara.body.member, { id: 3, handle: 'clara' });
      assert.deepEqual(clara.body.orders, [{ id: 3, item: 'Poster', qty: 1, total: '19.99', placed: '2011-10-30' }]);
      assert.deepEqual(clara.setCookie, [], 'the API never starts a session');

      const over = await orders(site, PROXY, { [config.header]: 'EMMA', cookie: await sessionCookie(site, 'anna') });
      assert.deepEqual(over.body.member, { id: 5, handle: 'emma' });
    });

    it('from the proxy, an unknown or banned member is 403, and no header falls back to the session', async () => {
      for (const name of ['nobody', 'frank']) {
        const answer = await orders(site, PROXY, { [config.header]: name });
        assert.equal(answer.status, 403, name);
        assert.deepEqual(answer.body, { ok: false, error: 'unknown member' });
      }
      assert.equal((await orders(site, PROXY)).status, 401);
      const anna = await orders(site, PROXY, { cookie: await sessionCookie(site, 'anna') });
      assert.equal(anna.status, 200);
      assert.equal(anna.body.member?.handle, 'anna');
      assert.equal(anna.body.orders?.length, demoMember('anna').orders);
    });

    it('from anywhere else, the header is ignored: no session is 401, a session is its own member', async () => {
      const forged = await orders(site, STRANGER, { [config.header]: 'emma' });
      assert.equal(forged.status, 401);
      assert.deepEqual(forged.body, { ok: false, error: 'login required' });
      const own = await orders(site, STRANGER, { [config.header]: 'emma', cookie: await sessionCookie(site, 'anna') });
      assert.equal(own.status, 200);
      assert.deepEqual(own.body.member, { id: 1, handle: 'anna' });
    });

    it('only the configured header counts', async () => {
      const other = config.header === 'X-Remote-User' ? 'X-Forwarded-User' : 'X-Remote-User';
      assert.equal((await orders(site, PROXY, { [other]: 'clara' })).status, 401);
    });
  });
}

const defaultReason = await legacyPhpUnavailableReason({ db: 'sqlite', sessionStore: 'redis' });
describeOrSkip('legacy-php-2 api/orders.php with no trusted proxy configured (the default)', defaultReason, () => {
  let site: LegacyPhp2;
  before(async () => {
    site = await startLegacyPhp2({ db: 'sqlite' });
  });
  after(async () => {
    await site?.stop();
  });

  it('believes no header from any address', async () => {
    assert.equal(site.env.MEMBERS_TRUSTED_PROXIES, '');
    for (const from of [PROXY, STRANGER]) assert.equal((await orders(site, from, { 'X-Remote-User': 'emma' })).status, 401, from);
  });
});
