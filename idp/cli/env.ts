import { z } from 'zod';
import { httpUrl, variable } from '../../lib/config.ts';

/** What `idm sessions` reads: the idp's admin endpoint, reached directly (not through the gateway), and its token. */
export const sessionsCliEnv = {
  IDP_ADMIN_URL: variable(httpUrl.default('http://127.0.0.1:3001'), 'The idp whose admin endpoint `idm sessions` calls, directly, not through the gateway.'),
  IDP_ADMIN_TOKEN: variable(z.string().min(1).optional(), "The idp's `IDP_ADMIN_TOKEN`.", { secret: true, default: 'unset' }),
};
