export type RelyingPartyAction = 'login' | 'callback' | 'logout' | 'backchannel-logout';

/**
 * The gateway's own /auth/login, /auth/callback, /auth/logout and /auth/backchannel-logout (query allowed). Exactly these:
 * the rest of /auth/* stays the idp's (its authorization endpoint resumes at /auth/<uid>).
 */
export function relyingPartyAction(url: string): RelyingPartyAction | undefined {
  if (!url.startsWith('/auth/')) return undefined;
  const end = url.indexOf('?');
  const path = end === -1 ? url : url.slice(0, end);
  if (path === '/auth/login') return 'login';
  if (path === '/auth/callback') return 'callback';
  if (path === '/auth/logout') return 'logout';
  if (path === '/auth/backchannel-logout') return 'backchannel-logout';
  return undefined;
}
