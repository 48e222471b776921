// oidc-provider 9 ships no type declarations, so the storage contract its models call is
// written down here; both adapters and the contract tests are checked against it.

/**
 * What oidc-provider hands to `upsert` and expects back from the finders. Only the fields the
 * adapters index on are named; everything else is opaque and must round-trip unchanged.
 */
export interface AdapterPayload {
  [key: string]: unknown;
  jti?: string;
  kind?: string;
  exp?: number;
  grantId?: string;
  uid?: string;
  userCode?: string;
  /** Epoch seconds at which a one-time artefact (code, rotated refresh token, ...) was used. */
  consumed?: unknown;
}

/** One adapter per model name (`AccessToken`, `Session`, `Client`, ...). */
export interface OidcAdapter {
  /** `expiresIn` is seconds; `undefined` means the entry never expires (e.g. a registered Client). */
  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  /**
   * Marks the entry consumed. Rejects with `ConsumeConflictError` when it was already consumed
   * (or is gone): every caller in oidc-provider checks `consumed` first, so a conflict here means
   * another request won a race for the same code and this one must not mint tokens from it.
   */
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  /** Removes every grantable artefact (tokens, codes) issued under `grantId`, whatever its model. */
  revokeByGrantId(grantId: string): Promise<void>;
}

/**
 * The value for oidc-provider's `adapter` option. A plain (non-constructable, non-async) function
 * is what oidc-provider treats as a factory and calls once per model name.
 */
export type OidcAdapterFactory = (model: string) => OidcAdapter;
