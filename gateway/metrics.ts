import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { MetricBatch, type CounterHandle, type HistogramHandle } from '../lib/metric-batch.ts';
import { MODES, type FlagState } from './flags/state.ts';

export type Side = 'legacy' | 'new';
export type BackchannelLogoutResult = 'ended' | 'refused' | 'failed';
export type ShadowResult = 'agreed' | 'disagreed' | 'error' | 'skipped' | 'dropped' | 'throttled' | 'shed';

/** The gateway's own metrics, on the service registry (so /metrics shows them with the HTTP ones). */
export function createGatewayMetrics(registry: Registry) {
  const registers = [registry];
  const batch = new MetricBatch();
  const proxied = new Counter({
    collect: () => batch.flush(),
    name: 'gateway_proxy_requests_total',
    help: 'Requests proxied, by route, side (legacy or new) and status (499: the client went away first)',
    labelNames: ['route', 'side', 'status'] as const,
    registers,
  });
  const upstreamLatency = new Histogram({
    collect: () => batch.flush(),
    name: 'gateway_upstream_response_seconds',
    help: 'Time from sending a request upstream to its response headers, by route and side',
    labelNames: ['route', 'side'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const mode = new Gauge({
    name: 'gateway_route_mode',
    // Every worker of a cluster reports the same flag: summed, they would read N times too high.
    aggregator: 'max',
    help: 'The mode each route is in: 1 for the current mode, 0 for the others',
    labelNames: ['route', 'mode'] as const,
    registers,
  });
  const canaryPercent = new Gauge({
    name: 'gateway_route_canary_percent',
    aggregator: 'max',
    help: 'Share of users a canary route sends to the new side (0 unless the route is in canary mode)',
    labelNames: ['route'] as const,
    registers,
  });
  const onDefault = new Gauge({
    name: 'gateway_route_flag_fallback',
    aggregator: 'max',
    help: '1 while a route runs on its configured default because its flag is missing, unreadable or the flag store is unavailable',
    labelNames: ['route'] as const,
    registers,
  });
  const fallbacks = new Counter({
    name: 'gateway_flag_fallbacks_total',
    help: 'Times a route fell back to its configured default, by reason (missing, unreadable, unavailable)',
    labelNames: ['route', 'reason'] as const,
    registers,
  });
  const reloads = new Counter({
    name: 'gateway_flag_reloads_total',
    help: 'Full reloads of the flag store (periodic safety net), by result',
    labelNames: ['result'] as const,
    registers,
  });
  const restores = new Counter({
    name: 'gateway_flag_restores_total',
    help: 'Route flags put back into the flag store from the audit log, by route and drift: missing (the store lost it, e.g. Redis restarted without persistence) or unaudited (it held a state no audited flip chose)',
    labelNames: ['route', 'drift'] as const,
    registers,
  });
  const flips = new Counter({
    name: 'gateway_flips_total',
    help: 'Route flips made through this replica, by route, new mode and channel (api, page, auto-rollback, restore)',
    labelNames: ['route', 'mode', 'via'] as const,
    registers,
  });
  const shadow = new Counter({
    name: 'gateway_shadow_comparisons_total',
    help: "Shadow copies by route and result: agreed / disagreed with the legacy answer, error (shadow failed or timed out), skipped (nothing to compare), dropped (concurrency cap reached), throttled (login checks: the client's per-minute budget spent), shed (login checks: the per-second cap reached)",
    labelNames: ['route', 'result'] as const,
    registers,
  });
  const shadowInFlight = new Gauge({
    name: 'gateway_shadow_in_flight',
    help: 'Shadow requests waiting for the new side right now',
    registers,
  });
  const rollbacks = new Counter({
    name: 'gateway_auto_rollbacks_total',
    help: 'Automatic rollbacks of canary routes to legacy, by route',
    labelNames: ['route'] as const,
    registers,
  });
  const auditFailures = new Counter({
    name: 'gateway_audit_failures_total',
    help: 'Flips refused because the audit log could not be written',
    registers,
  });

  const dependency = new Gauge({
    name: 'gateway_dependency_up',
    // Every worker probes on its own: a dependency is up only if it is up for all of them.
    aggregator: 'min',
    help: 'Whether the last background probe reached a dependency (legacy, idp, legacy-adapter, database, redis): 1 yes, 0 no. Not part of readiness',
    labelNames: ['dependency'] as const,
    registers,
  });
  const canaryTokens = new Counter({
    name: 'gateway_canary_token_rejected_total',
    help: 'Bearer tokens on canary routes that did not verify (the cookie picked the side instead), by reason: invalid, or unavailable (the idp keys could not be fetched)',
    labelNames: ['reason'] as const,
    registers,
  });
  const backchannelLogouts = new Counter({
    name: 'gateway_backchannel_logouts_total',
    help: 'Back-channel logout tokens received from the idp, by result: ended (verified, its PHP sessions deleted), refused (invalid, replayed or not for this client), failed (verified, but a PHP session could not be deleted)',
    labelNames: ['result'] as const,
    registers,
  });
  for (const result of ['ended', 'refused', 'failed']) backchannelLogouts.inc({ result }, 0);
  const bearerChecks = new Counter({
    collect: () => batch.flush(),
    name: 'gateway_bearer_checks_total',
    help: 'Bearer checks on API routes (auth in the route file), by route and outcome: ok, anonymous (no token, bearer optional), missing, invalid, insufficient_scope, unavailable (the idp could not be asked)',
    labelNames: ['route', 'outcome'] as const,
    registers,
  });

  // Handles per route, side and status (see lib/metric-batch.ts): the proxy path's only metric cost.
  const children = new Map<string, Record<Side, { latency: HistogramHandle; statuses: Map<number, CounterHandle> }>>();
  const bearerHandles = new Map<string, Map<BearerOutcome, CounterHandle>>();
  const forSide = (route: string, side: Side) => ({
    latency: batch.histogram(upstreamLatency.labels(route, side)),
    statuses: new Map<number, CounterHandle>(),
  });

  return {
    shadowInFlight,
    reloads,
    auditFailures,
    proxied(route: string, side: Side, status: number, upstreamSeconds: number | undefined) {
      let sides = children.get(route);
      if (!sides) children.set(route, (sides = { legacy: forSide(route, 'legacy'), new: forSide(route, 'new') }));
      const child = sides[side];
      let counter = child.statuses.get(status);
      if (!counter) child.statuses.set(status, (counter = batch.counter(proxied.labels(route, side, String(status)))));
      counter.inc();
      if (upstreamSeconds !== undefined) child.latency.observe(upstreamSeconds);
    },
    flagState(route: string, state: FlagState, fallback: boolean) {
      for (const m of MODES) mode.set({ route, mode: m }, m === state.mode ? 1 : 0);
      canaryPercent.set({ route }, state.mode === 'canary' ? state.percent : 0);
      onDefault.set({ route }, fallback ? 1 : 0);
    },
    fellBack(route: string, reason: 'missing' | 'unreadable' | 'unavailable') {
      fallbacks.inc({ route, reason });
    },
    flagRestored(route: string, drift: 'missing' | 'unaudited') {
      restores.inc({ route, drift });
    },
    flipped(route: string, state: FlagState, via: string) {
      flips.inc({ route, mode: state.mode, via });
    },
    shadowed(route: string, result: ShadowResult) {
      shadow.inc({ route, result });
    },
    rolledBack(route: string) {
      rollbacks.inc({ route });
    },
    backchannelLogout(result: BackchannelLogoutResult) {
      backchannelLogouts.inc({ result });
    },
    dependencyUp(name: string, up: boolean) {
      dependency.set({ dependency: name }, up ? 1 : 0);
    },
    canaryTokenRejected(reason: 'invalid' | 'unavailable') {
      canaryTokens.inc({ reason });
    },
    /** Batched like `proxied`: API routes count every request on the hot path too. */
    bearerChecked(route: string, outcome: BearerOutcome) {
      let handles = bearerHandles.get(route);
      if (!handles) bearerHandles.set(route, (handles = new Map()));
      let handle = handles.get(outcome);
      if (!handle) handles.set(outcome, (handle = batch.counter(bearerChecks.labels(route, outcome))));
      handle.inc();
    },
  };
}

export type BearerOutcome = 'ok' | 'anonymous' | 'missing' | 'invalid' | 'insufficient_scope' | 'unavailable';

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
