// Password reset by e-mail (docs/idp.md "Password reset", docs/DESIGN.md "Decisions"): for idp users and for
// legacy users who never signed in, who are imported first.
export { createResetMetrics, type ResetMetrics } from './metrics.ts';
export { mountReset, type MountedReset, type ResetDeps } from './routes.ts';
export { createResetTokens, type ResetTokens } from './tokens.ts';
export { NEW_PASSWORD_PATH, RESET_PATH } from './views.ts';
