// The signed-in user's own pages: the self-service password change.
export { mountAccount, type AccountDeps } from './routes.ts';
export { PASSWORD_PATH } from './views.ts';
export { createPendingRevocations, type PendingRevocations } from './pending-revocations.ts';
export { createRevocationRetrier, type RevocationRetrier } from './revocation-retrier.ts';
export { createPasswordChangeMetrics } from './metrics.ts';
