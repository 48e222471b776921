/** The two internal calls of the session bridge: who the idp user is on the monolith, and its PHP session. */
export interface SessionBridgeClient {
  /** The legacy account of an idp user (`sub`), or undefined when there is none (or it is inactive). */
  legacyIdOf(sub: string): Promise<string | undefined>;
  /** A fresh PHP session for that legacy account; undefined when the monolith has no such active user. */
  createSession(legacyId: string): Promise<string | undefined>;
  deleteSession(sessionId: string): Promise<void>;
}

export class BridgeUnavailableError extends Error {
  constructor(what: string, status?: number) {
    super(`${what} unavailable${status === undefined ? '' : ` (HTTP ${status})`}`);
    this.name = 'BridgeUnavailableError';
  }
}

export function createSessionBridgeClient(options: { idpUrl: string; idpSecret: string; adapterUrl: string; adapterSecret: string; timeoutMs: number }): SessionBridgeClient {
  const idp = options.idpUrl.replace(/\/+$/, '');
  const adapter = options.adapterUrl.replace(/\/+$/, '');
  const call = async (what: string, url: string, secret: string, init: RequestInit = {}) => {
    try {
      return await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${secret}` }, signal: AbortSignal.timeout(options.timeoutMs) });
    } catch {
      throw new BridgeUnavailableError(what);
    }
  };
  return {
    async legacyIdOf(sub) {
      const res = await call('idp', `${idp}/internal/v1/users/${encodeURIComponent(sub)}/legacy-identity`, options.idpSecret);
      if (res.status === 404) return void (await res.body?.cancel());
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new BridgeUnavailableError('idp', res.status);
      }
      const body = (await res.json()) as { legacyId?: unknown };
      return typeof body.legacyId === 'string' ? body.legacyId : undefined;
    },
    async createSession(legacyId) {
      const res = await call('legacy-adapter', `${adapter}/internal/v1/sessions`, options.adapterSecret, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ legacyId }),
      });
      if (res.status === 404) return void (await res.body?.cancel());
      if (res.status !== 201) {
        await res.body?.cancel();
        throw new BridgeUnavailableError('legacy-adapter', res.status);
      }
      const body = (await res.json()) as { sessionId?: unknown };
      if (typeof body.sessionId !== 'string') throw new BridgeUnavailableError('legacy-adapter');
      return body.sessionId;
    },
    async deleteSession(sessionId) {
      const res = await call('legacy-adapter', `${adapter}/internal/v1/sessions/${encodeURIComponent(sessionId)}`, options.adapterSecret, { method: 'DELETE' });
      await res.body?.cancel();
      // 400: not a session id PHP could have made, so there is nothing to delete.
      if (res.status !== 204 && res.status !== 400) throw new BridgeUnavailableError('legacy-adapter', res.status);
    },
  };
}
