// The one reader of Prometheus text exposition in the tests (prom-client writes the format but
// has no parser). Label values are compared exactly, after unescaping, so `route="api"` never
// matches `route="api-v2"` or a label whose name merely ends in `route`.

export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const unescape = (value: string) => value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));

/** Every sample line of `text` (comments and blank lines skipped). */
export function parsePrometheusText(text: string): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    // A metric without labels is printed without braces.
    const labelled = brace !== -1 && (space === -1 || brace < space);
    const name = labelled ? line.slice(0, brace) : line.slice(0, space);
    const close = labelled ? line.lastIndexOf('}') : -1;
    const inner = labelled ? line.slice(brace + 1, close) : '';
    const labels = Object.fromEntries([...inner.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, unescape(m[2]!)]));
    // The value is the first field after the name and labels (a timestamp may follow).
    const value = Number((labelled ? line.slice(close + 1) : line.slice(space)).trim().split(/\s+/)[0]);
    samples.push({ name, labels, value });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels` (0 when there are none). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const s of parsePrometheusText(text)) {
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}
