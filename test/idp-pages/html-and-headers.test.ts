import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCsrfTokens } from '../../idp/interactions/csrf.ts';
import { escapeHtml, html, raw } from '../../lib/html.ts';
import { errorPageBody } from '../../idp/interactions/provider-pages.ts';
import { contentSecurityPolicy, formTargetSource } from '../../lib/page-headers.ts';

test('escapeHtml neutralises every character that can open markup or leave an attribute', () => {
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&\`</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;');
  assert.equal(escapeHtml(undefined), '');
  assert.equal(escapeHtml(42), '42');
});

test('html escapes what it interpolates, except Html, and renders lists and falsy values sensibly', () => {
  const name = '<b>"x"</b>';
  assert.equal(html`<p title="${name}">${name}</p>`.value, '<p title="&lt;b&gt;&quot;x&quot;&lt;/b&gt;">&lt;b&gt;&quot;x&quot;&lt;/b&gt;</p>');
  assert.equal(html`<ul>${['<1>', '2'].map((s) => html`<li>${s}</li>`)}</ul>`.value, '<ul><li>&lt;1&gt;</li><li>2</li></ul>');
  assert.equal(html`a${false}b${null}c${undefined}d`.value, 'abcd');
  assert.equal(html`${raw('<form></form>')}`.value, '<form></form>');
});

test('form-action allows only the origin or private-use scheme of a redirect target', () => {
  assert.equal(formTargetSource('https://app.example/cb?x=1#y'), 'https://app.example');
  assert.equal(formTargetSource('http://127.0.0.1:53123/callback'), 'http://127.0.0.1:53123');
  assert.equal(formTargetSource('com.example.app:/oauth2redirect'), 'com.example.app:');
  assert.equal(formTargetSource('not a url'), undefined);
  assert.equal(formTargetSource(undefined), undefined);
  // Nothing from the URI can add a directive.
  const csp = contentSecurityPolicy({ formTargets: ['https://a.example/x;script-src *', "https://b.example/'unsafe-inline'"], ownAssets: true });
  assert.equal(csp.split(';').length, 6);
  assert.doesNotMatch(csp, /script-src|unsafe-inline/);
  assert.match(csp, /form-action 'self' https:\/\/a\.example https:\/\/b\.example;/);
});

test('CSRF tokens are bound to one interaction and one secret', () => {
  const tokens = createCsrfTokens('secret-one');
  const token = tokens.issue('uid-1');
  assert.equal(tokens.verify('uid-1', token), true);
  assert.equal(tokens.verify('uid-2', token), false);
  assert.equal(createCsrfTokens('secret-two').verify('uid-1', token), false);
  assert.equal(tokens.verify('uid-1', undefined), false);
  assert.equal(tokens.verify('uid-1', ''), false);
  assert.equal(tokens.verify('uid-1', [token]), false);
  assert.throws(() => createCsrfTokens(''));
});

test("the error page names the error code but never a server error's details", () => {
  const server = errorPageBody({ error: 'server_error', error_description: 'ECONNREFUSED 10.0.0.5:6379 at Redis.connect' });
  assert.doesNotMatch(server, /ECONNREFUSED|10\.0\.0\.5|Redis/);
  assert.match(server, /Error code: server_error/);
  const odd = errorPageBody({ error: '<script>x</script>', error_description: 'y' });
  assert.match(odd, /Error code: server_error/);
  const request = errorPageBody({ error: 'invalid_scope', error_description: 'requested scope <x> is not allowed' });
  assert.match(request, /Error code: invalid_scope \(requested scope &lt;x&gt; is not allowed\)/);
});
