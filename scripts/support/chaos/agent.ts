// One browser of the chaos load: the cookie-keeping FormClient, at the gateway, as if reached at
// the public https origin through a load balancer (X-Forwarded-Proto, its own X-Forwarded-For),
// with a deadline on every request so that a hang is seen as one, and the idp's https redirects
// brought back to the gateway.
import { request } from 'node:http';
import { FormClient } from '../form-client.ts';

export interface Answer {
  /** The path (and query) that was requested. */
  path: string;
  status: number;
  body: string;
  /** The Location header as a path on the site (every redirect of these flows stays on it). */
  location: string | undefined;
  /** The Retry-After header: a 503 that carries one is an answer made on purpose. */
  retryAfter?: string | undefined;
}

/** No answer within the deadline: the request hung. */
export class Hung extends Error {
  readonly path: string;
  constructor(path: string, deadlineMs: number) {
    super(`no answer within ${deadlineMs} ms: ${path.split('?')[0]}`);
    this.path = path;
  }
}

/** The connection failed (reset, refused) before an answer. */
export class NoAnswer extends Error {
  constructor(path: string, cause: unknown) {
    const code = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as { code?: string }).code ?? (cause as Error).name;
    super(`no answer (${code}): ${path.split('?')[0]}`);
  }
}

/** A path on the site, whatever origin `url` names (the idp builds its URLs from the public one). */
export function sitePath(url: string): string {
  const parsed = new URL(url, 'https://site.invalid');
  return parsed.pathname + parsed.search;
}

export class Agent {
  readonly #browser: FormClient;
  readonly #deadlineMs: number;

  constructor(gateway: string, address: string, deadlineMs: number) {
    this.#browser = new FormClient(gateway, { 'x-forwarded-proto': 'https', 'x-forwarded-for': address });
    this.#deadlineMs = deadlineMs;
  }

  /** `headers`: more request headers, e.g. an API call's Authorization. */
  async request(url: string, form?: Record<string, string>, headers?: Record<string, string>): Promise<Answer> {
    const path = sitePath(url);
    const signal = AbortSignal.timeout(this.#deadlineMs);
    try {
      const res = await this.#browser.request(path, { ...(form ? { form } : {}), ...(headers ? { headers } : {}), signal });
      const location = res.headers.get('location');
      const retryAfter = res.headers.get('retry-after') ?? undefined;
      return { path, status: res.status, body: await res.text(), location: location === null ? undefined : sitePath(location), retryAfter };
    } catch (error) {
      if (signal.aborted) throw new Hung(path, this.#deadlineMs);
      throw new NoAnswer(path, error);
    }
  }
}

/**
 * A call to the gateway's admin API with its bearer token, each on a connection of its own:
 * the gateway's cluster hands connections to its workers in turn, so calls in a row ask each
 * of them.
 */
export function adminRequest(gateway: string, token: string, method: string, path: string, body: unknown, deadlineMs: number): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const signal = AbortSignal.timeout(deadlineMs);
  return new Promise((resolve, reject) => {
    const req = request(
      `${gateway}${path}`,
      { method, agent: false, signal, headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            path,
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            location: res.headers.location,
            retryAfter: res.headers['retry-after'],
          }),
        );
        res.on('error', (error) => reject(signal.aborted ? new Hung(path, deadlineMs) : new NoAnswer(path, error)));
      },
    );
    req.on('error', (error) => reject(signal.aborted ? new Hung(path, deadlineMs) : new NoAnswer(path, error)));
    req.end(payload);
  });
}
