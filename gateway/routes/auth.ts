// A route's `auth` block: the bearer access token an API route takes, the scopes each method
// needs, and which identity headers the upstream gets. Its own module so the route file's schema
// only gains one optional key (file.ts), and the checks that need the whole route live here.
import { z } from 'zod';
import { isIdentityHeader } from '../proxy/headers.ts';

/** What an identity header can carry: a claim of the verified token (legacy ones per idp/resources.yaml). */
export const IDENTITY_CLAIMS = ['sub', 'client_id', 'scope', 'legacy_id', 'legacy_username'] as const;
export type IdentityClaim = (typeof IDENTITY_CLAIMS)[number];

const scopeName = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is printable ASCII without spaces, quotes or backslashes');

/** `default` names the scopes of every method the map does not list; other keys are method names. */
const scopeKey = z.union([
  z.literal('default'),
  z
    .string()
    .regex(/^[A-Za-z]+$/, 'must be an HTTP method name or "default"')
    .transform((m) => m.toUpperCase()),
]);

const HEADER_NAME = /^[A-Za-z0-9-]+$/;

export const routeAuthSchema = z.strictObject({
  /** required: no token, no entry. optional: a request without one goes on as before (the monolith's own session). */
  bearer: z.enum(['required', 'optional']),
  /** The `aud` the token must have: the API's audience in the idp's resources file. */
  audience: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL (the API's audience in the idp's resources file)" }),
  /** Method -> scopes the token needs, all of them; [] needs a valid token only. */
  scopes: z.record(scopeKey, z.array(scopeName)).default({}),
  /** Header name -> the claim it carries to the upstream. */
  headers: z.record(z.string(), z.enum(IDENTITY_CLAIMS)).default({}),
});
export type RouteAuth = z.infer<typeof routeAuthSchema>;

/**
 * What the parser cannot see in the block alone: a method the route serves with no scopes to
 * check (only `default` covers a route matching every method), or scopes for a method it never
 * matches, a header the upstream could not believe, and one header named twice.
 */
export function routeAuthProblems(auth: RouteAuth, methods: readonly string[] | undefined): string[] {
  const problems: string[] = [];
  const listed = Object.keys(auth.scopes).filter((k) => k !== 'default');
  if (!('default' in auth.scopes)) {
    if (!methods) problems.push('auth.scopes: the route matches every method, so it needs a "default" (scopes of the methods not listed)');
    else
      for (const m of methods)
        if (!listed.includes(m) && !(m === 'HEAD' && listed.includes('GET')))
          problems.push(`auth.scopes: no scopes for ${m}, which the route matches (list it, or add "default")`);
  }
  if (methods) for (const m of listed) if (!methods.includes(m)) problems.push(`auth.scopes.${m}: the route does not match ${m}`);
  for (const name of Object.keys(auth.headers)) {
    if (!HEADER_NAME.test(name)) problems.push(`auth.headers.${name}: must be a header name (letters, digits, "-")`);
    // Only a header the gateway strips from every client request can be believed by the upstream.
    else if (!isIdentityHeader(name.toLowerCase()))
      problems.push(
        `auth.headers.${name}: must be a header the gateway strips from what clients send: X-Identity-*, X-User-*, X-User, X-Remote-User, Remote-User, X-Authenticated-User or X-Forwarded-User`,
      );
  }
  const names = Object.keys(auth.headers).map((h) => h.toLowerCase());
  if (new Set(names).size !== names.length) problems.push('auth.headers: a header is named twice (names are case-insensitive)');
  return problems;
}

/** The scopes a request with `method` needs (HEAD as GET when only GET is listed). */
export function requiredScopes(auth: RouteAuth, method: string): readonly string[] {
  return auth.scopes[method] ?? (method === 'HEAD' ? auth.scopes.GET : undefined) ?? auth.scopes.default ?? [];
}
