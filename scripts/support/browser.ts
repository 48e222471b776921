// A minimal user agent for the authorization endpoint: a cookie jar and manual redirects, so a
// test sees every hop (to the interaction, back to /auth, to the client's redirect URI).
import assert from 'node:assert/strict';

export class UserAgent {
  readonly #cookies = new Map<string, string>();

  cookieHeader(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  #store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || attributes.some((a) => /^\s*max-age=0/i.test(a));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size) headers.set('cookie', this.cookieHeader());
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.#store(response);
    return response;
  }
}

export function location(response: Response, base: string): URL {
  const value = response.headers.get('location');
  assert.ok(value, `expected a redirect, got ${response.status}`);
  return new URL(value, base);
}

export interface Credentials {
  username: string;
  password: string;
}

/**
 * Drives an authorization request through login and consent until the idp redirects to
 * `redirectUri`; returns that redirect (the client's callback URL with code or error).
 */
export async function authorize(agent: UserAgent, authUrl: URL, redirectUri: string, credentials?: Credentials): Promise<URL> {
  let next = authUrl;
  for (let hop = 0; hop < 10; hop++) {
    const response = await agent.request(next);
    await response.body?.cancel();
    assert.ok(response.status >= 300 && response.status < 400, `expected a redirect from ${next.pathname}, got ${response.status}`);
    const target = location(response, next.href);
    if (target.href.startsWith(redirectUri)) return target;
    const interaction = /^\/interaction\/([^/]+)$/.exec(target.pathname);
    assert.ok(interaction, `unexpected redirect to ${target.href}`);
    const base = `${target.origin}/interaction/${interaction[1]}`;
    const prompt = (await (await agent.request(`${base}/test-prompt`)).json()) as { name: string };
    let finished: Response;
    if (prompt.name === 'login') {
      assert.ok(credentials, 'the idp asks for a login and the test gave no credentials');
      finished = await agent.request(`${base}/test-login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(credentials),
      });
    } else {
      finished = await agent.request(`${base}/test-consent`, { method: 'POST' });
    }
    await finished.body?.cancel();
    assert.ok(finished.status >= 300 && finished.status < 400, `interaction step answered ${finished.status}`);
    next = location(finished, base);
  }
  throw new Error('too many redirects');
}
