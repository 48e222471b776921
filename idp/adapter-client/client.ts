import { LEGACY_SESSION_COOKIE_PATH, legacySessionCookieAnswer } from '../../contracts/legacy-session-cookie.ts';
import { propagationHeaders } from '../../lib/request-context.ts';
import type { NewLegacyUser } from '../users/types.ts';

/** A legacy user as the legacy-adapter describes it: never a hash. */
export interface LegacyUserProfile {
  legacyId: string;
  username: string | null;
  email: string | null;
  name: string | null;
  active: boolean;
}

export type LegacyAuthentication =
  | { status: 'ok'; user: LegacyUserProfile; scheme: string; fingerprint: string }
  /** Unknown login, wrong password, inactive or unreadable legacy row: the adapter does not say which. */
  | { status: 'rejected' }
  /** The adapter or the legacy database did not answer properly; `reason` is for logs and metrics. */
  | { status: 'unavailable'; reason: string };

export type LegacyLookup = { status: 'ok'; users: LegacyUserProfile[] } | { status: 'unavailable'; reason: string };

/** A lookup with the batch migration's import record of each user (absent for a row it cannot import). */
export type LegacyImportLookup =
  | { status: 'ok'; users: { user: LegacyUserProfile; import: NewLegacyUser | undefined }[] }
  | { status: 'unavailable'; reason: string };

/** A password change for the legacy row (dual-write): the hash is `$2y$` bcrypt, never a plaintext. */
export interface LegacyPasswordWrite {
  eventId: string;
  /** The outbox sequence: the adapter never lets an older one overwrite a newer one. */
  sequence: number;
  legacyId: string;
  hash: string;
}

export type LegacyPasswordWriteResult =
  /** applied: written now; duplicate: this event was applied before; stale: a newer one was. */
  | { status: 'applied'; fingerprint: string }
  | { status: 'duplicate' | 'stale' }
  /** The adapter has no legacy row with this id (deleted meanwhile): retrying cannot help. */
  | { status: 'not_found' }
  /** Not written; `reason` is a short code for the outbox row, logs and metrics (no secret in it). */
  | { status: 'failed'; reason: string };

/** The legacy user a PHP session is logged in as, with what importing them takes (their legacy hash). */
export type LegacySessionResolution =
  | { status: 'ok'; user: LegacyUserProfile; import: NewLegacyUser }
  /** No live session, not logged in, malformed, unknown or inactive user: the adapter does not say which. */
  | { status: 'rejected' }
  | { status: 'unavailable'; reason: string };

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

const isString = (v: unknown): v is string => typeof v === 'string';
const isNullableString = (v: unknown): v is string | null => v === null || typeof v === 'string';

