// Drives the pages over HTTP the way a browser without JavaScript would: follows no redirect
// by itself, keeps cookies by path, posts forms.
import { createHash, randomBytes } from 'node:crypto';

interface Cookie {
  value: string;
  path: string;
}

export class FormClient {
  readonly base: string;
  readonly headers: Record<string, string>;
  readonly #cookies = new Map<string, Cookie>();
  /** Every Set-Cookie line received, as sent (for tests that look at attributes). */
  readonly setCookies: string[] = [];

  constructor(base: string, headers: Record<string, string> = {}) {
    this.base = base;
    this.headers = headers;
  }

  #cookieHeader(path: string): string {
    return [...this.#cookies]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; signal?: AbortSignal; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const target = new URL(url, this.base);
    const headers: Record<string, string> = { ...this.headers, ...init.headers, cookie: this.#cookieHeader(target.pathname) };
    const res = await fetch(target, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers: init.form ? { ...headers, 'content-type': 'application/x-www-form-urlencoded' } : headers,
      body: init.form ? new URLSearchParams(init.form) : undefined,
      redirect: 'manual',
      ...(init.signal ? { signal: init.signal } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair = '', ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const path = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = attributes.some((a) => /^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()) || !value;
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, { value, path });
    }
    return res;
  }

  /** Follows redirects on our own origin; stops at the first one that leaves it (the client's redirect URI). */
  async follow(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ res: Response; url: string; body: string }> {
    let res = await this.request(url, init);
    let current = new URL(url, this.base).href;
    for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops++) {
      const location = new URL(res.headers.get('location') ?? '', current).href;
      if (new URL(location).origin !== new URL(this.base).origin) return { res, url: location, body: '' };
      await res.body?.cancel();
      current = location;
      res = await this.request(location);
    }
    return { res, url: current, body: await res.text() };
  }
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(clientId: string, redirectUri: string, scope: string, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(8).toString('hex');
  const params = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  return { url: `/auth?${params}`, verifier, state };
}

/** The value of a hidden input in a form body. */
export function hiddenValue(body: string, name: string): string {
  const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(body);
  if (!match?.[1]) throw new Error(`no hidden ${name} in the page`);
  return match[1];
}
