// The APIs (resource servers) tokens can be issued for, declared by ops in a YAML file. Each
// has an audience (the RFC 8707 resource indicator, and the `aud` of its access tokens) and the
// scopes it accepts. Access tokens for them are JWTs, verified by the API against our JWKS.
import { z } from 'zod';
import { describeEntryPath, readYamlFile } from './yaml-file.ts';

/** User claims a resource may ask for in its access tokens: the user's account on the monolith. */
export const LEGACY_TOKEN_CLAIMS = ['legacy_id', 'legacy_username'] as const;
export type LegacyTokenClaim = (typeof LEGACY_TOKEN_CLAIMS)[number];

const scopeName = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is printable ASCII without spaces, quotes or backslashes');

const resourceSchema = z.strictObject({
  audience: z.url({ protocol: /^https?$/ }).refine((v) => !v.includes('#'), 'must not contain a fragment'),
  name: z.string().min(1).optional(),
  /** scope -> what it allows, in words the consent page shows. */
  scopes: z.record(scopeName, z.string().min(1)).refine((s) => Object.keys(s).length > 0, 'declare at least one scope'),
  access_token_ttl: z.number().int().min(30).max(86_400).optional(),
  /** Clients (confidential, declared in the clients file) that may introspect its tokens. */
  introspection_clients: z.array(z.string().min(1)).default([]),
  /**
   * jwt: self-contained, verified against the JWKS. opaque: a reference only introspection
   * resolves, for an API whose token content must not be readable by the client holding it.
   */
  access_token_format: z.enum(['jwt', 'opaque']).default('jwt'),
  /** Claims about the user this API needs in its tokens (a JWT carries them readably: see docs/idp.md, "Resources file"). */
  access_token_claims: z
    .array(z.enum(LEGACY_TOKEN_CLAIMS))
    .default([])
    .refine((c) => new Set(c).size === c.length, 'lists a claim twice'),
});

const fileSchema = z.strictObject({ resources: z.array(resourceSchema).default([]) });

export type ResourceDeclaration = z.infer<typeof resourceSchema>;

export interface ResourceServer {
  audience: string;
  name: string;
  scopes: Map<string, string>;
  accessTokenTtl?: number;
  introspectionClients: Set<string>;
  accessTokenFormat: 'jwt' | 'opaque';
  accessTokenClaims: LegacyTokenClaim[];
}

export interface ResourceRegistry {
  all: ResourceServer[];
  byAudience(audience: string): ResourceServer | undefined;
  /** Every scope any resource accepts. */
  scopes(): Set<string>;
  /** Resources that accept at least one of `scopes`. */
  forScopes(scopes: Iterable<string>): ResourceServer[];
  describeScope(scope: string): string | undefined;
}

export function createResourceRegistry(declarations: ResourceDeclaration[]): ResourceRegistry {
  const all: ResourceServer[] = [];
  const problems: string[] = [];
  const owners = new Map<string, string>();
  for (const d of declarations) {
    if (all.some((r) => r.audience === d.audience)) problems.push(`resource "${d.audience}" is declared twice`);
    for (const scope of Object.keys(d.scopes)) {
      const owner = owners.get(scope);
      // One owner per scope, so a scope alone names the API it is for (the default resource).
      if (owner) problems.push(`scope "${scope}" is declared by both "${owner}" and "${d.audience}"`);
      owners.set(scope, d.audience);
    }
    all.push({
      audience: d.audience,
      name: d.name ?? d.audience,
      scopes: new Map(Object.entries(d.scopes)),
      ...(d.access_token_ttl ? { accessTokenTtl: d.access_token_ttl } : {}),
      introspectionClients: new Set(d.introspection_clients),
      accessTokenFormat: d.access_token_format,
      accessTokenClaims: d.access_token_claims,
    });
  }
  if (problems.length) throw new Error(`resources are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return {
    all,
    byAudience: (audience) => all.find((r) => r.audience === audience),
    scopes: () => new Set(all.flatMap((r) => [...r.scopes.keys()])),
    forScopes(scopes) {
      const wanted = new Set(scopes);
      return all.filter((r) => [...r.scopes.keys()].some((s) => wanted.has(s)));
    },
    describeScope(scope) {
      for (const r of all) {
        const text = r.scopes.get(scope);
        if (text) return text;
      }
      return undefined;
    },
  };
}

export function loadResourcesFile(file: string): ResourceRegistry {
  const parsed = readYamlFile(file, fileSchema, describeEntryPath('resources', 'resource', 'audience'));
  return createResourceRegistry(parsed.resources);
}
