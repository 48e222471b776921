import express, { type Request, type Response } from 'express';
import { secretsEqual } from '../../lib/bearer-auth.ts';
import { escapeHtml } from '../../lib/html.ts';
import { pageSecurityHeaders } from '../../lib/page-headers.ts';
import type { AuditEntry, AuditLog } from '../audit/store.ts';
import type { LiveRoute } from '../dispatch.ts';
import { describeFlag, MODES, type FlagState } from '../flags/state.ts';
import { FlagStoreUnavailable, type Flipper } from '../flips.ts';
import { readCookie, setCookie } from '../cookies.ts';
import { LOGIN_COOKIE, SESSION_COOKIE, type AdminSession, type AdminSessions } from './session.ts';
import { describeNewSide, parseFlip, routeView } from './view.ts';
import { trafficOf, type TrafficSource } from '../traffic.ts';

const STYLESHEET = `
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2329}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d8dde3;vertical-align:top}
th{background:#f2f4f7}code{font-size:.85em}.mode{font-weight:600}.fallback{color:#a33}
form.inline{display:flex;gap:.4rem;flex-wrap:wrap;align-items:center}input,select,button{font:inherit;padding:.2rem .4rem}
input[name=percent]{width:4.5rem}input[name=reason]{min-width:14rem}
.error{color:#a33;font-weight:600}.notice{color:#276738;font-weight:600}.box{border:1px solid #d8dde3;padding:1rem;max-width:32rem}
label{display:block;margin:.6rem 0 .2rem}header{display:flex;justify-content:space-between;align-items:center}
`;

// Every answer of the admin page, its stylesheet included, carries the page headers.
const SECURITY_HEADERS = pageSecurityHeaders({ ownAssets: true });

function layout(title: string, body: string): string {
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/admin/assets/admin.css"></head>` +
    `<body>${body}</body></html>`
  );
}

const stateText = (s: FlagState | null) => (s ? describeFlag(s) : '(unreadable)');

