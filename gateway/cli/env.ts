import { z } from 'zod';
import { httpUrl, variable } from '../../lib/config.ts';

/** What `idm routes` reads: where the gateway's admin API is, and the credential it presents. */
export const routesCliEnv = {
  GATEWAY_ADMIN_URL: variable(httpUrl.default('http://127.0.0.1:3000'), 'The gateway whose admin API `idm routes` calls.'),
  GATEWAY_ADMIN_ACCESS_TOKEN: variable(
    z.string().min(1).optional(),
    'An idp access token for the gateway admin audience with the admin scope; it wins over `GATEWAY_ADMIN_TOKEN`, and the audit log then names its subject.',
    { secret: true, default: 'unset' },
  ),
  GATEWAY_ADMIN_TOKEN: variable(z.string().min(1).optional(), "The gateway's shared admin token, used when `GATEWAY_ADMIN_ACCESS_TOKEN` is unset.", {
    secret: true,
    default: 'unset',
  }),
};
