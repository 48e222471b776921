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
 * hash, so a caller cannot tell them apart (and must not try).
 */
export type LoginOutcome = { ok: true; user: IdpUser } | { ok: false };

export interface LoginService {
  /**
   * `identifier` is a username or an email address. `dryRun`: verify only, write nothing (no
   * upgrade, no import); for a legacy user not yet imported the outcome's `user.id` is ''
   * because no idp subject exists yet. Implemented by createLoginService (./index.ts).
   */
  login(identifier: string, password: string, options?: { dryRun?: boolean }): Promise<LoginOutcome>;
}

export interface UserDirectory {
  findById(id: string): Promise<IdpUser | undefined>;
}
