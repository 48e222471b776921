import { answerGather, gather, isClusterWorker } from './cluster.ts';

export interface Traffic {
  legacy: number;
  new: number;
  legacy5xx: number;
  new5xx: number;
}

/** Requests per route and side since start, as the admin API and page show them. */
export type TrafficSource = () => Promise<Map<string, Traffic>>;

const none = (): Traffic => ({ legacy: 0, new: 0, legacy5xx: 0, new5xx: 0 });

/**
 * This process's counters, or in a cluster worker the sum over all workers (each counts only the
 * requests that landed on it; ops want the route's traffic, not one worker's share).
 */
// Only what it reads of a route: the dispatcher's LiveRoute carries a Traffic, so importing that type here would be a cycle.
export function trafficSource(routes: readonly { readonly name: string; readonly traffic: Traffic }[]): TrafficSource {
  const local = () => routes.map((r) => [r.name, { ...r.traffic }] as const);
  if (!isClusterWorker()) return async () => new Map(local());
  answerGather('traffic', local);
  return async () => {
    const total = new Map<string, Traffic>(routes.map((r) => [r.name, none()]));
    for (const answer of (await gather('traffic')) as Array<ReturnType<typeof local>>) {
      for (const [name, t] of answer) {
        const sum = total.get(name);
        if (!sum) continue;
        sum.legacy += t.legacy;
        sum.new += t.new;
        sum.legacy5xx += t.legacy5xx;
        sum.new5xx += t.new5xx;
      }
    }
    return total;
  };
}

export function trafficOf(traffic: Map<string, Traffic>, route: string): Traffic {
  return traffic.get(route) ?? none();
}
