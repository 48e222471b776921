import type { ReadinessCheck } from '../lib/health.ts';
import type { Logger } from '../lib/logger.ts';
import type { GatewayMetrics } from './metrics.ts';

/**
 * Probes what the gateway talks to (the monolith, the idp, the legacy-adapter, its database and
 * flag store) in the background and reports each on `gateway_dependency_up`. Not readiness: an
 * idp outage taking every gateway pod out of the Service would turn one outage into a total one,
 * so upstream health belongs in metrics and alerts, and /readyz costs nothing per call.
 */
export function watchDependencies(deps: { probes: ReadinessCheck[]; everyMs: number; metrics: GatewayMetrics; logger: Logger }) {
  const { everyMs, metrics, logger } = deps;
  // 0 turns probing off (a test whose upstream counts every request it gets).
  const probes = everyMs > 0 ? deps.probes : [];
  const up = new Map<string, boolean>();
  let running: Promise<void> | undefined;
  const probeAll = () => {
    running ??= Promise.all(
      probes.map(async (probe) => {
        let problem: string | undefined;
        try {
          await probe.check();
        } catch (error) {
          problem = (error as Error).message || 'error';
        }
        const was = up.get(probe.name);
        up.set(probe.name, problem === undefined);
        metrics.dependencyUp(probe.name, problem === undefined);
        // Transitions only, not one line per probe.
        if (problem !== undefined && was !== false) logger.warn({ dependency: probe.name, problem }, 'dependency unreachable');
        else if (problem === undefined && was === false) logger.info({ dependency: probe.name }, 'dependency reachable again');
      }),
    ).then(() => {
      running = undefined;
    });
    return running;
  };
  void probeAll();
  const timer = everyMs > 0 ? setInterval(() => void probeAll(), everyMs) : undefined;
  timer?.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
