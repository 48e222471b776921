import { z } from 'zod';

export const MODES = ['legacy', 'idp', 'canary', 'shadow'] as const;
export type Mode = (typeof MODES)[number];

/** What a route's flag says. The one schema for the route file, the admin API and what Redis holds. */
export const flagStateSchema = z.discriminatedUnion(
  'mode',
  [
    z.strictObject({ mode: z.literal('legacy') }),
    z.strictObject({ mode: z.literal('idp') }),
    z.strictObject({
      mode: z.literal('canary'),
      percent: z
        .number({ error: 'must be a whole number from 0 to 100' })
        .int('must be a whole number from 0 to 100')
        .min(0, 'must be at least 0')
        .max(100, 'must be at most 100'),
    }),
    z.strictObject({ mode: z.literal('shadow') }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? `mode must be one of ${MODES.join(', ')}` : undefined) },
);

export type FlagState = z.infer<typeof flagStateSchema>;

/** Canonical JSON (fixed key order), so two equal states serialize to the same string. */
export function serializeFlag(state: FlagState): string {
  return state.mode === 'canary' ? JSON.stringify({ mode: 'canary', percent: state.percent }) : JSON.stringify({ mode: state.mode });
}

export function describeFlag(state: FlagState): string {
  return state.mode === 'canary' ? `canary ${state.percent}%` : state.mode;
}

export function sameFlag(a: FlagState, b: FlagState): boolean {
  return serializeFlag(a) === serializeFlag(b);
}

export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** Parses a stored flag (JSON text): the state, or why it cannot be used. */
export function parseStoredFlag(raw: string): { ok: true; state: FlagState } | { ok: false; problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  const parsed = flagStateSchema.safeParse(value);
  return parsed.success ? { ok: true, state: parsed.data } : { ok: false, problem: formatIssues(parsed.error) };
}
