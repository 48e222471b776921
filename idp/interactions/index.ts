// The idp's own pages: login, consent, logout confirmation and errors.
export { mountInteractions, type InteractionDeps } from './routes.ts';
export { renderError, logoutSource, postLogoutSuccessSource } from './provider-pages.ts';
export type { InteractionProvider } from './provider-types.ts';
