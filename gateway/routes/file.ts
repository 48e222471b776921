import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../lib/config.ts';
import { flagStateSchema, type FlagState } from '../flags/state.ts';
import { compileCanonicalizer } from './canonical.ts';
import { safeReturnTo } from '../signin/return-to.ts';
import { routeAuthProblems, routeAuthSchema } from './auth.ts';
import { readYamlDocument, YamlFileError } from '../../lib/yaml-file.ts';

/** Upstreams every route file can name without declaring them: they come from the environment. */
export const BUILT_IN_UPSTREAMS = ['legacy', 'idp'] as const;

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9, "-" or "_", starting with a letter or digit');

const canonicalOnly = compileCanonicalizer([]);
/** Requests are matched on their canonical path, so a pattern spelled otherwise would never match. */
function isCanonical(pattern: string): boolean {
  const path = pattern.endsWith('/*') ? pattern.slice(0, -1) : pattern;
  const canonical = canonicalOnly(path);
  return canonical.ok && canonical.path === path;
}

const pathPattern = z
  .string()
  .refine((p) => p.startsWith('/'), 'must start with "/"')
  .refine((p) => !/[\s?#]/.test(p), 'must not contain spaces, "?" or "#"')
  .refine((p) => !p.slice(0, -2).includes('*') && (!p.includes('*') || p.endsWith('/*')), 'may only use "*" as its last segment ("/prefix/*")')
  .refine(
    (p) => !p.startsWith('/') || isCanonical(p),
    'must be a canonical path: no "//", ";", "\\", "." or ".." segments, and letters, digits and "-._~" unescaped (requests are matched that way)',
  );

/** A script's file-name ending, as the monolith's web server maps it to a handler (".php"). */
const scriptSuffix = z.string().regex(/^\.[A-Za-z0-9_-]{1,16}$/, 'must be a file-name ending such as ".php": a dot, then 1-16 letters, digits, "-" or "_"');

const method = z
  .string()
  .regex(/^[A-Za-z]+$/, 'must be an HTTP method name')
  .transform((m) => m.toUpperCase());

const defaultMode = z.preprocess((v) => (typeof v === 'string' ? { mode: v } : v), flagStateSchema);

const autoRollbackSchema = z.strictObject({
  /** Fraction of the new side's answers that are 5xx, over the window, that triggers the rollback. */
  errorRate: z.number().gt(0, 'must be above 0').max(1, 'must be at most 1 (a fraction: 0.2 is 20%)'),
  windowSeconds: z.number().int().min(5).max(3600).default(60),
  /** Below this many new-side answers in the window nothing is decided (a single 500 is no trend). */
  minRequests: z.number().int().min(1).default(20),
});
export type AutoRollback = z.infer<typeof autoRollbackSchema>;

const decisionSignal = z.strictObject({
  /** Statuses of the legacy answer that say it, e.g. [302, 303] for a redirect, [200] for the form again. */
  status: z.array(z.number().int().min(100).max(599)).min(1),
  /** Where the answer's Location must point (resolved against the request path, query ignored); unset: not looked at. */
  location: z.string().min(1).optional(),
});
export type DecisionSignal = z.infer<typeof decisionSignal>;

/**
 * How the monolith's login form says what it decided, and which form fields hold the credentials:
 * the monolith's choices, so the route file's, never the gateway's. An answer matching neither
 * signal (an expired form, a missing field the form refuses before any check) decides nothing.
 */
const loginDecisionSchema = z.strictObject({
  fields: z.strictObject({ login: z.string().min(1), password: z.string().min(1) }),
  accepted: decisionSignal,
  refused: decisionSignal,
});
export type LoginDecisionConfig = z.infer<typeof loginDecisionSchema>;

/** Any origin: only whether a landing page passes the return-to rules unchanged is asked. */
const LANDING_CHECK_ORIGIN = 'https://gateway.invalid';

/**
 * A gateway action as the route's new side instead of an upstream (`action: signin`): the
 * monolith's login or logout page handed to the session bridge (gateway/actions.ts).
 */
const actionSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { type: v } : v),
  z.discriminatedUnion(
    'type',
    [
      z.strictObject({
        type: z.literal('signin'),
        /** The legacy page's own query parameter naming where to go after signing in (`redirect`, `next`); unset: always `landing`. */
        returnParam: z
          .string()
          .regex(/^[A-Za-z0-9_.[\]-]{1,64}$/, 'must be a query parameter name: 1-64 letters, digits or "_.-[]"')
          .optional(),
        /** Where the user lands when the page names nowhere acceptable. */
        landing: z
          .string()
          .refine(
            (p) => p.startsWith('/') && safeReturnTo(p, LANDING_CHECK_ORIGIN) === p,
            'must be a path on this site that the return-to rules accept as written ("/account.php")',
          )
          .default('/'),
      }),
      z.strictObject({ type: z.literal('signout') }),
    ],
    { error: 'must be signin or signout (or {type: signin, returnParam, landing})' },
  ),
);
export type RouteAction = z.infer<typeof actionSchema>;

