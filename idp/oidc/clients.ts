// The clients ops declare up front, in a YAML file (IDP_CLIENTS_FILE). Loaded and validated at
// start: a mistake stops the idp with a message naming the client and the field. The file never
// holds a usable secret: either the HMAC of a generated one (`client_secret_hash`, made by
// `idm clients new-secret`) or the name of an environment variable that holds it.
import { z } from 'zod';
import type { ClientMetadata } from 'oidc-provider';
import { clientSecretKeyId, hashClientSecret, hasUnknownClientSecretKey, isHashedClientSecret, parseClientSecretHash } from './client-secrets.ts';
import { redirectUriProblems, type RedirectPolicy } from './client-policy.ts';
import { describeEntryPath, readYamlFile, DeclarationFileError } from './yaml-file.ts';

export const SECRET_AUTH_METHODS = new Set(['client_secret_basic', 'client_secret_post']);
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none', 'client_secret_jwt'] as const;
const RESPONSE_TYPES = ['code', 'id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token'] as const;
const GRANT_TYPES = ['authorization_code', 'implicit', 'refresh_token', 'client_credentials'] as const;

const clientSchema = z
  .strictObject({
    client_id: z.string().regex(/^[A-Za-z0-9._~-]{1,100}$/, 'use 1-100 letters, digits and . _ ~ -'),
    client_name: z.string().min(1).max(200).optional(),
    application_type: z.enum(['web', 'native']).default('web'),
    token_endpoint_auth_method: z.enum(AUTH_METHODS).default('client_secret_basic'),
    client_secret_hash: z.string().optional(),
    client_secret_env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name')
      .optional(),
    jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
    jwks_uri: z.url({ protocol: /^https$/ }).optional(),
    redirect_uris: z.array(z.string()).default([]),
    post_logout_redirect_uris: z.array(z.string()).optional(),
    response_types: z.array(z.enum(RESPONSE_TYPES)).default(['code']),
    grant_types: z.array(z.enum(GRANT_TYPES)).default(['authorization_code', 'refresh_token']),
    scope: z.string().min(1, 'list the scopes this client may receive, space-separated'),
    pkce_required: z.boolean().optional(),
    /** The organisation's own web application (the gateway's sign-in): no consent page, its asked scopes are granted. */
    first_party: z.boolean().optional(),
    backchannel_logout_uri: z.url({ protocol: /^https?$/ }).optional(),
    backchannel_logout_session_required: z.boolean().optional(),
  })
  .superRefine((c, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (c.token_endpoint_auth_method === 'client_secret_jwt') {
      problem(
        'token_endpoint_auth_method',
        'client_secret_jwt needs the plaintext secret as an HMAC key, and secrets are stored hashed; use client_secret_basic, client_secret_post or private_key_jwt',
      );
    }
    const needsSecret = SECRET_AUTH_METHODS.has(c.token_endpoint_auth_method);
    const given = [c.client_secret_hash, c.client_secret_env].filter((v) => v !== undefined).length;
    if (needsSecret && given !== 1)
      problem('client_secret_hash', `${c.token_endpoint_auth_method} needs exactly one of client_secret_hash or client_secret_env`);
    if (!needsSecret && given && c.token_endpoint_auth_method !== 'client_secret_jwt')
      problem('client_secret_hash', `${c.token_endpoint_auth_method} clients have no secret; remove client_secret_hash/client_secret_env`);
    if (c.client_secret_hash !== undefined && !isHashedClientSecret(c.client_secret_hash)) {
      problem('client_secret_hash', 'must be a $hmac-sha256$ hash from `idm clients new-secret`, never the secret itself');
    }
    if (c.token_endpoint_auth_method === 'private_key_jwt' && !c.jwks && !c.jwks_uri) problem('jwks', 'private_key_jwt needs jwks or jwks_uri');
    if (c.token_endpoint_auth_method === 'none' && c.grant_types.includes('client_credentials')) {
      problem('grant_types', 'client_credentials needs an authenticated (confidential) client');
    }
    if (c.token_endpoint_auth_method === 'none' && c.pkce_required === false) problem('pkce_required', 'PKCE is always required for public clients');
    if (c.application_type === 'native' && c.pkce_required === false) problem('pkce_required', 'PKCE is always required for native apps');
    // Skipping consent is safe only when the client proves who it is: any app can present a public client's id.
    if (c.first_party && (c.token_endpoint_auth_method === 'none' || c.application_type === 'native')) {
      problem('first_party', 'only a confidential web client (one that authenticates at the token endpoint) can skip the consent page');
    }
    const usesCode = c.response_types.some((rt) => rt.split(' ').includes('code'));
    const usesImplicit = c.response_types.some((rt) => /id_token|token/.test(rt));
    if (usesCode && !c.grant_types.includes('authorization_code')) problem('grant_types', 'response types with code need the authorization_code grant');
    if (usesImplicit && !c.grant_types.includes('implicit')) problem('grant_types', 'id_token/token response types need the implicit grant');
    if (c.grant_types.includes('authorization_code') && !usesCode) problem('response_types', 'the authorization_code grant needs a response type with code');
    if (c.grant_types.includes('implicit') && !usesImplicit) problem('response_types', 'the implicit grant needs an id_token or id_token token response type');
    if (c.response_types.length && !c.redirect_uris.length)
      problem('redirect_uris', 'a client that uses the authorization endpoint needs at least one redirect URI');
  });

