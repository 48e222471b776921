// The seam between the idp's pages (interactions, OIDC claims) and the just-in-time login.
// The pages only ever see these shapes: never a hash, never which step failed.

/** What the idp knows of a user, as claims are built from it. `id` is the OIDC `sub`. */
export interface IdpUser {
  id: string;
  username: string | null;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  active: boolean;
  updatedAt: Date;
}

/**
 * One generic failure for unknown user, wrong password, inactive account and unreadable
 * hash, so a caller cannot tell them apart (and must not try). `unavailable`: nothing was
 * decided, because a service the check needs (the legacy-adapter or its database) did not
 * answer; not a failed login.
 */
export type LoginOutcome = { ok: true; user: IdpUser } | { ok: false; unavailable?: true };

export interface LoginOptions {
  /** Verify only, write nothing (no upgrade, no import). */
  dryRun?: boolean;
  /**
   * Told the account the login resolved to, when it named one (`idp:<id>` or `legacy:<legacy
   * id>`), right password or wrong: the throttle counts failures per account however it was
   * typed. For counting only; never shown to anyone.
   */
  onAccount?(account: string): void;
}

/** The account identity of a stored user: the legacy id when it has one, so it is the same before and after the import. */
export function accountOf(user: { id: string; legacyId: string | null }): string {
  return user.legacyId !== null ? `legacy:${user.legacyId}` : `idp:${user.id}`;
}

export interface LoginService {
  /**
   * `identifier` is a username or an email address. `dryRun`: for a legacy user not yet
   * imported the outcome's `user.id` is '' because no idp subject exists yet. Implemented by
   * createLoginService (./index.ts).
   */
  login(identifier: string, password: string, options?: LoginOptions): Promise<LoginOutcome>;
}

export interface UserDirectory {
  findById(id: string): Promise<IdpUser | undefined>;
}