const routeSchema = z.strictObject({
  name,
  paths: z.array(pathPattern).min(1, 'needs at least one path pattern'),
  methods: z.array(method).min(1).optional(),
  legacy: name.default('legacy'),
  new: name.default('idp'),
  /** The new side is this gateway action rather than the `new` upstream (which still answers shadow login checks). */
  action: actionSchema.optional(),
  default: defaultMode.default({ mode: 'legacy' }),
  /** What shadow mode compares: the status class of both answers, or (login forms) the login decision. */
  shadow: z.enum(['status', 'login-decision']).default('status'),
  /** Required with `shadow: login-decision`: how the legacy answer says accepted or refused. */
  loginDecision: loginDecisionSchema.optional(),
  autoRollback: autoRollbackSchema.optional(),
  /** An API route's bearer access token check (auth.ts). */
  auth: routeAuthSchema.optional(),
});

const fileSchema = z.strictObject({
  /**
   * Path segments ending in one of these run as scripts even with more path after them
   * (`/login.php/x` runs login.php, with path info `/x`, on Apache): routes match the path up to
   * the script. Whatever the monolith's web server runs that way; [] when it runs nothing so.
   */
  scriptSuffixes: z.array(scriptSuffix).default(['.php']),
  upstreams: z.record(name, z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })).default({}),
  routes: z.array(routeSchema).min(1, 'the route table needs at least one route'),
});

export type RouteDefinition = z.infer<typeof routeSchema>;
export interface RouteTable {
  /** Every upstream by name, the built-in ones included. */
  upstreams: Record<string, string>;
  routes: RouteDefinition[];
  scriptSuffixes: string[];
}

function where(path: PropertyKey[], raw: unknown): string {
  if (path[0] === 'routes' && typeof path[1] === 'number') {
    const entry = (raw as { routes?: unknown[] }).routes?.[path[1]] as { name?: unknown } | undefined;
    const label = typeof entry?.name === 'string' ? `route "${entry.name}" (routes[${path[1]}])` : `routes[${path[1]}]`;
    const rest = path.slice(2).map(String).join('.');
    return rest ? `${label}: ${rest}` : label;
  }
  return path.map(String).join('.') || '(file)';
}

/**
 * Validates a route table. Every problem is reported at once, each naming the route it is in,
 * so a bad file stops the gateway with a message ops can act on.
 */
export function parseRouteTable(raw: unknown, builtIns: Record<(typeof BUILT_IN_UPSTREAMS)[number], string>, source = 'route file'): RouteTable {
  const parsed = fileSchema.safeParse(raw ?? {});
  const fail = (problems: string[]) => new ConfigError(problems.map((p) => `${source}: ${p}`));
  if (!parsed.success) {
    throw fail(parsed.error.issues.map((i) => `${where(i.path, raw)}: ${i.message}`));
  }
  const file = parsed.data;
  const problems: string[] = [];
  for (const builtIn of BUILT_IN_UPSTREAMS) {
    if (builtIn in file.upstreams)
      problems.push(`upstreams.${builtIn}: is built in (set by ${builtIn === 'legacy' ? 'LEGACY_UPSTREAM_URL' : 'IDP_UPSTREAM_URL'}); pick another name`);
  }
  const upstreams: Record<string, string> = { ...file.upstreams, ...builtIns };
  const seen = new Set<string>();
  file.routes.forEach((route, index) => {
    const label = `route "${route.name}" (routes[${index}])`;
    if (seen.has(route.name)) problems.push(`${label}: name: is used by an earlier route`);
    seen.add(route.name);
    for (const side of ['legacy', 'new'] as const) {
      if (!(route[side] in upstreams)) problems.push(`${label}: ${side}: no upstream named "${route[side]}" (known: ${Object.keys(upstreams).join(', ')})`);
    }
    if (route.shadow === 'login-decision' && route.methods && !route.methods.includes('POST')) {
      problems.push(`${label}: shadow: login-decision compares form POSTs, but the route does not match POST`);
    }
    if (route.shadow === 'login-decision' && !route.loginDecision) {
      problems.push(`${label}: loginDecision: shadow: login-decision needs the form's fields and how the legacy answer says accepted and refused`);
    }
    if (route.shadow !== 'login-decision' && route.loginDecision) problems.push(`${label}: loginDecision: only read with shadow: login-decision`);
    if (route.action?.type === 'signout' && route.shadow === 'login-decision') {
      problems.push(`${label}: shadow: login-decision needs credentials to compare, and action: signout takes none`);
    }
    if (route.auth) for (const p of routeAuthProblems(route.auth, route.methods)) problems.push(`${label}: ${p}`);
    const decision = route.loginDecision;
    if (decision && decision.accepted.location === decision.refused.location && decision.accepted.status.some((s) => decision.refused.status.includes(s))) {
      problems.push(`${label}: loginDecision: accepted and refused share a status and a location; one answer cannot say both`);
    }
  });
  if (problems.length) throw fail(problems);
  return { upstreams, routes: file.routes, scriptSuffixes: file.scriptSuffixes };
}

export function loadRouteTable(file: string, builtIns: Record<(typeof BUILT_IN_UPSTREAMS)[number], string>): RouteTable {
  const path = resolve(file);
  let raw: unknown;
  try {
    raw = readYamlDocument(path);
  } catch (error) {
    if (!(error instanceof YamlFileError)) throw error;
    throw new ConfigError([
      error.reason === 'unreadable' ? `GATEWAY_ROUTES_FILE: cannot read ${path}: ${error.detail}` : `${path}: not valid YAML: ${error.detail}`,
    ]);
  }
  return parseRouteTable(raw, builtIns, path);
}

export type { FlagState };
