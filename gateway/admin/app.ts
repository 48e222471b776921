import express, { type Request } from 'express';
import type { AuditLog } from '../audit/store.ts';
import type { LiveRoute } from '../dispatch.ts';
import type { Flipper } from '../flips.ts';
import { adminApi, type AdminTokenPolicy } from './api.ts';
import { adminPage } from './page.ts';
import { createAdminSessions } from './session.ts';
import { isHttps } from '../cookies.ts';
import { trafficSource } from '../traffic.ts';

/** Everything under /admin: the JSON API (bearer token) and the page (session cookie). Off the proxy's hot path. */
export function createAdminApp(deps: {
  token: string;
  accessTokens: AdminTokenPolicy;
  routes: LiveRoute[];
  flip: Flipper;
  audit: AuditLog;
  trusted: (address: string | undefined) => boolean;
}) {
  const traffic = trafficSource(deps.routes);
  const routes = new Map(deps.routes.map((r) => [r.name, r]));
  const isSecure = (req: Request) => isHttps(req, deps.trusted);
  const app = express();
  app.disable('x-powered-by');
  app.use('/admin/api', adminApi({ token: deps.token, accessTokens: deps.accessTokens, routes, flip: deps.flip, audit: deps.audit, traffic }));
  app.use('/admin', adminPage({ token: deps.token, sessions: createAdminSessions(deps.token), routes, flip: deps.flip, audit: deps.audit, traffic, isSecure }));
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });
  return app;
}
