import type { LegacyAdapterClient } from './client.ts';

/** How long an announced name is kept before it is asked again (a mapping change needs no idp restart). */
const CACHE_MS = 60_000;

/**
 * The name of the monolith's session cookie, which reaches the idp because the gateway serves both
 * on one origin: the one the legacy-adapter announces from its mapping, so that file is the only
 * place it is configured. Asked at most once a minute (concurrent callers share one request).
 * `fallback` (the deprecated LEGACY_SESSION_NAME) serves while the adapter announces none (one from
 * before that contract); while the adapter does not answer, the last name known (else the fallback)
 * serves, and it is asked again next time.
 */
export function legacySessionCookieName(legacy: Pick<LegacyAdapterClient, 'sessionCookieName'>, fallback: string, cacheMs = CACHE_MS): () => Promise<string> {
  let known: { name: string; at: number } | undefined;
  let asking: Promise<string> | undefined;
  const ask = async (): Promise<string> => {
    const answer = await legacy.sessionCookieName();
    if (!answer.ok && answer.reason === 'unavailable') return known?.name ?? fallback;
    known = { name: answer.ok ? answer.name : fallback, at: Date.now() };
    return known.name;
  };
  return () => {
    if (known && Date.now() - known.at < cacheMs) return Promise.resolve(known.name);
    asking ??= ask().finally(() => (asking = undefined));
    return asking;
  };
}