// Entries are validated one by one, so one broken client does not hide the others' problems.
const fileSchema = z.strictObject({ clients: z.array(z.unknown()).default([]) });

export type ClientDeclaration = z.infer<typeof clientSchema>;

export interface ClientsFileOptions extends RedirectPolicy {
  /** The HMAC key client secrets are hashed with (IDP_CLIENT_SECRET_KEY). */
  secretKey: string;
  /** Keys that no longer make hashes but still verify them (IDP_CLIENT_SECRET_KEYS_PREVIOUS). */
  previousSecretKeys?: readonly string[];
  /** Scopes that exist (OIDC ones and every resource's); a client may only list these. */
  knownScopes: Set<string>;
  env?: Record<string, string | undefined>;
}

/** Turns validated declarations into oidc-provider client metadata, secrets hashed. */
export function toClientMetadata(file: string, declarations: ClientDeclaration[], options: ClientsFileOptions): ClientMetadata[] {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const seen = new Set<string>();
  const clients: ClientMetadata[] = [];
  for (const d of declarations) {
    const name = `client "${d.client_id}"`;
    if (seen.has(d.client_id)) problems.push(`${name}: client_id is declared twice`);
    seen.add(d.client_id);
    for (const p of redirectUriProblems(d, options)) problems.push(`${name}: ${p}`);
    const unknown = d.scope.split(' ').filter((s) => s && !options.knownScopes.has(s));
    if (unknown.length) problems.push(`${name}: scope: ${unknown.join(' ')} is not an OIDC scope nor declared by any resource`);
    if (!d.grant_types.includes('refresh_token') && d.scope.split(' ').includes('offline_access')) {
      problems.push(`${name}: scope: offline_access needs the refresh_token grant`);
    }
    let clientSecret: string | undefined;
    if (d.client_secret_hash) {
      clientSecret = d.client_secret_hash;
      // A hash from a key that was dropped (or never configured here) would fail every token request; say so now.
      if (hasUnknownClientSecretKey(d.client_secret_hash, { current: options.secretKey, previous: options.previousSecretKeys ?? [] })) {
        const kid = parseClientSecretHash(d.client_secret_hash)?.kid;
        problems.push(
          `${name}: client_secret_hash: made with a key (id ${kid}) that is neither IDP_CLIENT_SECRET_KEY (id ${clientSecretKeyId(options.secretKey)}) nor in IDP_CLIENT_SECRET_KEYS_PREVIOUS; rehash the secret with \`idm clients rehash\` or configure that key`,
        );
      }
    }
    if (d.client_secret_env) {
      const plain = env[d.client_secret_env];
      if (!plain) problems.push(`${name}: client_secret_env: ${d.client_secret_env} is not set`);
      else if (plain.length < 32)
        problems.push(
          `${name}: client_secret_env: ${d.client_secret_env} holds a secret shorter than 32 characters; generate one with \`idm clients new-secret\``,
        );
      else clientSecret = hashClientSecret(plain, options.secretKey);
    }
    const { client_secret_hash: _h, client_secret_env: _e, ...metadata } = d;
    clients.push({ ...metadata, ...(clientSecret ? { client_secret: clientSecret } : {}) } as ClientMetadata);
  }
  if (problems.length) throw new DeclarationFileError(file, problems);
  return clients;
}

export function loadClientsFile(file: string, options: ClientsFileOptions): ClientMetadata[] {
  const describe = describeEntryPath('clients', 'client', 'client_id');
  const parsed = readYamlFile(file, fileSchema, describe);
  const valid: ClientDeclaration[] = [];
  const problems: string[] = [];
  parsed.clients.forEach((entry, i) => {
    const result = clientSchema.safeParse(entry);
    if (result.success) valid.push(result.data);
    else for (const issue of result.error.issues) problems.push(`${describe(['clients', i, ...issue.path], parsed)}: ${issue.message}`);
  });
  try {
    const clients = toClientMetadata(file, valid, options);
    if (problems.length) throw new DeclarationFileError(file, problems);
    return clients;
  } catch (error) {
    if (error instanceof DeclarationFileError && problems.length && error.problems !== problems)
      throw new DeclarationFileError(file, [...problems, ...error.problems]);
    throw error;
  }
}
