// POST /auth/backchannel-logout: the idp says an idp session ended (a sign-out in another
// application, a password change or reset, an admin); the PHP sessions the bridge made for it
// are deleted through the legacy-adapter. OpenID Connect Back-Channel Logout 1.0 §2.5-§2.8.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import type { BackchannelLogoutResult } from '../metrics.ts';
import type { SessionBridgeClient } from './bridge.ts';
import { sidKey, subKey, type LogoutIndex } from './logout-index.ts';
import { LOGOUT_TOKEN_MAX_AGE_SECONDS, type LogoutTokenVerifier } from './logout-token.ts';

export interface BackchannelLogoutOptions {
  verifier: LogoutTokenVerifier;
  index: LogoutIndex;
  bridge: SessionBridgeClient;
  /** How long a PHP session lives (LEGACY_SESSION_LIFETIME): one that could not be deleted is remembered again as long. */
  lifetimeSeconds: number;
  clockToleranceSeconds: number;
  metrics: { backchannelLogout(result: BackchannelLogoutResult): void };
  logger: Logger;
}

/** A logout token is a few hundred bytes; a body far larger is not one. */
const MAX_BODY_BYTES = 16_384;

class BodyTooLarge extends Error {}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** §2.8: 200 on success, 400 with an OAuth error otherwise; never cached. */
function answer(res: ServerResponse, status: number, error?: { error: string; error_description: string }): void {
  res.statusCode = status;
  res.setHeader('cache-control', 'no-store');
  if (!error) return void res.end();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(error));
}

export function createBackchannelLogout(options: BackchannelLogoutOptions) {
  const refuse = (res: ServerResponse, description: string) => {
    options.metrics.backchannelLogout('refused');
    answer(res, 400, { error: 'invalid_request', error_description: description });
  };

  return async function backchannelLogout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const log = currentLogger(options.logger);
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      req.resume();
      return refuse(res, 'expected a form-encoded logout_token');
    }
    let token: string | null;
    try {
      token = (await readForm(req)).get('logout_token');
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      res.setHeader('connection', 'close');
      return refuse(res, 'the request body is too large');
    }
    if (!token) return refuse(res, 'logout_token is missing');

    const verified = await options.verifier.verify(token);
    if (!verified.ok) {
      log.warn({ reason: verified.reason, detail: verified.detail }, 'back-channel logout: logout token refused');
      if (verified.reason === 'unavailable') {
        options.metrics.backchannelLogout('failed');
        return answer(res, 400, { error: 'temporarily_unavailable', error_description: 'the logout token could not be checked now; send it again' });
      }
      return refuse(res, 'the logout token is not valid');
    }
    const { sid, sub, jti } = verified.claims;
    // Only once its signature is known good does a jti take room in the replay list.
    if (!(await options.index.firstUse(jti, LOGOUT_TOKEN_MAX_AGE_SECONDS + 2 * options.clockToleranceSeconds))) {
      log.warn({ sub }, 'back-channel logout: a logout token was presented again');
      return refuse(res, 'the logout token was already used');
    }

    // §2.6: with a sid, that idp session only; with a sub alone, every session of the user.
    const key = sid !== undefined ? sidKey(sid) : subKey(sub!);
    const sessionIds = await options.index.take(key);
    const failed: string[] = [];
    for (const sessionId of sessionIds) {
      try {
        await options.bridge.deleteSession(sessionId);
      } catch {
        failed.push(sessionId);
      }
    }
    if (failed.length) {
      // Kept for the idp's next attempt (it sends a fresh token with another jti).
      for (const sessionId of failed) await options.index.remember([key], sessionId, options.lifetimeSeconds);
      options.metrics.backchannelLogout('failed');
      log.error({ sub, deleted: sessionIds.length - failed.length, failed: failed.length }, 'back-channel logout: PHP sessions could not be deleted');
      return answer(res, 400, { error: 'temporarily_unavailable', error_description: 'the sessions could not all be ended now; send it again' });
    }
    options.metrics.backchannelLogout('ended');
    log.info({ sub, bySid: sid !== undefined, phpSessionsEnded: sessionIds.length }, 'back-channel logout: PHP sessions ended');
    answer(res, 200);
  };
}
