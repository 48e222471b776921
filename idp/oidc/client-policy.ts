// What a client may register, whichever way it arrives (the clients file or dynamic
// registration): the parts of RFC 9700 and OIDC that oidc-provider leaves to configuration.
import { errors, type KoaContextWithOIDC } from 'oidc-provider';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface RedirectPolicy {
  /**
   * Development only (production refuses it): lets web clients use http on a loopback host,
   * e.g. the embedded gateway at http://localhost:3000. Never for implicit or hybrid clients.
   */
  allowHttpLoopbackForWeb: boolean;
}

interface ClientShape {
  application_type?: unknown;
  redirect_uris?: unknown;
  post_logout_redirect_uris?: unknown;
  response_types?: unknown;
}

function frontChannelTokens(responseTypes: unknown): boolean {
  return Array.isArray(responseTypes) && responseTypes.some((rt) => typeof rt === 'string' && /(^|\s)(id_token|token)(\s|$)/.test(rt));
}

/**
 * Every problem with the client's redirect URIs, as `field: reason`. Web clients: https only
 * (RFC 9700 §4.1.1 / §2.6 for implicit and hybrid); native apps: http only on a loopback host
 * (RFC 8252 §7.3), claimed https or a private-use scheme otherwise; never a fragment.
 */
export function redirectUriProblems(client: ClientShape, policy: RedirectPolicy): string[] {
  const problems: string[] = [];
  const type = client.application_type === 'native' ? 'native' : 'web';
  const frontChannel = frontChannelTokens(client.response_types);
  for (const field of ['redirect_uris', 'post_logout_redirect_uris'] as const) {
    const uris = client[field];
    if (uris === undefined) continue;
    if (!Array.isArray(uris)) {
      problems.push(`${field}: must be a list of URIs`);
      continue;
    }
    uris.forEach((uri: unknown, i) => {
      const where = `${field}[${i}]`;
      const parsed = typeof uri === 'string' ? URL.parse(uri) : null;
      if (!parsed) return problems.push(`${where}: ${JSON.stringify(uri)} is not an absolute URI`);
      if (parsed.hash || (uri as string).includes('#')) return problems.push(`${where}: must not contain a fragment`);
      const loopback = LOOPBACK_HOSTS.has(parsed.hostname);
      if (type === 'web') {
        if (parsed.protocol === 'https:') return;
        if (parsed.protocol === 'http:' && loopback && policy.allowHttpLoopbackForWeb && !frontChannel) return;
        problems.push(`${where}: a web client may only use https redirect URIs (http is allowed on loopback for native apps only)`);
      } else if (parsed.protocol === 'http:') {
        if (!loopback) problems.push(`${where}: a native app may use http only on a loopback address (127.0.0.1, [::1])`);
      } else if (parsed.protocol === 'https:' && loopback) {
        problems.push(`${where}: a native app's loopback redirect must use http, not https`);
      } else if (parsed.protocol === 'javascript:' || parsed.protocol === 'data:' || parsed.protocol === 'file:') {
        problems.push(`${where}: the ${parsed.protocol.slice(0, -1)} scheme is not allowed`);
      }
      return undefined;
    });
  }
  if (type === 'native' && frontChannel) {
    problems.push('response_types: implicit and hybrid response types are for web clients with https redirect URIs only');
  }
  return problems;
}

export interface RegistrationPolicy extends RedirectPolicy {
  /** Scopes a dynamically registered client may ask for; also its default `scope`. */
  registrationScopes: string[];
}

/**
 * oidc-provider's `extraClientMetadata`: `pkce_required` (a per-client override for confidential
 * clients) is the extra property, and its validator, which oidc-provider runs for every client it
 * builds, is where the redirect and registration rules are enforced.
 */
export function extraClientMetadata(policy: RegistrationPolicy) {
  const allowed = new Set(policy.registrationScopes);
  return {
    properties: ['pkce_required', 'first_party'],
    validator(ctx: KoaContextWithOIDC | undefined, key: string, value: unknown, metadata: Record<string, unknown>) {
      if (key === 'first_party') {
        if (value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata('first_party must be a boolean');
        // Only ops, in the clients file, may let a client skip consent; a registering client never can.
        if (value !== undefined && ctx?.oidc?.route !== undefined) throw new errors.InvalidClientMetadata('first_party is declared in the clients file only');
        return;
      }
      if (key !== 'pkce_required') return;
      if (value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata('pkce_required must be a boolean');
      const problems = redirectUriProblems(metadata, policy);
      if (problems.length) throw new errors.InvalidClientMetadata(problems.join('; '));
      if (ctx?.oidc?.route === 'registration') {
        // A registering client starts with the scopes registration grants, and can never
        // claim an API scope that ops did not give it in the clients file.
        if (metadata.scope === undefined) metadata.scope = policy.registrationScopes.join(' ');
        const asked = typeof metadata.scope === 'string' ? metadata.scope.split(' ').filter(Boolean) : [];
        const refused = asked.filter((s) => !allowed.has(s));
        if (refused.length) {
          throw new errors.InvalidClientMetadata(
            `scope: ${refused.join(' ')} cannot be registered dynamically (allowed: ${policy.registrationScopes.join(' ')})`,
          );
        }
        if (value !== undefined) throw new errors.InvalidClientMetadata('pkce_required is set by the server for dynamically registered clients');
      }
    },
  };
}
