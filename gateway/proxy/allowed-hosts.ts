/**
 * The Host names the gateway serves (GATEWAY_ALLOWED_HOSTS). Upstreams get the client's Host:
 * a monolith that builds links from it (a password-reset mail, a redirect) would build them for
 * whatever host a client names. With a list, a request for any other host is refused (421)
 * before it reaches anybody. Empty: every host, as before.
 */
export type HostCheck = (host: string | undefined) => boolean;

/** `host` or `host:port`, lower case; an IPv6 literal in brackets. An entry without a port allows any port. */
function nameAndPort(value: string): { name: string; port: string | undefined } {
  const lower = value.trim().toLowerCase();
  const bracket = lower.startsWith('[') ? lower.indexOf(']') : -1;
  const colon = lower.indexOf(':', bracket + 1);
  if (colon === -1) return { name: lower, port: undefined };
  return { name: lower.slice(0, colon), port: lower.slice(colon + 1) };
}

export function compileHostCheck(allowed: readonly string[]): HostCheck {
  if (allowed.length === 0) return () => true;
  const entries = allowed.map(nameAndPort);
  return (host) => {
    if (host === undefined || host === '') return false;
    const given = nameAndPort(host);
    return entries.some((e) => e.name === given.name && (e.port === undefined || e.port === given.port));
  };
}
