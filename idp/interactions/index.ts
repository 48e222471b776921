// The idp's own pages: login, consent, logout confirmation and errors.
export { mountInteractions, type InteractionDeps } from './routes.ts';
export { renderError, logoutSource, postLogoutSuccessSource, unavailable } from './provider-pages.ts';
export type { InteractionProvider } from './provider-types.ts';
// The building blocks other idp pages (idp/account/) render with, so every page looks and is protected alike.
export { createCsrfTokens, type CsrfTokens } from './csrf.ts';
export { unreadableFormStatus } from './form-errors.ts';
export { RETRY_AFTER_SECONDS, sendUnavailablePage } from './unavailable.ts';
export { html, type Html } from '../../lib/html.ts';
export { errorSummary, fieldError, hidden, layout, messagePage, type FieldError } from './views.ts';
