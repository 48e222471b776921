import { z } from 'zod';
import type { LiveRoute } from '../dispatch.ts';
import type { RouteAction } from '../routes/file.ts';
import type { Traffic } from '../traffic.ts';
import { flagStateSchema, formatIssues, type FlagState } from '../flags/state.ts';

export function routeView(route: LiveRoute, traffic: Traffic) {
  const d = route.definition;
  return {
    name: route.name,
    paths: d.paths,
    methods: d.methods ?? null,
    mode: route.flag.state.mode,
    percent: route.flag.state.mode === 'canary' ? route.flag.state.percent : null,
    source: route.flag.source,
    fallbackReason: route.flag.reason ?? null,
    default: route.defaultState,
    upstreams: { legacy: d.legacy, new: d.new },
    /** The new side when it is a gateway action (the `new` upstream then only answers shadow login checks). */
    action: d.action ?? null,
    shadow: d.shadow,
    autoRollback: d.autoRollback ?? null,
    traffic,
  };
}

/** The new side in words: the action (with its return rule) or the upstream's name. */
export function describeNewSide(upstream: string, a: RouteAction | null | undefined): string {
  if (!a) return upstream;
  if (a.type === 'signout') return 'action signout';
  return `action signin${a.returnParam ? ` (return to ?${a.returnParam}=, else ${a.landing})` : ` (then ${a.landing})`}`;
}

const actor = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .refine((v) => !/\p{Cc}/u.test(v), 'must not contain control characters');
const reason = z
  .string({ error: 'a reason is required' })
  .trim()
  .min(3, 'a reason is required (at least 3 characters)')
  .max(1000, 'must be at most 1000 characters');

/** A flip as the API and the page accept it: the flag, why, and (API) who. */
const flipInput = z.object({
  mode: z.unknown(),
  percent: z.unknown().optional(),
  reason,
  actor: actor.optional(),
});

export function parseFlip(body: unknown): { ok: true; to: FlagState; reason: string; actor?: string } | { ok: false; problems: string[] } {
  const outer = flipInput.safeParse(body ?? {});
  if (!outer.success) return { ok: false, problems: outer.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`) };
  const { mode, percent } = outer.data;
  // JSON must carry a number ("25" is refused); the page converts its form field before calling this.
  const state = flagStateSchema.safeParse(percent === undefined || percent === '' || mode !== 'canary' ? { mode } : { mode, percent });
  if (!state.success) return { ok: false, problems: formatIssues(state.error).split('; ') };
  return { ok: true, to: state.data, reason: outer.data.reason, actor: outer.data.actor };
}