function auditTable(entries: AuditEntry[]): string {
  if (!entries.length) return '<p id="audit-empty">No changes yet.</p>';
  const rows = entries
    .map(
      (e) =>
        `<tr><td>${escapeHtml(e.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</td><td>${escapeHtml(e.actor)}</td><td>${escapeHtml(e.via)}</td><td>${escapeHtml(e.route)}</td><td>${escapeHtml(stateText(e.from))}</td><td>${escapeHtml(stateText(e.to))}</td><td class="reason">${escapeHtml(e.reason)}</td></tr>`,
    )
    .join('');
  return `<table id="audit"><thead><tr><th>when (UTC)</th><th>who</th><th>via</th><th>route</th><th>from</th><th>to</th><th>why</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The admin page: server-rendered, no scripts at all (the CSP forbids them), CSRF tokens on every form. */
export function adminPage(deps: {
  token: string;
  sessions: AdminSessions;
  routes: Map<string, LiveRoute>;
  flip: Flipper;
  audit: AuditLog;
  traffic: TrafficSource;
  isSecure(req: Request): boolean;
}) {
  const { sessions } = deps;
  const router = express.Router();
  router.use((_req, res, next) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    next();
  });
  router.get('/assets/admin.css', (_req, res) => {
    res.setHeader('cache-control', 'public, max-age=3600');
    res.type('text/css').send(STYLESHEET);
  });
  router.use(express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }));
  // Forms only ever come from this page: a cross-site POST is refused before anything else.
  router.use((req, res, next) => {
    if (req.method !== 'POST') return next();
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      try {
        if (new URL(origin).host === req.headers.host) return next();
      } catch {
        // fall through
      }
      return void res.status(403).type('html').send(layout('Forbidden', '<p class="error">Cross-site form refused.</p>'));
    }
    next();
  });

  const cookie = (req: Request, name: string, value: string, maxAge: number) =>
    setCookie(name, value, { path: '/admin', secure: deps.isSecure(req), maxAge, sameSite: 'Strict' });

  const loginPage = (req: Request, res: Response, status: number, problem?: string) => {
    const nonce = sessions.loginNonce();
    res.setHeader('set-cookie', cookie(req, LOGIN_COOKIE, nonce, 600));
    res
      .status(status)
      .type('html')
      .send(
        layout(
          'Gateway admin: log in',
          `<h1>Gateway admin</h1>
<div class="box"><form method="post" action="/admin/login" id="login-form">
${problem ? `<p class="error" id="login-error">${escapeHtml(problem)}</p>` : ''}
<input type="hidden" name="csrf" value="${escapeHtml(sessions.loginCsrf(nonce))}">
<label for="name">Your name (for the audit log)</label><input id="name" name="name" required maxlength="60" autocomplete="username">
<label for="token">Admin token</label><input id="token" name="token" type="password" required autocomplete="current-password">
<p><button type="submit">Log in</button></p></form></div>`,
        ),
      );
  };

  const session = (req: Request): AdminSession | undefined => sessions.verify(readCookie(req, SESSION_COOKIE));

  const dashboard = async (req: Request, res: Response, who: AdminSession, notice?: string, problem?: string, status = 200) => {
    const csrf = escapeHtml(sessions.csrfToken(who));
    const traffic = await deps.traffic();
    const rows = [...deps.routes.values()]
      .map((route) => {
        const v = routeView(route, trafficOf(traffic, route.name));
        const options = MODES.map((m) => `<option value="${m}"${m === v.mode ? ' selected' : ''}>${m}</option>`).join('');
        return `<tr id="route-${escapeHtml(v.name)}"><td><strong>${escapeHtml(v.name)}</strong><br><code>${escapeHtml(v.paths.join(' '))}</code>${v.methods ? `<br><code>${escapeHtml(v.methods.join(' '))}</code>` : ''}<br><span class="sides">legacy: ${escapeHtml(v.upstreams.legacy)}, new: ${escapeHtml(describeNewSide(v.upstreams.new, v.action))}</span></td>
<td class="mode">${escapeHtml(describeFlag(route.flag.state))}${v.source === 'default' ? `<br><span class="fallback">default (${escapeHtml(v.fallbackReason ?? 'not set')})</span>` : ''}</td>
<td>legacy ${v.traffic.legacy} (${v.traffic.legacy5xx} 5xx)<br>new ${v.traffic.new} (${v.traffic.new5xx} 5xx)</td>
<td><form class="inline" method="post" action="/admin/flip"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="route" value="${escapeHtml(v.name)}">
<select name="mode" aria-label="mode for ${escapeHtml(v.name)}">${options}</select>
<input name="percent" inputmode="numeric" placeholder="%" value="${v.percent ?? ''}" aria-label="canary percent for ${escapeHtml(v.name)}">
<input name="reason" required minlength="3" maxlength="1000" placeholder="reason" aria-label="reason for ${escapeHtml(v.name)}">
<button type="submit">Flip…</button></form></td></tr>`;
      })
      .join('');
    const entries = await deps.audit.list({ limit: 50 });
    res
      .status(status)
      .type('html')
      .send(
        layout(
          'Gateway admin',
          `<header><h1>Gateway admin</h1>
<form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${csrf}">Logged in as <strong id="who">${escapeHtml(who.actor)}</strong> <button type="submit">Log out</button></form></header>
${notice ? `<p class="notice" id="notice">${escapeHtml(notice)}</p>` : ''}${problem ? `<p class="error" id="problem">${escapeHtml(problem)}</p>` : ''}
<h2>Routes</h2><p>Traffic counts are this replica's since it started.</p>
<table id="routes"><thead><tr><th>route</th><th>mode</th><th>traffic</th><th>flip</th></tr></thead><tbody>${rows}</tbody></table>
<h2>Audit log</h2>${auditTable(entries)}`,
        ),
      );
  };

  router.get(['/', ''], async (req, res) => {
    const who = session(req);
    if (!who) return loginPage(req, res, 401);
    const flipped = typeof req.query.flipped === 'string' && deps.routes.has(req.query.flipped) ? `Route ${req.query.flipped} flipped.` : undefined;
    await dashboard(req, res, who, flipped);
  });

  router.post('/login', (req, res) => {
    const body = req.body as Record<string, unknown>;
    if (!sessions.checkLoginCsrf(readCookie(req, LOGIN_COOKIE), body.csrf)) return loginPage(req, res, 400, 'The form expired; please try again.');
    const name = typeof body.name === 'string' ? body.name.trim() : '';
    const token = typeof body.token === 'string' ? body.token : '';
    if (!secretsEqual(token, deps.token)) return loginPage(req, res, 401, 'Wrong admin token.');
    if (name.length < 1 || name.length > 60 || /\p{Cc}/u.test(name))
      return loginPage(req, res, 400, 'Give your name (up to 60 characters): it goes into the audit log.');
    const issued = sessions.issue(name);
    res.setHeader('set-cookie', [cookie(req, SESSION_COOKIE, issued.value, issued.maxAgeSeconds), cookie(req, LOGIN_COOKIE, '', 0)]);
    res.redirect(303, '/admin');
  });

  // Everything below needs a session and the form's CSRF token.
  router.post(['/logout', '/flip', '/flip/confirm'], (req, res, next) => {
    const who = session(req);
    if (!who) return loginPage(req, res, 401, 'Please log in.');
    if (!sessions.checkCsrf(who, (req.body as Record<string, unknown>).csrf))
      return void res.status(403).type('html').send(layout('Forbidden', '<p class="error">The form expired. <a href="/admin">Back</a></p>'));
    res.locals.session = who;
    next();
  });

  router.post('/logout', (req, res) => {
    res.setHeader('set-cookie', cookie(req, SESSION_COOKIE, '', 0));
    res.redirect(303, '/admin');
  });

  const readFlip = (req: Request) => {
    const body = req.body as Record<string, unknown>;
    const percent = typeof body.percent === 'string' && /^\d{1,3}$/.test(body.percent.trim()) ? Number(body.percent) : body.percent;
    return { route: typeof body.route === 'string' ? body.route : '', parsed: parseFlip({ mode: body.mode, percent, reason: body.reason }) };
  };

  router.post('/flip', async (req, res) => {
    const who = res.locals.session as AdminSession;
    const { route: name, parsed } = readFlip(req);
    const route = deps.routes.get(name);
    if (!route) return dashboard(req, res, who, undefined, `There is no route "${name}".`, 404);
    if (!parsed.ok) return dashboard(req, res, who, undefined, `Not flipped: ${parsed.problems.join('; ')}`, 400);
    const csrf = escapeHtml(sessions.csrfToken(who));
    res.type('html').send(
      layout(
        'Confirm the flip',
        `<h1>Confirm the flip</h1><div class="box" id="confirm">
<p>Route <strong>${escapeHtml(name)}</strong>: from <strong>${escapeHtml(describeFlag(route.flag.state))}</strong> to <strong id="confirm-to">${escapeHtml(describeFlag(parsed.to))}</strong>.</p>
<p>Reason: <em>${escapeHtml(parsed.reason)}</em></p>
<form method="post" action="/admin/flip/confirm"><input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="route" value="${escapeHtml(name)}"><input type="hidden" name="mode" value="${escapeHtml(parsed.to.mode)}">
<input type="hidden" name="percent" value="${parsed.to.mode === 'canary' ? parsed.to.percent : ''}"><input type="hidden" name="reason" value="${escapeHtml(parsed.reason)}">
<button type="submit" id="confirm-flip">Flip ${escapeHtml(name)} now</button> <a href="/admin">Cancel</a></form></div>`,
      ),
    );
  });

  router.post('/flip/confirm', async (req, res) => {
    const who = res.locals.session as AdminSession;
    const { route: name, parsed } = readFlip(req);
    if (!deps.routes.has(name)) return dashboard(req, res, who, undefined, `There is no route "${name}".`, 404);
    if (!parsed.ok) return dashboard(req, res, who, undefined, `Not flipped: ${parsed.problems.join('; ')}`, 400);
    try {
      const result = await deps.flip({ route: name, to: parsed.to, reason: parsed.reason, actor: who.actor, via: 'page' });
      if (!result.ok) return dashboard(req, res, who, undefined, `Not flipped: ${result.problem}`, 409);
    } catch (error) {
      const problem = error instanceof FlagStoreUnavailable ? 'the flag store is unavailable' : 'the audit log could not be written';
      return dashboard(req, res, who, undefined, `Not flipped: ${problem}. Nothing changed.`, 503);
    }
    res.redirect(303, `/admin?flipped=${encodeURIComponent(name)}`);
  });

  return router;
}
