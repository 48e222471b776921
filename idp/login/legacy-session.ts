import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import type { LegacyAdapterClient } from '../adapter-client/client.ts';
import { normalizeLogin } from '../users/normalize.ts';
import type { UserStore } from '../users/types.ts';
import { publicUser } from './service.ts';
import type { IdpUser } from './types.ts';

export type LegacySessionResult = 'accepted' | 'invalid' | 'hint_mismatch' | 'unavailable';

export type LegacySessionOutcome = { ok: true; user: IdpUser } | { ok: false; reason: Exclude<LegacySessionResult, 'accepted'> };

export interface LegacySessionLogin {
  /**
   * Who the monolith's session `sessionId` is logged in as, imported into the idp if they are not
   * yet (the batch migration's record: they keep their legacy hash). `loginHint`: only that
   * account may be signed in.
   */
  signIn(sessionId: string, loginHint?: string): Promise<LegacySessionOutcome>;
}

/**
 * Accepting a live PHP session as proof of authentication (docs/DESIGN.md, "The session
 * bridge"). The legacy-adapter judges the session by the monolith's rules; the idp's row, once
 * it exists, is the truth about the user (its active flag), as in the just-in-time login.
 */
export function createLegacySessionLogin(options: { users: UserStore; legacy: LegacyAdapterClient; logger: Logger }): LegacySessionLogin {
  const { users, legacy, logger } = options;
  const matches = (hint: string, user: { username: string | null; email: string | null }) => {
    const key = normalizeLogin(hint);
    return key !== '' && [user.username, user.email].some((login) => login !== null && normalizeLogin(login) === key);
  };

  return {
    async signIn(sessionId, loginHint) {
      const log = currentLogger(logger);
      const answer = await legacy.resolveSession(sessionId);
      if (!answer.ok && answer.reason === 'unavailable') {
        log.warn({ reason: answer.detail }, 'legacy-adapter unavailable; legacy session not checked');
        return { ok: false, reason: 'unavailable' };
      }
      if (!answer.ok) return { ok: false, reason: 'invalid' };
      const known = await users.findByLegacyId(answer.user.legacyId);
      if (loginHint !== undefined && !matches(loginHint, known ?? answer.user)) return { ok: false, reason: 'hint_mismatch' };
      // insertFromLegacy is the just-in-time import (one row however many race); the record is
      // the batch migration's, so the legacy hash comes along for a later password login.
      const user = known ?? (await users.insertFromLegacy(answer.import)).user;
      if (!user.active) {
        log.info({ sub: user.id, legacyId: answer.user.legacyId }, 'legacy session of a user inactive in the idp refused');
        return { ok: false, reason: 'invalid' };
      }
      return { ok: true, user: publicUser(user) };
    },
  };
}
