// Rules both adapters must apply identically; the contract tests hold them to it.

import type { AdapterPayload } from './types.ts';

/**
 * Models whose entries are revoked together by grant. This is oidc-provider's own list (its
 * memory adapter and `helpers/revoke.js`): ClientCredentials carry no grant, and an Interaction's
 * grantId is the grant being built, which must survive the interaction being finished.
 */
export const GRANTABLE_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/** Payload fields oidc-provider looks entries up by (`findByUid`, `findByUserCode`). */
export const LOOKUP_FIELDS = ['uid', 'userCode'] as const;
export type LookupField = (typeof LOOKUP_FIELDS)[number];

/**
 * Rejection for `consume` on an entry that is already consumed or gone. It carries the fields
 * oidc-provider's error handler reads (`expose`, `statusCode`, `error_description`), so the
 * request that lost the race gets a 400 with the same error code as a plain replay would,
 * instead of a 500 that looks like an outage.
 */
export class ConsumeConflictError extends Error {
  readonly model: string;
  readonly id: string;
  readonly reason: 'already consumed' | 'not found';
  readonly error: string;
  readonly error_description: string;
  readonly status = 400;
  readonly statusCode = 400;
  readonly expose = true;
  readonly allow_redirect = true;

  constructor(model: string, id: string, reason: 'already consumed' | 'not found') {
    // A pushed authorization request is spent at the authorization endpoint, where the
    // standard error for a used request_uri differs from the token endpoint's.
    const error = model === 'PushedAuthorizationRequest' ? 'invalid_request_uri' : 'invalid_grant';
    super(error);
    this.name = 'ConsumeConflictError';
    this.model = model;
    this.id = id;
    this.reason = reason;
    this.error = error;
    this.error_description = `${model} ${reason === 'not found' ? 'is invalid or expired' : 'was already used'}`;
  }
}

/** JavaScript truthiness, which is what oidc-provider's `!this.consumed` checks use. */
export function isConsumed(payload: AdapterPayload): boolean {
  return Boolean(payload.consumed);
}

export function epochSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Turns oidc-provider's `expiresIn` (seconds) into a lifetime in milliseconds: `undefined` for
 * entries that never expire, `0` for an entry that is already expired and must not be stored.
 */
export function lifetimeMs(expiresIn: number | undefined): number | undefined {
  if (expiresIn === undefined) return undefined;
  if (typeof expiresIn !== 'number' || Number.isNaN(expiresIn)) {
    throw new TypeError(`expiresIn must be a number of seconds or undefined, got ${String(expiresIn)}`);
  }
  if (expiresIn === Infinity) return undefined;
  return expiresIn > 0 ? Math.ceil(expiresIn * 1000) : 0;
}

/** The payload's values for the lookup fields, skipping absent or non-string ones. */
export function lookupValues(payload: AdapterPayload): Array<[LookupField, string]> {
  const out: Array<[LookupField, string]> = [];
  for (const field of LOOKUP_FIELDS) {
    const value = payload[field];
    if (typeof value === 'string' && value !== '') out.push([field, value]);
  }
  return out;
}

export function grantIdOf(model: string, payload: AdapterPayload): string | undefined {
  const { grantId } = payload;
  return GRANTABLE_MODELS.has(model) && typeof grantId === 'string' && grantId !== '' ? grantId : undefined;
}
