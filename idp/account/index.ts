// The signed-in user's own pages: the self-service password change.
export { mountAccount, type AccountDeps } from './routes.ts';
export { PASSWORD_PATH } from './views.ts';
