import { Agent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { z } from 'zod';
import { loginCheckEndpoint } from '../../contracts/idp-internal-api.ts';
import type { Logger } from '../../lib/logger.ts';
import type { GatewayMetrics, ShadowResult } from '../metrics.ts';
import { GATEWAY_HEADER_PREFIX } from '../proxy/headers.ts';
import type { ForwardOutcome } from '../proxy/forward-outcome.ts';
import type { Upstream } from '../proxy/upstream.ts';
import type { LoginDecisionConfig } from '../routes/file.ts';
import { KeyedBudget, TokenBucket } from './budget.ts';
import { addressKey } from '../../lib/client-network.ts';
import { clientAddressOf } from '../proxy/headers.ts';
import { legacyLoginDecision, postedCredentials } from './login-decision.ts';
import { safeError } from '../../lib/safe-error.ts';

export interface ShadowOptions {
  timeoutMs: number;
  maxInFlight: number;
  maxBodyBytes: number;
  /** Bearer secret of the idp's internal API (login-check). */
  internalSecret: string;
  /** Each `shadow: login-decision` route's signals and form fields, by route name. */
  loginDecisions: ReadonlyMap<string, LoginDecisionConfig>;
  /** Login checks per second over all clients (each costs the idp a full password hash). */
  loginChecksPerSecond: number;
  /** Login checks per minute for one client address. */
  loginChecksPerClientPerMinute: number;
  /** Which peers' X-Forwarded-For names the client (TRUST_PROXY). */
  trusted: (address: string | undefined) => boolean;
  metrics: GatewayMetrics;
  logger: Logger;
}

/** Client addresses remembered by the per-client budget; past it the least recent is forgotten. */
const MAX_TRACKED_CLIENTS = 10_000;

type Pending = { kind: 'status'; status: number } | { kind: 'login'; ok: boolean };

/**
 * The shadow side: the user is always answered by legacy; the new side gets a copy afterwards,
 * bounded in number (a cap, past which copies are dropped) and in time, and its answer is only
 * compared and counted. Nothing here is ever awaited by the user's response.
 */
export class Shadow {
  readonly #options: ShadowOptions;
  readonly #agents = new Map<string, Agent>();
  readonly #loginChecks: TokenBucket;
  readonly #clientChecks: KeyedBudget;
  #inFlight = 0;

  constructor(options: ShadowOptions) {
    this.#options = options;
    // A burst of one second's worth (at least one check), so a fractional rate still lets one through.
    this.#loginChecks = new TokenBucket(options.loginChecksPerSecond, Math.max(1, options.loginChecksPerSecond), performance.now());
    const perClient = options.loginChecksPerClientPerMinute;
    this.#clientChecks = new KeyedBudget(perClient / 60, perClient, MAX_TRACKED_CLIENTS);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Starts shadowing one request. Returns the function to call with the legacy outcome, or
   * undefined when this request is not shadowed (cap reached, nothing to compare).
   */
  begin(
    route: string,
    kind: 'status' | 'login-decision',
    req: IncomingMessage,
    target: Upstream,
    headers: OutgoingHttpHeaders,
    requestId: string,
  ): ((legacy: ForwardOutcome) => void) | undefined {
    const { metrics } = this.#options;
    const decisionConfig = this.#options.loginDecisions.get(route);
    if (kind === 'login-decision') {
      // Only a posted form carries credentials; the GET of the form page has nothing to compare.
      const type = String(req.headers['content-type'] ?? '');
      if (!decisionConfig || req.method !== 'POST' || !type.toLowerCase().startsWith('application/x-www-form-urlencoded')) return undefined;
    }
    if (this.#inFlight >= this.#options.maxInFlight) {
      metrics.shadowed(route, 'dropped');
      return undefined;
    }
    this.#acquire();

    let legacy: ForwardOutcome | undefined;
    let legacyDecision: boolean | undefined;
    let shadow: Pending | 'failed' | 'skipped' | undefined;
    let settled = false;
    const settle = (result: ShadowResult) => {
      if (settled) return;
      settled = true;
      this.#release();
      metrics.shadowed(route, result);
      if (result === 'disagreed')
        this.#options.logger.info({ route, reqId: requestId, legacy: describe(legacy, legacyDecision), shadow: shadow }, 'shadow disagreed with legacy');
    };
    const compare = () => {
      if (settled || legacy === undefined || shadow === undefined) return;
      if (shadow === 'failed') return settle('error');
      if (shadow === 'skipped') return settle('skipped');
      if (shadow.kind === 'login') return settle(legacyDecision === shadow.ok ? 'agreed' : 'disagreed');
      if (legacy.failure) return settle('skipped');
      settle(Math.floor(legacy.status / 100) === Math.floor(shadow.status / 100) ? 'agreed' : 'disagreed');
    };
    const shadowDone = (result: Pending | 'failed' | 'skipped') => {
      shadow = result;
      compare();
    };
    const run = (call: Promise<Pending>) =>
      call.then(shadowDone, (error: unknown) => {
        this.#options.logger.debug({ route, reqId: requestId, err: safeError(error) }, 'shadow request failed');
        shadowDone('failed');
      });

    // A login check costs the idp a full password hash: it waits for the legacy answer and is
    // made only for a decision legacy really took, within the client's and the global budget.
    let body: Buffer | undefined;
    let checkStarted = false;
    const checkLogin = () => {
      if (checkStarted || settled || legacy === undefined || body === undefined || !decisionConfig) return;
      checkStarted = true;
      legacyDecision = legacyLoginDecision(legacy, decisionConfig, req.url ?? '/');
      const credentials = legacyDecision === undefined ? undefined : postedCredentials(body, decisionConfig.fields);
      if (!credentials) return shadowDone('skipped');
      const now = performance.now();
      if (!this.#clientChecks.take(addressKey(clientAddressOf(req, this.#options.trusted)), now)) return settle('throttled');
      if (!this.#loginChecks.take(now)) return settle('shed');
      run(this.#loginCheck(target, credentials, requestId));
    };

    const collected = this.#collectBody(req, (collectedBody) => {
      if (collectedBody === undefined) return shadowDone('skipped');
      if (kind !== 'login-decision') return run(this.#mirror(target, req, headers, collectedBody));
      body = collectedBody;
      checkLogin();
    });
    if (!collected) shadowDone('skipped');

    return (outcome) => {
      legacy = outcome;
      if (kind === 'login-decision') checkLogin();
      compare();
    };
  }

  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
  }

  #acquire() {
    this.#inFlight++;
    this.#options.metrics.shadowInFlight.set(this.#inFlight);
  }

  #release() {
    this.#inFlight--;
    this.#options.metrics.shadowInFlight.set(this.#inFlight);
  }

  /**
   * Keeps a copy of the body as it streams to legacy (which is not slowed: the same chunks go
   * both ways). Calls back with the body, or undefined past the size limit or on an aborted upload.
   */
  #collectBody(req: IncomingMessage, done: (body: Buffer | undefined) => void): boolean {
    const length = req.headers['content-length'];
    const bodyless = req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
    if (bodyless) {
      queueMicrotask(() => done(Buffer.alloc(0)));
      return true;
    }
    if (length !== undefined && Number(length) > this.#options.maxBodyBytes) return false;
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.#options.maxBodyBytes) {
        over = true;
        chunks.length = 0;
        req.off('data', onData);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => done(over ? undefined : Buffer.concat(chunks)));
    req.once('close', () => {
      if (!req.complete) done(undefined);
    });
    return true;
  }

  #agent(target: Upstream): Agent {
    let agent = this.#agents.get(target.name);
    if (!agent) {
      agent = new Agent({ keepAlive: true, maxSockets: Math.max(1, this.#options.maxInFlight) });
      this.#agents.set(target.name, agent);
    }
    return agent;
  }

  #send(target: Upstream, method: string, path: string, headers: OutgoingHttpHeaders, body: Buffer): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send({
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method,
        path,
        headers: { ...headers, 'content-length': body.length },
        setHost: false,
        servername: target.servername,
        agent: target.protocol === 'https:' ? undefined : this.#agent(target),
        insecureHTTPParser: false,
      });
      // A total deadline, not an idle one: a shadow that trickles must not hold a slot for long.
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs);
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 65_536) chunks.push(c);
        });
        res.once('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        });
        res.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      req.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.end(body);
    });
  }

  async #mirror(target: Upstream, req: IncomingMessage, headers: OutgoingHttpHeaders, body: Buffer): Promise<Pending> {
    const copy: OutgoingHttpHeaders = { ...headers, [`${GATEWAY_HEADER_PREFIX}shadow`]: '1' };
    delete copy['transfer-encoding'];
    const answer = await this.#send(target, req.method ?? 'GET', req.url ?? '/', copy, body);
    return { kind: 'status', status: answer.status };
  }

  /** Asks the new side whether these credentials are right; it only verifies (no session, no upgrade, no throttling). */
  async #loginCheck(target: Upstream, credentials: { login: string; password: string }, requestId: string): Promise<Pending> {
    // The idp's contract (contracts/idp-internal-api.ts): {login, password} -> {ok}.
    const payload = Buffer.from(JSON.stringify(credentials satisfies z.input<typeof loginCheckEndpoint.request>));
    const answer = await this.#send(
      target,
      loginCheckEndpoint.method,
      loginCheckEndpoint.path,
      {
        host: target.url.host,
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${this.#options.internalSecret}`,
        'x-request-id': requestId,
        [`${GATEWAY_HEADER_PREFIX}shadow`]: '1',
      },
      payload,
    );
    if (answer.status !== 200) throw new Error(`login-check answered ${answer.status}`);
    const parsed = loginCheckEndpoint.answer.safeParse(JSON.parse(answer.body.toString('utf8')));
    if (!parsed.success) throw new Error('login-check answered without a boolean "ok"');
    return { kind: 'login', ok: parsed.data.ok };
  }
}

function describe(legacy: ForwardOutcome | undefined, loggedIn: boolean | undefined) {
  if (!legacy) return undefined;
  return loggedIn === undefined ? { status: legacy.status } : { status: legacy.status, loggedIn };
}
