// What each thing a client asks for means, in words a person understands on the consent page.

const SCOPES: Record<string, string> = {
  openid: 'Know who you are when you sign in',
  profile: 'See your name and basic profile',
  email: 'See your email address',
  address: 'See your postal address',
  phone: 'See your phone number',
  offline_access: 'Stay connected to your account when you are not using it',
};

const CLAIMS: Record<string, string> = {
  sub: 'your account identifier',
  name: 'your name',
  preferred_username: 'your username',
  email: 'your email address',
  email_verified: 'whether your email address is verified',
  updated_at: 'when your profile last changed',
};

export function describeScope(scope: string): string {
  return SCOPES[scope] ?? `Use the permission “${scope}”`;
}

export function describeClaim(claim: string): string {
  return CLAIMS[claim] ?? `the detail “${claim}”`;
}
