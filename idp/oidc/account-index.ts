// Which grants and sessions belong to an account, so that a password change or reset can revoke
// the account's other grants and end its other sessions. oidc-provider only indexes artefacts by
// grant, never by account; this index is written in the same adapter call that stores the Grant
// or Session (not from an event), so a grant that exists is always findable.
import type { Redis } from 'ioredis';
import type { AdapterPayload, OidcAdapter, OidcAdapterFactory } from './adapters/index.ts';

export interface AccountIndex {
  add(kind: 'grant' | 'session', accountId: string, id: string, expiresInSeconds: number | undefined): Promise<void>;
  list(kind: 'grant' | 'session', accountId: string): Promise<string[]>;
  remove(kind: 'grant' | 'session', accountId: string, id: string): Promise<void>;
  count(kind: 'grant' | 'session', accountId: string): Promise<number>;
}

/** The pseudo-account under which every signed-in session is also recorded, to count them. */
export const ALL_ACCOUNTS = '*';

const FOREVER = Number.MAX_SAFE_INTEGER;
const expiry = (expiresIn: number | undefined) => (expiresIn === undefined || !Number.isFinite(expiresIn) ? FOREVER : Date.now() + expiresIn * 1000);

export function createMemoryAccountIndex(): AccountIndex {
  const sets = new Map<string, Map<string, number>>();
  const key = (kind: string, accountId: string) => `${kind}:${accountId}`;
  return {
    async add(kind, accountId, id, expiresIn) {
      let members = sets.get(key(kind, accountId));
      if (!members) sets.set(key(kind, accountId), (members = new Map()));
      const now = Date.now();
      for (const [member, until] of members) if (until <= now) members.delete(member);
      members.set(id, expiry(expiresIn));
    },
    async list(kind, accountId) {
      const now = Date.now();
      return [...(sets.get(key(kind, accountId)) ?? [])].filter(([, until]) => until > now).map(([id]) => id);
    },
    async remove(kind, accountId, id) {
      const members = sets.get(key(kind, accountId));
      members?.delete(id);
      if (members?.size === 0) sets.delete(key(kind, accountId));
    },
    async count(kind, accountId) {
      return (await this.list(kind, accountId)).length;
    },
  };
}

/** Sorted sets scored by expiry (ms); the set itself expires with its last member. */
export function createRedisAccountIndex(redis: Redis, prefix = 'oidc:'): AccountIndex {
  const key = (kind: string, accountId: string) => `${prefix}account:${kind}:${accountId}`;
  return {
    async add(kind, accountId, id, expiresIn) {
      const k = key(kind, accountId);
      const until = expiry(expiresIn);
      const pipeline = redis.multi().zremrangebyscore(k, '-inf', Date.now()).zadd(k, until, id);
      if (until === FOREVER) pipeline.persist(k);
      else pipeline.zrange(k, '-1', '-1', 'WITHSCORES');
      const results = await pipeline.exec();
      const last = results?.[2]?.[1] as string[] | undefined;
      if (until !== FOREVER && last?.[1] && Number(last[1]) < FOREVER) await redis.pexpireat(k, Number(last[1]));
    },
    async list(kind, accountId) {
      return redis.zrangebyscore(key(kind, accountId), String(Date.now()), '+inf');
    },
    async remove(kind, accountId, id) {
      await redis.zrem(key(kind, accountId), id);
    },
    async count(kind, accountId) {
      return redis.zcount(key(kind, accountId), Date.now(), '+inf');
    },
  };
}

const INDEXED: Record<string, 'grant' | 'session'> = { Grant: 'grant', Session: 'session' };

/** The adapter factory with Grant and Session writes also recorded in `index`. */
export function withAccountIndex(factory: OidcAdapterFactory, index: AccountIndex): OidcAdapterFactory {
  return (model) => {
    const base = factory(model);
    const kind = INDEXED[model];
    if (!kind) return base;
    const indexed: OidcAdapter = {
      ...base,
      async upsert(id, payload: AdapterPayload, expiresIn) {
        await base.upsert(id, payload, expiresIn);
        if (typeof payload.accountId === 'string' && payload.accountId) {
          await index.add(kind, payload.accountId, id, expiresIn);
          if (kind === 'session') await index.add(kind, ALL_ACCOUNTS, id, expiresIn);
        }
      },
      async destroy(id) {
        await base.destroy(id);
        if (kind === 'session') await index.remove(kind, ALL_ACCOUNTS, id);
      },
    };
    return indexed;
  };
}

export interface RevokeUserGrantsResult {
  grants: number;
  sessions: number;
}

/**
 * Revokes every grant of `accountId` (with all tokens and codes issued under it) except
 * `exceptGrantId`, and ends every session of the account except the one holding that grant and
 * `exceptSessionId`. For password changes and resets: the device the user is on stays signed
 * in, no other does.
 * `sessionEnded` hears of each session before it is ended (the back-channel logouts its clients
 * are owed, stored first: a failure there leaves the session, and the revocation is retried).
 */
export function createGrantRevoker(
  factory: OidcAdapterFactory,
  index: AccountIndex,
  sessionEnded: (session: AdapterPayload) => Promise<void> | void = () => undefined,
) {
  const grants = factory('Grant');
  const sessions = factory('Session');
  // revokeByGrantId is model-independent in our adapters: it removes every grantable artefact.
  const artefacts = factory('AccessToken');
  return async function revokeUserGrants(accountId: string, exceptGrantId?: string, exceptSessionId?: string): Promise<RevokeUserGrantsResult> {
    let revokedGrants = 0;
    for (const grantId of await index.list('grant', accountId)) {
      if (grantId === exceptGrantId) continue;
      await artefacts.revokeByGrantId(grantId);
      await grants.destroy(grantId);
      await index.remove('grant', accountId, grantId);
      revokedGrants += 1;
    }
    let ended = 0;
    for (const sessionId of await index.list('session', accountId)) {
      if (sessionId === exceptSessionId) continue;
      const session = await sessions.find(sessionId);
      if (session?.accountId !== accountId) {
        await index.remove('session', accountId, sessionId);
        continue;
      }
      const authorizations = Object.values((session.authorizations ?? {}) as Record<string, { grantId?: string }>);
      if (exceptGrantId && authorizations.some((a) => a.grantId === exceptGrantId)) continue;
      await sessionEnded(session);
      await sessions.destroy(sessionId);
      await index.remove('session', accountId, sessionId);
      ended += 1;
    }
    return { grants: revokedGrants, sessions: ended };
  };
}

export type RevokeUserGrants = ReturnType<typeof createGrantRevoker>;
