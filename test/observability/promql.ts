// Just enough PromQL and Prometheus-text parsing to tell which metric names the dashboard and
// the alert rules depend on, and which names the services really expose.

// Words that look like identifiers in PromQL but are not metric names.
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** Metric names an expression selects: identifiers that are not functions, keywords, label names or durations. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // label values, regexes
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries ($__rate_interval, 5m)
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w$.:])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    const name = match[1] ?? '';
    if (!KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

/** Metric families from Prometheus text exposition: name -> type, from the `# TYPE` lines. */
export function exposedFamilies(text: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(match[1] ?? '', match[2] ?? '');
  return families;
}

/**
 * Whether a name in a query selects series of an exposed family: a histogram `x` exists as
 * `x_bucket`, `x_sum` and `x_count` (and `x` itself selects nothing); a summary as `x`, `x_sum`, `x_count`.
 */
export function isExposed(name: string, families: Map<string, string>): boolean {
  const type = families.get(name);
  if (type !== undefined) return type !== 'histogram';
  const suffix = /^(.+)_(bucket|sum|count)$/.exec(name);
  if (!suffix) return false;
  const base = families.get(suffix[1] ?? '');
  return base === 'histogram' || (base === 'summary' && suffix[2] !== 'bucket');
}