function isProfile(value: unknown): value is LegacyUserProfile {
  const p = value as Record<string, unknown> | null;
  return (
    typeof p === 'object' && p !== null && isString(p.legacyId) && p.legacyId !== '' &&
    isNullableString(p.username) && isNullableString(p.email) && isNullableString(p.name) && typeof p.active === 'boolean'
  );
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

/** The import record of a resolved session: the batch migration's shape, checked field by field. */
function asImport(value: unknown, legacyId: string): NewLegacyUser | undefined {
  const u = value as Record<string, unknown> | null;
  if (typeof u !== 'object' || u === null || u.legacyId !== legacyId) return undefined;
  if (!isNullableString(u.username) || !isNullableString(u.email) || !isNullableString(u.name)) return undefined;
  if (!isString(u.passwordHash) || u.passwordHash === '' || !isString(u.passwordScheme) || !isNullableString(u.passwordSalt ?? null)) return undefined;
  if (!isStringList(u.passwordCandidates) || !isStringList(u.passwordEncodings) || !u.passwordEncodings.every((e) => e === 'utf8' || e === 'latin1')) return undefined;
  if (!isString(u.legacyFingerprint)) return undefined;
  return {
    legacyId,
    username: u.username,
    email: u.email,
    name: u.name,
    passwordHash: u.passwordHash,
    passwordScheme: u.passwordScheme,
    passwordSalt: (u.passwordSalt as string | null | undefined) ?? null,
    passwordCandidates: u.passwordCandidates,
    passwordEncodings: u.passwordEncodings as ('utf8' | 'latin1')[],
    legacyFingerprint: u.legacyFingerprint,
    active: true,
  };
}

/** The idp's side of the legacy-adapter's internal API (bearer secret, timeout, request id passed on). */
export function createLegacyAdapterClient(options: LegacyAdapterClientOptions): LegacyAdapterClient {
  const base = options.baseUrl.replace(/\/+$/, '');

  async function post(path: string, body: unknown): Promise<{ status: number; json: unknown } | { error: string }> {
    try {
      const response = await fetch(`${base}/internal/v1${path}`, {
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
      const answer = await post('/authenticate', { login, password });
      if ('error' in answer) return { status: 'unavailable', reason: answer.error };
      const body = answer.json as Record<string, unknown> | null;
      if (answer.status !== 200 || typeof body !== 'object' || body === null) return { status: 'unavailable', reason: `http_${answer.status}` };
      if (body.ok === false) return { status: 'rejected' };
      if (body.ok === true && isProfile(body.user) && isString(body.scheme) && isString(body.fingerprint)) {
        return { status: 'ok', user: body.user, scheme: body.scheme, fingerprint: body.fingerprint };
      }
      return { status: 'unavailable', reason: 'bad_answer' };
    },
    async resolveSession(sessionId) {
      const answer = await post('/legacy-sessions/resolve', { sessionId });
      if ('error' in answer) return { status: 'unavailable', reason: answer.error };
      const body = answer.json as Record<string, unknown> | null;
      if (answer.status !== 200 || typeof body !== 'object' || body === null) return { status: 'unavailable', reason: `http_${answer.status}` };
      if (body.ok === false) return { status: 'rejected' };
      if (body.ok === true && isProfile(body.user) && body.user.active) {
        const record = asImport(body.import, body.user.legacyId);
        if (record) return { status: 'ok', user: body.user, import: record };
      }
      return { status: 'unavailable', reason: 'bad_answer' };
    },
    async lookup(query) {
      const answer = await post('/users/lookup', query);
      if ('error' in answer) return { status: 'unavailable', reason: answer.error };
      const users = (answer.json as { users?: unknown } | null)?.users;
      if (answer.status !== 200 || !Array.isArray(users) || !users.every(isProfile)) return { status: 'unavailable', reason: `http_${answer.status}` };
      return { status: 'ok', users };
    },
    async lookupForImport(query) {
      const answer = await post('/users/lookup', { ...query, withImport: true });
      if ('error' in answer) return { status: 'unavailable', reason: answer.error };
      const users = (answer.json as { users?: unknown } | null)?.users;
      if (answer.status !== 200 || !Array.isArray(users) || !users.every(isProfile)) return { status: 'unavailable', reason: `http_${answer.status}` };
      // The record is split off the profile, so the hash never travels further with it.
      return {
        status: 'ok',
        users: users.map((entry) => {
          const { import: record, ...user } = entry as LegacyUserProfile & { import?: unknown };
          return { user, import: asImport(record, user.legacyId) };
        }),
      };
    },
    async writePassword(write) {
      const answer = await post('/users/password', write);
      if ('error' in answer) return { status: 'failed', reason: answer.error };
      const body = answer.json as Record<string, unknown> | null;
      if (answer.status === 200 && body?.ok === true) {
        if (body.result === 'applied' && isString(body.fingerprint)) return { status: 'applied', fingerprint: body.fingerprint };
        if (body.result === 'duplicate' || body.result === 'stale') return { status: body.result };
        return { status: 'failed', reason: 'bad_answer' };
      }
      if (answer.status === 404 && body?.error === 'legacy_user_not_found') return { status: 'not_found' };
      // The adapter's error codes are a short fixed set; anything else is not echoed.
      const code = isString(body?.error) && /^[a-z_]{1,40}$/.test(body.error) ? body.error : 'error';
      return { status: 'failed', reason: `http_${answer.status}:${code}` };
    },
  };
}
