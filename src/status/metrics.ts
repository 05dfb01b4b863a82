// The app's Prometheus `/metrics`: a hand-written parser of the text format and the project/session counts tend status shows.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * What the original instance manager's app exposed: an example for tend.yaml `metrics`, not a default
 * (a root that wants these counts names them: `metrics: {projects: oubliette_projects_total,
 * sessions: oubliette_active_sessions}`).
 */
export const EXAMPLE_METRICS = { projects: 'oubliette_projects_total', sessions: 'oubliette_active_sessions' } as const;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Reads `{a="x",b="y\"z"}` from `line` at `i` (just after `{`); returns the labels and the index after `}`, or undefined. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  let i = start;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const m = LABEL.exec(line.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] !== '=') return undefined;
    i++;
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] !== '"') return undefined;
    i++;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) return undefined;
      if (c === '"') break;
      if (c === '\\') {
        const n = line[i + 1];
        value += n === 'n' ? '\n' : n === '\\' ? '\\' : n === '"' ? '"' : `\\${n ?? ''}`;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    labels[m[0]] = value;
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') return undefined;
  }
}

function parseValue(text: string): number | undefined {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/**
 * The samples of a Prometheus text exposition (version 0.0.4; OpenMetrics text reads the same for
 * plain samples). Comments (`# HELP`, `# TYPE`), blank lines and lines that do not parse are skipped.
 */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = NAME.exec(line);
    if (!m) continue;
    let i = m[0].length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') {
      const parsed = parseLabels(line, i + 1);
      if (!parsed) continue;
      labels = parsed.labels;
      i = parsed.end;
    }
    if (line[i] !== ' ' && line[i] !== '\t') continue;
    const [valueText] = line.slice(i).trim().split(/[ \t]+/);
    const value = parseValue(valueText ?? '');
    if (value === undefined) continue;
    out.push({ name: m[0], labels, value });
  }
  return out;
}

/** The sum of every sample named `name` (one sample: its value), or undefined when there is none. */
export function sumMetric(samples: readonly Sample[], name: string): number | undefined {
  const found = samples.filter((s) => s.name === name && Number.isFinite(s.value));
  return found.length === 0 ? undefined : found.reduce((a, s) => a + s.value, 0);
}

export interface MetricNames {
  projects?: string;
  sessions?: string;
}

export interface AppMetrics {
  /** The URL that answered. */
  url: string;
  projects?: number;
  sessions?: number;
}

/** `http://host:port/metrics` for an instance listening on `address` (a wildcard address is reached on loopback). */
export function metricsUrl(address: string | undefined, port: number): string {
  const host = !address || address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
}

/** Largest /metrics body read; anything bigger is not an app worth asking. */
const MAX_BODY = 4 * 1024 * 1024;

/** Whether tend.yaml names any metric to read (no names: /metrics is not asked). */
export function wantsMetrics(names: MetricNames): boolean {
  return names.projects !== undefined || names.sessions !== undefined;
}

/**
 * Project and session counts from the app's `/metrics` (projects: the sum of the `names.projects`
 * samples; sessions: the sum of the `names.sessions` samples; there are no default names). Undefined
 * when no name is given, or when nothing answers with 2xx within `timeoutMs` (default 1 s); a metric
 * the app does not expose is left out.
 */
export async function readAppMetrics(url: string, names: MetricNames = {}, timeoutMs = 1000): Promise<AppMetrics | undefined> {
  if (!wantsMetrics(names)) return undefined;
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    if (Number(res.headers.get('content-length') ?? 0) > MAX_BODY) {
      await res.body?.cancel();
      return undefined;
    }
    text = await res.text();
  } catch {
    // the app's /metrics is optional: unreachable means no counts
    return undefined;
  }
  const samples = parsePrometheusText(text.length > MAX_BODY ? text.slice(0, MAX_BODY) : text);
  const projects = names.projects === undefined ? undefined : sumMetric(samples, names.projects);
  const sessions = names.sessions === undefined ? undefined : sumMetric(samples, names.sessions);
  return { url, ...(projects !== undefined ? { projects } : {}), ...(sessions !== undefined ? { sessions } : {}) };
}
