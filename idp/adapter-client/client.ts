import type { z } from 'zod';
import { errorCodeOf } from '../../contracts/internal-error.ts';
import {
  authenticateEndpoint,
  LEGACY_ADAPTER_ERRORS,
  lookupEndpoint,
  passwordWriteEndpoint,
  sessionResolveEndpoint,
  type LegacyUserProfile,
  type PasswordWrite,
  type PasswordWriteResult,
} from '../../contracts/legacy-adapter-api.ts';
import type { LegacyImportRecord } from '../../contracts/legacy-import-record.ts';
import { LEGACY_SESSION_COOKIE_PATH, legacySessionCookieAnswer } from '../../contracts/legacy-session-cookie.ts';
import { propagationHeaders } from '../../lib/request-context.ts';
import type { NewLegacyUser } from '../users/types.ts';

export type { LegacyUserProfile };

/** The adapter or the legacy database did not answer properly; `detail` is a short code for logs and metrics (no secret in it). */
type Unavailable = { ok: false; reason: 'unavailable'; detail: string };

export type LegacyAuthentication =
  | { ok: true; user: LegacyUserProfile; scheme: string; fingerprint: string }
  /** Unknown login, wrong password, inactive or unreadable legacy row: the adapter does not say which. */
  | { ok: false; reason: 'rejected' }
  | Unavailable;

export type LegacyLookup = { ok: true; users: LegacyUserProfile[] } | Unavailable;

/** A lookup with the batch migration's import record of each user (absent for a row it cannot import). */
export type LegacyImportLookup = { ok: true; users: { user: LegacyUserProfile; import: NewLegacyUser | undefined }[] } | Unavailable;

/** A password change for the legacy row (dual-write): the hash is `$2y$` bcrypt, never a plaintext. */
export type LegacyPasswordWrite = PasswordWrite;

/**
 * What the adapter answered (contracts/legacy-adapter-api.ts), or `failed` when it did not answer
 * properly: not written, `detail` is a short code for the outbox row, logs and metrics.
 */
export type LegacyPasswordWriteResult = PasswordWriteResult | { ok: false; reason: 'failed'; detail: string };

/** The legacy user a PHP session is logged in as, with what importing them takes (their legacy hash). */
export type LegacySessionResolution =
  | { ok: true; user: LegacyUserProfile; import: NewLegacyUser }
  /** No live session, not logged in, malformed, unknown or inactive user: the adapter does not say which. */
  | { ok: false; reason: 'rejected' }
  | Unavailable;

/** The monolith's session cookie name, as the adapter's mapping has it; `not_announced`: an adapter from before that contract. */
export type LegacySessionCookieName = { ok: true; name: string } | { ok: false; reason: 'not_announced' | 'unavailable' };

export interface LegacyAdapterClient {
  /** The name of the monolith's session cookie (contracts/legacy-session-cookie.ts). */
  sessionCookieName(): Promise<LegacySessionCookieName>;
  /** Which legacy user the monolith's session `sessionId` is logged in as (never logged). */
  resolveSession(sessionId: string): Promise<LegacySessionResolution>;
  authenticate(login: string, password: string): Promise<LegacyAuthentication>;
  /** By login (username, then e-mail, as the legacy login does) or by e-mail only; for password reset. */
  lookup(query: { login: string } | { email: string }): Promise<LegacyLookup>;
  /** The same lookup, each user with their import record (legacy hash included): a password reset imports them first. */
  lookupForImport(query: { login: string }): Promise<LegacyImportLookup>;
  writePassword(write: LegacyPasswordWrite): Promise<LegacyPasswordWriteResult>;
}

export interface LegacyAdapterClientOptions {
  baseUrl: string;
  secret: string;
  timeoutMs: number;
}

/** An import record is the user's own (never another row's), and as the idp stores it. */
function asImport(record: LegacyImportRecord | undefined, legacyId: string): NewLegacyUser | undefined {
  if (!record || record.legacyId !== legacyId) return undefined;
  return { ...record, passwordSalt: record.passwordSalt ?? null, active: true };
}

const unavailable = (detail: string): Unavailable => ({ ok: false, reason: 'unavailable', detail });

