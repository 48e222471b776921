/* global window, document, location, sessionStorage, crypto, fetch, TextEncoder, TextDecoder, atob, URLSearchParams */
// The browser test's single-page app: signs in with response_type=id_token token.
// oidc-client-ts 3 builds only code-flow requests ("Only the Authorization Code flow (with
// PKCE) is supported"), so it serves here for what it does for any flow: discovery and the
// JWKS (MetadataService), parsing the redirect's state and error (SigninResponse), and the
// signed-in user (User). The implicit request and the checks an implicit client owes the
// id_token (signature, iss, aud, nonce, exp, and at_hash binding the access token to it)
// are this file's, with WebCrypto.
const { MetadataService, OidcClientSettingsStore, SigninResponse, User } = window.oidc;

const config = await (await fetch('/config.json')).json();
const settings = new OidcClientSettingsStore({
  authority: config.issuer,
  client_id: config.clientId,
  redirect_uri: config.redirectUri,
  scope: config.scope,
});
const metadata = new MetadataService(settings);
const result = document.getElementById('result');

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return window.btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

const random = () => base64url(crypto.getRandomValues(new Uint8Array(24)));

const ALGORITHMS = {
  RS256: { key: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, verify: { name: 'RSASSA-PKCS1-v1_5' }, hash: 'SHA-256' },
  PS256: { key: { name: 'RSA-PSS', hash: 'SHA-256' }, verify: { name: 'RSA-PSS', saltLength: 32 }, hash: 'SHA-256' },
  ES256: { key: { name: 'ECDSA', namedCurve: 'P-256' }, verify: { name: 'ECDSA', hash: 'SHA-256' }, hash: 'SHA-256' },
  ES384: { key: { name: 'ECDSA', namedCurve: 'P-384' }, verify: { name: 'ECDSA', hash: 'SHA-384' }, hash: 'SHA-384' },
  EdDSA: { key: { name: 'Ed25519' }, verify: { name: 'Ed25519' }, hash: 'SHA-512' },
  Ed25519: { key: { name: 'Ed25519' }, verify: { name: 'Ed25519' }, hash: 'SHA-512' },
};

/** OIDC Core 3.2.2.9: the left half of the hash of the access token's ASCII, base64url. */
async function atHash(accessToken, alg) {
  const algorithm = ALGORITHMS[alg];
  if (!algorithm) throw new Error(`unsupported id_token alg ${alg}`);
  const digest = new Uint8Array(await crypto.subtle.digest(algorithm.hash, new TextEncoder().encode(accessToken)));
  return base64url(digest.slice(0, digest.length / 2));
}
window.spaAtHash = atHash;

async function verifySignature(idToken, header) {
  const algorithm = ALGORITHMS[header.alg];
  if (!algorithm) throw new Error(`unsupported id_token alg ${header.alg}`);
  const keys = await metadata.getSigningKeys();
  const jwk = keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no published key ${header.kid}`);
  const key = await crypto.subtle.importKey('jwk', jwk, algorithm.key, false, ['verify']);
  const [h, p, s] = idToken.split('.');
  return crypto.subtle.verify(algorithm.verify, key, fromBase64url(s), new TextEncoder().encode(`${h}.${p}`));
}

async function signIn() {
  const state = random();
  const nonce = random();
  sessionStorage.setItem('spa.pending', JSON.stringify({ state, nonce }));
  const url = new URL(await metadata.getAuthorizationEndpoint());
  url.search = new URLSearchParams({
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    response_type: 'id_token token',
    scope: config.scope,
    state,
    nonce,
  }).toString();
  location.assign(url.href);
}

async function completeSignIn() {
  const params = new URLSearchParams(location.hash.slice(1));
  const response = new SigninResponse(params);
  if (response.error) throw new Error(`${response.error}: ${response.error_description ?? ''}`);
  const pending = JSON.parse(sessionStorage.getItem('spa.pending') ?? 'null');
  sessionStorage.removeItem('spa.pending');
  if (!pending || response.state !== pending.state) throw new Error('state does not match the request');
  const idToken = params.get('id_token');
  const accessToken = params.get('access_token');
  if (!idToken || !accessToken) throw new Error('the response lacks id_token or access_token');
  const [h, p] = idToken.split('.');
  const header = JSON.parse(new TextDecoder().decode(fromBase64url(h)));
  const claims = JSON.parse(new TextDecoder().decode(fromBase64url(p)));
  const now = Math.floor(Date.now() / 1000);
  const checks = {
    signature: await verifySignature(idToken, header),
    iss: claims.iss === (await metadata.getIssuer()),
    aud: [].concat(claims.aud).includes(config.clientId),
    nonce: claims.nonce === pending.nonce,
    exp: typeof claims.exp === 'number' && claims.exp > now,
    at_hash: typeof claims.at_hash === 'string' && claims.at_hash === (await atHash(accessToken, header.alg)),
  };
  const failed = Object.entries(checks)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  if (failed.length) throw new Error(`id_token checks failed: ${failed.join(', ')}`);
  const user = new User({
    id_token: idToken,
    access_token: accessToken,
    token_type: params.get('token_type') ?? 'Bearer',
    scope: params.get('scope') ?? config.scope,
    profile: claims,
    expires_at: now + Number(params.get('expires_in') ?? 0),
  });
  sessionStorage.setItem('spa.user', user.toStorageString());
  // The token leaves the address bar and the history entry.
  window.history.replaceState(null, '', location.pathname);
  return { signedIn: true, sub: user.profile.sub, alg: header.alg, checks, expiresIn: user.expires_in, accessToken: user.access_token, idToken: user.id_token };
}

if (location.pathname === '/callback.html') {
  completeSignIn().then(
    (outcome) => {
      result.textContent = JSON.stringify(outcome);
      document.body.dataset.state = 'signed-in';
    },
    (error) => {
      result.textContent = JSON.stringify({ signedIn: false, error: String(error && error.message ? error.message : error) });
      document.body.dataset.state = 'error';
    },
  );
} else {
  const button = document.getElementById('signin');
  button.addEventListener('click', () => {
    signIn().catch((error) => {
      result.textContent = JSON.stringify({ signedIn: false, error: String(error) });
      document.body.dataset.state = 'error';
    });
  });
  button.disabled = false;
  document.body.dataset.state = 'ready';
}
