import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../lib/logger.ts';
import { performance } from 'node:perf_hooks';
import { currentRequest, REQUEST_ID_HEADER, requestIdOf } from '../lib/request-context.ts';
import { bearerToken, bearerTokenOf } from '../lib/bearer-auth.ts';
import { setRouteLabel, type ServiceContext } from '../lib/service.ts';
import type { AccessTokenVerifier } from './api-auth/access-token.ts';
import type { ActionRunner } from './actions.ts';
import { checkBearer, checkBearerNow, type GuardResult } from './api-auth/bearer-guard.ts';
import { bucketOf, goesToNewSide, subjectKey, type BucketCookies } from './canary.ts';
import { isHttps } from './cookies.ts';
import type { FlaggedRoute } from './flags/table.ts';
import type { GatewayMetrics, Side } from './metrics.ts';
import type { HostCheck } from './proxy/allowed-hosts.ts';
import { forward } from './proxy/forward.ts';
import type { ForwardOutcome } from './proxy/forward-outcome.ts';
import { refuseRequest, sendGatewayError } from './proxy/gateway-error.ts';
import { upstreamRequestHead, upstreamRequestHeaders } from './proxy/headers.ts';
import { forwardLean } from './proxy/lean-forward.ts';
import { forwardUpgrade, rejectUpgrade } from './proxy/upgrade.ts';
import type { Upstream } from './proxy/upstream.ts';
import { relyingPartyAction } from './signin/paths.ts';
import type { RouteDefinition } from './routes/file.ts';
import type { RouteAuth } from './routes/auth.ts';
import { compileCanonicalizer, type CanonicalTarget } from './routes/canonical.ts';
import { compileMatcher } from './routes/matcher.ts';
import type { RollbackWatch } from './rollback.ts';
import type { Shadow } from './shadow/shadow.ts';
import type { Traffic } from './traffic.ts';
import { safeError } from '../lib/safe-error.ts';

/** A route as the request path sees it: its definition, live flag, upstreams and counters. */
export interface LiveRoute extends FlaggedRoute {
  readonly definition: RouteDefinition;
  readonly legacy: Upstream;
  readonly next: Upstream;
  rollback: RollbackWatch | undefined;
  /** Requests served by this replica since it started, per side. */
  readonly traffic: Traffic;
}

export interface DispatchOptions {
  routes: LiveRoute[];
  /** GATEWAY_ALLOWED_HOSTS: a request for any other Host is refused (421) before routing. */
  hostAllowed: HostCheck;
  /** The route file's `scriptSuffixes` (canonical.ts). */
  scriptSuffixes: readonly string[];
  timeoutMs: number;
  trusted: (address: string | undefined) => boolean;
  metrics: GatewayMetrics;
  shadow: Shadow;
  logger: Logger;
  /** Everything under /admin (express: the API and the page). */
  admin: RequestListener;
  /** The relying party's /auth/login, /auth/callback and /auth/logout (gateway/signin). */
  auth: RequestListener;
  /** A route's `action` (signin, signout), run when its new side is chosen (actions.ts). */
  runAction: ActionRunner;
  /** The signed gw_bucket cookie that keeps an anonymous browser on its side of a canary. */
  buckets: BucketCookies;
  /** Verifies a request's bearer access token: API routes' checks, and its `sub` picks a canary bucket. */
  accessTokens: AccessTokenVerifier;
  onRollback(route: LiveRoute, reason: string): void;
  /** lib/service's recorder for a request the hot path answered (HTTP metrics, access log). */
  finished: ServiceContext['finished'];
}

interface SideChoice {
  side: Side;
  setCookie?: string;
}

/** `path`: canonical, without the query. */
function isAdminPath(path: string): boolean {
  return path.startsWith('/admin') && (path.length === 6 || path[6] === '/');
}

/** The gateway's own paths, never proxied: /admin and the relying party's four /auth/ paths. */
function isOwnPath(path: string): boolean {
  return path.charCodeAt(1) === 97 /* a */ && (isAdminPath(path) || relyingPartyAction(path) !== undefined);
}

