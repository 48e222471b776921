// The just-in-time login, for the idp's pages and internal endpoints. Build it once per
// process with createLoginService (idp/app.ts does) and use it through the types.ts seam.
export { createLoginService, publicUser, type LoginServiceOptions } from './service.ts';
export { createPasswordLoginMetrics, type PasswordLoginMetrics, type PasswordLoginOutcome } from './metrics.ts';
export { accountOf, type IdpUser, type LoginOptions, type LoginOutcome, type LoginService, type UserDirectory } from './types.ts';