/** The idp's side of the legacy-adapter's internal API (bearer secret, timeout, request id passed on). */
export function createLegacyAdapterClient(options: LegacyAdapterClientOptions): LegacyAdapterClient {
  const base = options.baseUrl.replace(/\/+$/, '');

  async function post(path: string, body: unknown): Promise<{ status: number; json: unknown } | { error: string }> {
    try {
      const response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.secret}`, ...propagationHeaders() },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      let json: unknown = null;
      try {
        json = await response.json();
      } catch {
        // A non-JSON answer (a proxy's error page) is judged by its status below.
      }
      return { status: response.status, json };
    } catch (error) {
      const name = (error as Error).name;
      return { error: name === 'TimeoutError' ? 'timeout' : 'unreachable' };
    }
  }

  /** The answer parsed with the endpoint's schema; otherwise why not, as a short code. */
  async function call<S extends z.ZodType>(
    endpoint: { path: string; answer: S },
    body: unknown,
    expected = 200,
  ): Promise<{ ok: true; answer: z.infer<S> } | { ok: false; detail: string; status?: number; json?: unknown }> {
    const reply = await post(endpoint.path, body);
    if ('error' in reply) return { ok: false, detail: reply.error };
    if (reply.status !== expected) return { ok: false, detail: `http_${reply.status}`, status: reply.status, json: reply.json };
    const parsed = endpoint.answer.safeParse(reply.json);
    return parsed.success ? { ok: true, answer: parsed.data } : { ok: false, detail: 'bad_answer', status: reply.status };
  }

  return {
    async sessionCookieName() {
      let response: Response;
      try {
        response = await fetch(`${base}${LEGACY_SESSION_COOKIE_PATH}`, {
          headers: { authorization: `Bearer ${options.secret}`, ...propagationHeaders() },
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch {
        return { ok: false, reason: 'unavailable' };
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        return { ok: false, reason: response.status === 404 ? 'not_announced' : 'unavailable' };
      }
      const answer = legacySessionCookieAnswer.safeParse(await response.json().catch(() => null));
      return answer.success ? { ok: true, name: answer.data.cookie.name } : { ok: false, reason: 'unavailable' };
    },
    async authenticate(login, password) {
      const reply = await call(authenticateEndpoint, { login, password });
      if (!reply.ok) return unavailable(reply.detail);
      const { answer } = reply;
      return answer.ok ? { ok: true, user: answer.user, scheme: answer.scheme, fingerprint: answer.fingerprint } : { ok: false, reason: 'rejected' };
    },
    async resolveSession(sessionId) {
      const reply = await call(sessionResolveEndpoint, { sessionId });
      if (!reply.ok) return unavailable(reply.detail);
      const { answer } = reply;
      if (!answer.ok) return { ok: false, reason: 'rejected' };
      // The adapter resolves only active users; an answer that says otherwise is not believed.
      const record = answer.user.active ? asImport(answer.import, answer.user.legacyId) : undefined;
      return record ? { ok: true, user: answer.user, import: record } : unavailable('bad_answer');
    },
    async lookup(query) {
      const reply = await call(lookupEndpoint, query);
      if (!reply.ok) return unavailable(reply.status === 200 ? 'http_200' : reply.detail);
      return { ok: true, users: reply.answer.users.map(({ import: _record, ...user }) => user) };
    },
    async lookupForImport(query) {
      const reply = await call(lookupEndpoint, { ...query, withImport: true });
      if (!reply.ok) return unavailable(reply.status === 200 ? 'http_200' : reply.detail);
      // The record is split off the profile, so the hash never travels further with it.
      return { ok: true, users: reply.answer.users.map(({ import: record, ...user }) => ({ user, import: asImport(record, user.legacyId) })) };
    },
    async writePassword(write) {
      const reply = await call(passwordWriteEndpoint, write);
      if (reply.ok) {
        const { answer } = reply;
        return answer.result === 'applied' ? { ok: true, outcome: 'applied', fingerprint: answer.fingerprint } : { ok: true, outcome: answer.result };
      }
      if (reply.status === undefined || reply.status === 200) return { ok: false, reason: 'failed', detail: reply.detail };
      const code = errorCodeOf(reply.json, Object.values(LEGACY_ADAPTER_ERRORS));
      // Its own code, never a bare 404 (a wrong URL, a proxy in between): only then is the row gone.
      if (reply.status === 404 && code === LEGACY_ADAPTER_ERRORS.legacyUserNotFound) return { ok: false, reason: code };
      // Only the contract's codes are echoed into the outbox row and the metrics.
      return { ok: false, reason: 'failed', detail: `http_${reply.status}:${code ?? 'error'}` };
    },
  };
}