/**
 * The raw request handler in front of everything: route match (precompiled), side choice from
 * the in-memory flag, and the lean forwarder. No middleware stack on this path; express only
 * serves /admin.
 */
export function createDispatcher(options: DispatchOptions) {
  const { metrics, shadow, timeoutMs, trusted } = options;
  const match = compileMatcher(options.routes, (r) => r.definition);
  const canonicalize = compileCanonicalizer(options.scriptSuffixes);

  /**
   * The request's canonical target, which from then on is its URL: every later reader (the
   * forwarders' request head, shadow copies, the admin app, the relying party) sees the path
   * the route was matched on. Idempotent, so the hot path and the handler may both call it.
   */
  function canonical(req: IncomingMessage): CanonicalTarget {
    const target = canonicalize(req.url ?? '/');
    if (target.ok) req.url = target.target;
    return target;
  }

  /** Only a canary that splits traffic needs a stickiness key; everything else skips token verification. */
  function splits(route: LiveRoute): boolean {
    const state = route.flag.state;
    return state.mode === 'canary' && state.percent > 0 && state.percent < 100;
  }

  /**
   * The token's subject when the request carries a valid access token (any audience of ours:
   * it only picks a bucket, it authorizes nothing), else undefined: a bad or expired token, or
   * the idp's keys out of reach, falls back to the cookie and never fails the request.
   */
  async function subjectOf(token: string): Promise<string | undefined> {
    const result = await options.accessTokens.verify(token);
    if (result.ok) return result.claims.sub;
    metrics.canaryTokenRejected(result.reason);
    return undefined;
  }

  function chooseSide(route: LiveRoute, cookie: string | undefined, secure: boolean, subject: string | undefined): SideChoice {
    const state = route.flag.state;
    switch (state.mode) {
      case 'legacy':
      case 'shadow':
        return { side: 'legacy' };
      case 'idp':
        return { side: 'new' };
      case 'canary': {
        if (state.percent <= 0) return { side: 'legacy' };
        if (state.percent >= 100) return { side: 'new' };
        // A signed-in user lands on the same side on every device: the bucket follows the user.
        if (subject !== undefined) return { side: goesToNewSide(bucketOf(subjectKey(subject)), state.percent) ? 'new' : 'legacy' };
        const known = options.buckets.read(cookie);
        if (known !== undefined) return { side: goesToNewSide(bucketOf(known), state.percent) ? 'new' : 'legacy' };
        // First visit (or a cookie we did not sign): the decision and the cookie come from the same new id, so it sticks from now on.
        const fresh = options.buckets.issue(secure);
        return { side: goesToNewSide(bucketOf(fresh.id), state.percent) ? 'new' : 'legacy', setCookie: fresh.setCookie };
      }
    }
  }

  function observe(route: LiveRoute, side: Side, outcome: ForwardOutcome) {
    metrics.proxied(route.name, side, outcome.status, outcome.upstreamSeconds);
    const failed = outcome.status >= 500;
    if (side === 'legacy') {
      route.traffic.legacy++;
      if (failed) route.traffic.legacy5xx++;
      return;
    }
    route.traffic.new++;
    if (failed) route.traffic.new5xx++;
    // Only the upstream's own answers judge it: not clients that left (499) or never finished their body (408).
    if (route.rollback && route.flag.state.mode === 'canary' && outcome.status !== 499 && outcome.failure !== 'client_timeout') {
      const reason = route.rollback.observe(outcome.status, Date.now());
      if (reason) options.onRollback(route, reason);
    }
  }

  const handler: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    const requestId = currentRequest()?.requestId ?? requestIdOf(req);
    if (!options.hostAllowed(req.headers.host)) {
      setRouteLabel(res, 'misdirected');
      sendGatewayError(res, 421, 'misdirected_request', requestId);
      return;
    }
    const target = canonical(req);
    if (!target.ok) {
      setRouteLabel(res, 'bad_path');
      sendGatewayError(res, 400, 'bad_path', requestId);
      return;
    }
    if (isAdminPath(target.path)) {
      setRouteLabel(res, 'admin');
      options.admin(req, res);
      return;
    }
    if (relyingPartyAction(target.path) !== undefined) {
      setRouteLabel(res, 'auth');
      options.auth(req, res);
      return;
    }
    const found = match(req.method ?? 'GET', target.routePath);
    if (!found.ok) {
      setRouteLabel(res, found.reason);
      if (found.reason === 'method_not_allowed') sendGatewayError(res, 405, found.reason, requestId, { allow: found.allow });
      else sendGatewayError(res, 404, found.reason, requestId);
      return;
    }
    const route = found.route;
    setRouteLabel(res, route.name);
    const auth = route.definition.auth;
    if (auth) return guarded(route, auth, req, res, requestId);
    // Without a bearer token (or outside a split canary) the request stays synchronous.
    const token = splits(route) ? bearerToken(req) : undefined;
    if (token === undefined) return proxy(route, req, res, requestId, undefined);
    subjectOf(token)
      .then((subject) => {
        // The client may have left while the token was checked: nothing to answer.
        if (res.destroyed || req.socket.destroyed) return;
        proxy(route, req, res, requestId, subject);
      })
      .catch((error: unknown) => {
        // Not expected (verify never throws), but a bug here must cost one request, not the process.
        options.logger.error({ route: route.name, err: safeError(error) }, 'canary token path failed');
        if (!res.headersSent) sendGatewayError(res, 502, 'bad_gateway', requestId);
        else res.destroy();
      });
  };

  /**
   * An API route (its `auth` block): the bearer check first, then the ordinary path with the
   * token's identity headers; a verified token's `sub` also picks a canary bucket. Without a token
   * on an optional route nothing waits: the monolith's own session decides, as before.
   */
  function guarded(route: LiveRoute, auth: RouteAuth, req: IncomingMessage, res: ServerResponse, requestId: string) {
    const token = bearerToken(req);
    if (token === undefined && auth.bearer === 'optional') {
      metrics.bearerChecked(route.name, 'anonymous');
      return proxy(route, req, res, requestId, undefined);
    }
    checkBearer(auth, options.accessTokens, req.method ?? 'GET', token)
      .then((result) => {
        metrics.bearerChecked(route.name, result.outcome);
        if (res.destroyed || req.socket.destroyed) return;
        if (!result.ok) return refuse(route, result, res, requestId);
        proxy(route, req, res, requestId, result.claims?.sub, result.headers);
      })
      .catch((error: unknown) => {
        options.logger.error({ route: route.name, err: safeError(error) }, 'bearer check failed');
        if (!res.headersSent) sendGatewayError(res, 502, 'bad_gateway', requestId);
        else res.destroy();
      });
  }

  function refuse(route: LiveRoute, result: Extract<GuardResult, { ok: false }>, res: ServerResponse, requestId: string) {
    // The detail names what was wrong with the token or the idp, never the token itself.
    if (result.outcome === 'unavailable') options.logger.warn({ route: route.name, detail: result.detail }, 'bearer check: the idp could not be asked');
    sendGatewayError(res, result.status, result.error, requestId, result.headers);
  }

  /**
   * The ordinary path: shadow copies, canaries keyed by a verified token, https upstreams, API
   * routes (`identity`: the verified token's headers, after the client's were stripped).
   * lib/service has set the request id on `res` already.
   */
  function proxy(
    route: LiveRoute,
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    subject: string | undefined,
    identity?: readonly [string, string][],
  ) {
    const choice = chooseSide(route, req.headers.cookie, isHttps(req, trusted), subject);
    const action = route.definition.action;
    if (choice.side === 'new' && action) return act(route, action, req, res, choice.setCookie);
    const target = choice.side === 'legacy' ? route.legacy : route.next;
    const headers = withIdentity(upstreamRequestHeaders(req, { requestId, trusted, pinned: target.publicOrigin }), identity);
    if (!headers) return refuseRequest(req, res, requestId);
    // An action answers with a redirect, not a page: its status says nothing next to legacy's.
    // Only the login decision compares (the `new` upstream checks the same credentials).
    const compares = route.flag.state.mode === 'shadow' && (!action || route.definition.shadow === 'login-decision');
    const compare = compares
      ? shadow.begin(route.name, route.definition.shadow, req, route.next, withIdentity(shadowHeaders(req, route, headers, requestId), identity), requestId)
      : undefined;
    forward(req, res, target, headers, requestId, timeoutMs, choice.setCookie ? ['set-cookie', choice.setCookie] : undefined, (outcome) => {
      observe(route, choice.side, outcome);
      compare?.(outcome);
    });
  }

  /** The new side of a route whose new side is an action: counted like an upstream's answer. */
  function act(route: LiveRoute, action: NonNullable<RouteDefinition['action']>, req: IncomingMessage, res: ServerResponse, setCookie: string | undefined) {
    if (setCookie) res.appendHeader('set-cookie', setCookie);
    res.once('close', () => observe(route, 'new', { status: res.writableFinished ? res.statusCode : 499, upstreamSeconds: undefined }));
    options.runAction(action, req, res);
  }

  /** The verified identity's headers (the route's `auth.headers`), set over whatever else is there. */
  function withIdentity<H extends OutgoingHttpHeaders | undefined>(headers: H, identity: readonly [string, string][] | undefined): H {
    if (headers && identity) for (const [name, value] of identity) headers[name.toLowerCase()] = value;
    return headers;
  }

  /** The shadow copy's headers: the legacy side's, unless the new side is pinned to another public origin. */
  function shadowHeaders(req: IncomingMessage, route: LiveRoute, legacyHeaders: OutgoingHttpHeaders, requestId: string): OutgoingHttpHeaders {
    if (route.next.publicOrigin === route.legacy.publicOrigin) return legacyHeaders;
    // The same request passed the framing rules once: it passes them again.
    return upstreamRequestHeaders(req, { requestId, trusted, pinned: route.next.publicOrigin }) ?? legacyHeaders;
  }

  /**
   * The hot path (lib/service's `hotPath`): a matched route in legacy, idp or canary mode whose
   * side is known without waiting for anything, to a plain-HTTP upstream. It skips the ordinary
   * path's per-request bookkeeping and node's header object, which together cost more CPU than
   * the proxying itself (docs/PERFORMANCE.md), and does what they did: the request id on the
   * answer, the HTTP metrics and the access log (through `finished`). Everything else returns
   * false and goes the ordinary way.
   */
  function hotPath(req: IncomingMessage, res: ServerResponse): boolean {
    const canonicalTarget = canonical(req);
    if (!canonicalTarget.ok || isOwnPath(canonicalTarget.path)) return false;
    const method = req.method ?? 'GET';
    const found = match(method, canonicalTarget.routePath);
    if (!found.ok) return false;
    const route = found.route;
    const mode = route.flag.state.mode;
    if (mode === 'shadow') return false;
    // An action is run by the ordinary path whenever its side may be chosen.
    if (mode !== 'legacy' && route.definition.action) return false;
    // An https upstream goes the ordinary way: when the mode alone names the side, know it before reading a header.
    if (mode !== 'canary' && !(mode === 'legacy' ? route.legacy : route.next).pool) return false;
    // The head carries the side's pinned origin, and in a canary the side is known only from the
    // head's cookie: a canary between a pinned and an unpinned side goes the ordinary way.
    if (mode === 'canary' && route.legacy.publicOrigin !== route.next.publicOrigin) return false;
    const upstream = upstreamRequestHead(req, trusted, (mode === 'legacy' ? route.legacy : route.next).publicOrigin);
    // Not to be forwarded (or for a host not served): the ordinary path refuses it, with its bookkeeping.
    if (!upstream || !options.hostAllowed(upstream.host)) return false;
    // A token on a split canary picks the bucket: it needs a verification first.
    if (upstream.bearer && splits(route)) return false;
    // An API route stays here only when its check needs no waiting and lets the request through
    // (no token where optional, or a token the verifier has cached); the rest is guarded's.
    let head = upstream.head;
    const auth = route.definition.auth;
    if (auth) {
      const allowed = checkBearerNow(auth, options.accessTokens, method, bearerTokenOf(upstream.authorization));
      if (!allowed?.ok) return false;
      metrics.bearerChecked(route.name, allowed.outcome);
      // The identity lines go before the head's blank line (values are printable ASCII: bearer-guard.ts).
      if (allowed.lines) head = `${head.slice(0, -2)}${allowed.lines}\r\n`;
    }
    const choice = chooseSide(route, upstream.cookie, upstream.https, undefined);
    const target = choice.side === 'legacy' ? route.legacy : route.next;
    if (!target.pool) return false;
    const started = performance.now();
    const requestId = upstream.requestId;
    const extraHeaders = choice.setCookie ? [REQUEST_ID_HEADER, requestId, 'set-cookie', choice.setCookie] : [REQUEST_ID_HEADER, requestId];
    forwardLean(req, res, target.pool, { head, method, bodyless: upstream.bodyless, chunked: upstream.chunked, requestId, extraHeaders }, timeoutMs, {
      answered: (outcome) => observe(route, choice.side, outcome),
      ended: (status) => options.finished(requestId, method, route.name, status, (performance.now() - started) / 1000),
    });
    return true;
  }

  /** WebSocket and other upgrades: same route and side choice, then a byte pipe. */
  const upgrades = new Set<Duplex>();
  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const requestId = requestIdOf(req);
    if (!options.hostAllowed(req.headers.host)) return rejectUpgrade(socket, 421, 'misdirected_request', requestId);
    const target = canonical(req);
    if (!target.ok) return rejectUpgrade(socket, 400, 'bad_path', requestId);
    const found = match(req.method ?? 'GET', target.routePath);
    if (!found.ok)
      return found.reason === 'method_not_allowed'
        ? rejectUpgrade(socket, 405, found.reason, requestId, { allow: found.allow })
        : rejectUpgrade(socket, 404, found.reason, requestId);
    const route = found.route;
    const auth = route.definition.auth;
    if (auth) {
      checkBearer(auth, options.accessTokens, req.method ?? 'GET', bearerToken(req))
        .then((result) => {
          metrics.bearerChecked(route.name, result.outcome);
          if (socket.destroyed) return;
          if (!result.ok) return rejectUpgrade(socket, result.status, result.error, requestId, result.headers);
          tunnel(route, req, socket, head, requestId, result.claims?.sub, result.headers);
        })
        .catch(() => socket.destroy());
      return;
    }
    // Non-browser clients (apps) can send a bearer token with the upgrade: bucketed by user as on HTTP.
    const token = splits(route) ? bearerToken(req) : undefined;
    if (token === undefined) return tunnel(route, req, socket, head, requestId, undefined);
    subjectOf(token)
      .then((subject) => {
        if (!socket.destroyed) tunnel(route, req, socket, head, requestId, subject);
      })
      .catch(() => socket.destroy());
  }

  function tunnel(
    route: LiveRoute,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    requestId: string,
    subject: string | undefined,
    identity?: readonly [string, string][],
  ) {
    // No response object to set a cookie on: a visitor without one stays on legacy for upgrades.
    const state = route.flag.state;
    const id = subject === undefined ? options.buckets.read(req.headers.cookie) : subjectKey(subject);
    const side: Side =
      state.mode === 'idp' ||
      (state.mode === 'canary' && id !== undefined && goesToNewSide(bucketOf(id), state.percent)) ||
      (state.mode === 'canary' && state.percent >= 100)
        ? 'new'
        : 'legacy';
    // A sign-in or sign-out is a page, never a tunnel.
    if (side === 'new' && route.definition.action) return rejectUpgrade(socket, 400, 'not_upgradable', requestId);
    const target = side === 'legacy' ? route.legacy : route.next;
    const headers = withIdentity(upstreamRequestHeaders(req, { requestId, trusted, upgrade: true, pinned: target.publicOrigin }), identity) as
      Record<string, string | string[] | number | undefined> | undefined;
    if (!headers) return rejectUpgrade(socket, 400, 'bad_request', requestId);
    forwardUpgrade(req, socket, head, target, headers, requestId, timeoutMs, (s) => {
      upgrades.add(s);
      s.once('close', () => upgrades.delete(s));
    });
  }

  return {
    handler,
    hotPath,
    onUpgrade,
    closeUpgrades() {
      for (const socket of upgrades) socket.destroy();
    },
  };
}
