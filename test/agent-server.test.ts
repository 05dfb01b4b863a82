// The agent's status server, metrics and page: real HTTP on a free port, the metrics read back with tend's own
// Prometheus parser, and the page opened in headless Chromium (Debian's chromium driven by playwright-core).
// The AgentView is plain data here: the unit under test is the server, not the agent loop.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentMetrics } from '../src/agent/metrics.js';
import { escapeHtml, PHASE_COLORS, renderStatusPage } from '../src/agent/page.js';
import { parseListen, startStatusServer, type StatusServer } from '../src/agent/server.js';
import type { AgentView, ReconcileRecord } from '../src/agent/types.js';
import type { HistoryEntry } from '../src/model/types.js';
import { PHASES } from '../src/state/status.js';
import { parsePrometheusText, type InstanceStatus, type Sample } from '../src/status/index.js';
import { decide, requireBackends } from './helpers/backends.js';

const EVIL = '<script>alert("x")</script> & \'quoted\'';

function rowsFixture(): InstanceStatus[] {
  return [
    {
      name: 'web', file: 'desired/web.yaml', runtime: 'systemd', state: 'running', desiredVersion: 'v1.2.0', observedVersion: 'v1.2.0',
      phase: 'Ready', port: 8081, address: '127.0.0.1', health: { healthy: true, at: '2025-06-01T00:00:00.000Z' },
      since: '2025-06-01T00:00:00.000Z', warnings: [],
    },
    {
      name: 'api', file: 'desired/api.yaml', runtime: 'docker', state: 'running', desiredVersion: 'v2.0.0', observedVersion: 'v1.9.0',
      phase: 'RolledBack', port: 8082, address: '0.0.0.0',
      health: { healthy: false, at: '2025-06-01T00:01:00.000Z', reason: 'HTTP 500 from /health' }, message: EVIL,
      held: { version: 'v2.0.0', specHash: 'abc123', at: '2025-06-01T00:01:00.000Z', reason: 'health check failed' }, warnings: [],
    },
    { name: 'worker', file: 'desired/worker.yaml', runtime: 'tmux', desiredVersion: 'v3.0.0', phase: 'InvalidSpec', message: 'desired/worker.yaml:3: bad port', warnings: [] },
  ];
}

const HISTORY: Record<string, HistoryEntry[]> = {
  api: [
    { version: 'v1.9.0', updatedAt: '2025-06-01T00:01:00.000Z', updatedBy: 'agent', reason: 'auto-rollback', outcome: 'healthy' },
    { version: 'v2.0.0', updatedAt: '2025-06-01T00:00:30.000Z', updatedBy: 'agent', reason: 'update', outcome: 'failed', detail: 'HTTP 500 <b>' },
    { version: 'v1.9.0', updatedAt: '2025-05-31T00:00:00.000Z', updatedBy: 'ops@host', reason: 'create', outcome: 'healthy' },
  ],
  web: [{ version: 'v1.2.0', updatedAt: '2025-06-01T00:00:00.000Z', updatedBy: 'agent', reason: 'create', outcome: 'healthy' }],
};

/** An AgentView over plain, mutable data. */
class PlainView implements AgentView {
  root = '/srv/tend';
  app = 'oubliette';
  startedAt = '2025-06-01T00:00:00.000Z';
  rows = rowsFixture();
  records: Record<string, ReconcileRecord> = {
    web: { at: '2025-06-01T00:02:00.000Z', durationMs: 1250, result: 'ok' },
    api: { at: '2025-06-01T00:02:00.000Z', durationMs: 31000, result: 'held', message: 'v2.0.0 is held' },
  };
  depth = 2;
  warn = ['desired/ branch diverged from origin/main'];
  failWith: Error | undefined;

  async instances(): Promise<InstanceStatus[]> {
    if (this.failWith) throw this.failWith;
    return this.rows;
  }
  lastReconcile(name: string): ReconcileRecord | undefined {
    return this.records[name];
  }
  history(name: string, limit: number): HistoryEntry[] {
    return (HISTORY[name] ?? []).slice(0, limit);
  }
  queueDepth(): number {
    return this.depth;
  }
  warnings(): string[] {
    return this.warn;
  }
}

function one(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    && Object.keys(s.labels).length === Object.keys(labels).length);
  expect(found.length, `${name}${JSON.stringify(labels)} appears once`).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

describe('AgentMetrics', () => {
  it('renders counters, histograms and gauges that parse back to the recorded values', async () => {
    const m = await AgentMetrics.create({ startTime: new Date('2025-06-01T00:00:00.000Z') });
    m.reconcileFinished('web', 250, 'ok');
    m.reconcileFinished('web', 4000, 'ok');
    m.reconcileFinished('web', 90_000, 'failed');
    m.reconcileFinished('api', 50, 'cancelled');
    m.buildFinished('v1.2.0', 12_000, true);
    m.buildFinished('v2.0.0', 700, false);
    m.rollback('api');
    m.rollback('api');
    m.resyncFinished(1500, 3);
    m.resyncFinished(500, 1);
    const text = await m.render(rowsFixture(), 4);
    const s = parsePrometheusText(text);

    expect(one(s, 'tend_reconciles_total', { instance: 'web', result: 'ok' })).toBe(2);
    expect(one(s, 'tend_reconciles_total', { instance: 'web', result: 'failed' })).toBe(1);
    expect(one(s, 'tend_reconciles_total', { instance: 'api', result: 'cancelled' })).toBe(1);
    expect(one(s, 'tend_reconcile_duration_seconds_count', { instance: 'web' })).toBe(3);
    expect(one(s, 'tend_reconcile_duration_seconds_sum', { instance: 'web' })).toBeCloseTo(94.25, 6);
    expect(one(s, 'tend_reconcile_duration_seconds_bucket', { instance: 'web', le: '0.5' })).toBe(1);
    expect(one(s, 'tend_reconcile_duration_seconds_bucket', { instance: 'web', le: '5' })).toBe(2);
    expect(one(s, 'tend_reconcile_duration_seconds_bucket', { instance: 'web', le: '60' })).toBe(2);
    expect(one(s, 'tend_reconcile_duration_seconds_bucket', { instance: 'web', le: '+Inf' })).toBe(3);
    // Buckets are cumulative: never decreasing with le.
    const webBuckets = s.filter((x) => x.name === 'tend_reconcile_duration_seconds_bucket' && x.labels.instance === 'web').map((x) => x.value);
    expect(webBuckets).toEqual([...webBuckets].sort((a, b) => a - b));

    expect(one(s, 'tend_builds_total', { result: 'ok' })).toBe(1);
    expect(one(s, 'tend_builds_total', { result: 'failed' })).toBe(1);
    expect(one(s, 'tend_build_duration_seconds_sum', { result: 'ok' })).toBe(12);
    expect(one(s, 'tend_build_duration_seconds_bucket', { result: 'failed', le: '1' })).toBe(1);
    expect(one(s, 'tend_last_build_info', { version: 'v2.0.0', result: 'failed' })).toBe(1);
    expect(one(s, 'tend_rollbacks_total', { instance: 'api' })).toBe(2);
    expect(one(s, 'tend_resyncs_total')).toBe(2);
    expect(one(s, 'tend_resync_duration_seconds_sum')).toBe(2);
    expect(one(s, 'tend_resync_duration_seconds_bucket', { le: '1' })).toBe(1);
    expect(one(s, 'tend_resync_changed_instances_total')).toBe(4);
    expect(one(s, 'tend_queue_depth')).toBe(4);
    expect(one(s, 'tend_agent_start_time_seconds')).toBe(Date.parse('2025-06-01T00:00:00.000Z') / 1000);

    // Every instance has all eight phases, exactly one of them 1.
    for (const r of rowsFixture()) {
      const phases = s.filter((x) => x.name === 'tend_instance_phase' && x.labels.instance === r.name);
      expect(phases.map((x) => x.labels.phase).sort()).toEqual([...PHASES].sort());
      expect(phases.filter((x) => x.value === 1).map((x) => x.labels.phase)).toEqual([r.phase]);
      expect(phases.filter((x) => x.value === 0)).toHaveLength(PHASES.length - 1);
    }
  });

  it('writes one HELP and one TYPE line per family, before its samples', async () => {
    const m = await AgentMetrics.create();
    m.reconcileFinished('web', 10, 'ok');
    // Blank lines between families are part of the text format (prom-client writes them).
    const lines = (await m.render(rowsFixture(), 0)).trimEnd().split('\n').filter((l) => l !== '');
    const types = new Map<string, string>();
    const helps = new Set<string>();
    for (const line of lines) {
      const t = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
      if (t) {
        expect(types.has(t[1]!), `one TYPE for ${t[1]}`).toBe(false);
        expect(helps.has(t[1]!), `HELP before TYPE for ${t[1]}`).toBe(true);
        types.set(t[1]!, t[2]!);
        continue;
      }
      const h = /^# HELP (\S+) \S/.exec(line);
      if (h) { expect(helps.has(h[1]!)).toBe(false); helps.add(h[1]!); continue; }
      const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)![1]!;
      const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
      expect(types.has(family), `sample ${name} comes after its TYPE line`).toBe(true);
      if (family !== name) expect(types.get(family)).toBe('histogram');
    }
    expect(types.get('tend_reconciles_total')).toBe('counter');
    expect(types.get('tend_reconcile_duration_seconds')).toBe('histogram');
    expect(types.get('tend_instance_phase')).toBe('gauge');
    expect(types.get('tend_queue_depth')).toBe('gauge');
    // No build yet: the counter family is there without samples, the unlabelled resync counter reads 0.
    expect(types.get('tend_builds_total')).toBe('counter');
    expect(one(parsePrometheusText(lines.join('\n')), 'tend_resyncs_total')).toBe(0);
  });

  it('escapes label values so odd instance names parse back unchanged', async () => {
    const odd = 'we"ird\\name\nwith newline';
    const m = await AgentMetrics.create();
    m.rollback(odd);
    m.reconcileFinished(odd, 1, 'error');
    const row: InstanceStatus = { name: odd, phase: 'Unknown', warnings: [] };
    const text = await m.render([row], 0);
    expect(text.split('\n').filter((l) => l.startsWith('tend_rollbacks_total'))).toEqual(['tend_rollbacks_total{instance="we\\"ird\\\\name\\nwith newline"} 1']);
    const s = parsePrometheusText(text);
    expect(one(s, 'tend_rollbacks_total', { instance: odd })).toBe(1);
    expect(one(s, 'tend_reconciles_total', { instance: odd, result: 'error' })).toBe(1);
    expect(one(s, 'tend_instance_phase', { instance: odd, phase: 'Unknown' })).toBe(1);
  });
});

describe('status page HTML', () => {
  it('escapes every value and marks rows with data attributes', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const view = new PlainView();
    const rows = rowsFixture();
    rows[0]!.name = 'we<b>"b';
    const html = renderStatusPage({
      app: 'app<i>', root: '/srv/<root>', startedAt: view.startedAt, queueDepth: 1, warnings: ['<em>diverged</em>'], now: new Date('2025-06-01T00:05:00.000Z'),
      refreshSeconds: 5, instances: rows.map((row) => ({ row, history: view.history(row.name, 5) })),
    });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('<i>');
    expect(html).not.toContain('<em>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;');
    expect(html).toContain('HTTP 500 &lt;b&gt;');
    expect(html).toContain('<tr data-instance="we&lt;b&gt;&quot;b" data-phase="Ready">');
    expect(html).toContain('<meta http-equiv="refresh" content="5">');
    expect(html).toContain('<li>&lt;em&gt;diverged&lt;/em&gt;</li>');
    expect(html).not.toMatch(/<script|<link|src=|@import/i);
  });
});

describe('status server', () => {
  const view = new PlainView();
  let metrics: AgentMetrics;
  const logLines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { logLines.push(s); } });
  let server: StatusServer;

  beforeAll(async () => {
    metrics = await AgentMetrics.create({ startTime: new Date(view.startedAt) });
    metrics.reconcileFinished('web', 1250, 'ok');
    server = await startStatusServer({ listen: '127.0.0.1:0', view, metrics, log });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('parses HOST:PORT and refuses anything else', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('localhost:8080')).toEqual({ host: 'localhost', port: 8080 });
    for (const bad of ['9464', '127.0.0.1', '127.0.0.1:99999', '::1:80', 'host:port', '']) expect(() => parseListen(bad), bad).toThrow(/HOST:PORT/);
  });

  it('listens on a free port and logs where', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(server.url).port)).toBeGreaterThan(0);
    expect(logLines.map((l) => JSON.parse(l) as { msg: string; url?: string })).toContainEqual(expect.objectContaining({ msg: 'status server listening', url: server.url }));
  });

  it('GET and HEAD /healthz', async () => {
    const get = await fetch(`${server.url}/healthz`);
    expect(get.status).toBe(200);
    expect(await get.text()).toBe('ok\n');
    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('3');
    expect(await head.text()).toBe('');
  });

  it('GET /status: the agent and every row with its last reconcile', async () => {
    const res = await fetch(`${server.url}/status?pretty=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const doc = await res.json() as { agent: Record<string, unknown>; instances: Record<string, unknown>[] };
    expect(doc.agent).toEqual({ root: '/srv/tend', app: 'oubliette', startedAt: '2025-06-01T00:00:00.000Z', queueDepth: 2, warnings: ['desired/ branch diverged from origin/main'] });
    expect(doc.instances.map((i) => i.name)).toEqual(['web', 'api', 'worker']);
    const [web, api, worker] = doc.instances;
    expect(web).toMatchObject({ runtime: 'systemd', phase: 'Ready', desiredVersion: 'v1.2.0', observedVersion: 'v1.2.0', port: 8081, health: { healthy: true, at: '2025-06-01T00:00:00.000Z', reason: null } });
    expect(web!.lastReconcile).toEqual({ at: '2025-06-01T00:02:00.000Z', durationMs: 1250, result: 'ok', message: null });
    expect(api).toMatchObject({ phase: 'RolledBack', observedVersion: 'v1.9.0', message: EVIL, held: { version: 'v2.0.0', specHash: 'abc123' } });
    expect(api!.lastReconcile).toEqual({ at: '2025-06-01T00:02:00.000Z', durationMs: 31000, result: 'held', message: 'v2.0.0 is held' });
    // Same keys as `tend status --json`, unknown values null.
    expect(worker).toMatchObject({ phase: 'InvalidSpec', port: null, observedVersion: null, health: null, process: null, lastReconcile: null });
    expect(Object.keys(worker!)).toEqual(Object.keys(web!));
  });

  it('GET /metrics: Prometheus text with the phase of every instance and the queue depth', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const s = parsePrometheusText(await res.text());
    expect(one(s, 'tend_instance_phase', { instance: 'api', phase: 'RolledBack' })).toBe(1);
    expect(one(s, 'tend_instance_phase', { instance: 'api', phase: 'Ready' })).toBe(0);
    expect(one(s, 'tend_instance_phase', { instance: 'worker', phase: 'InvalidSpec' })).toBe(1);
    expect(one(s, 'tend_queue_depth')).toBe(2);
    expect(one(s, 'tend_reconciles_total', { instance: 'web', result: 'ok' })).toBe(1);
  });

  it('GET /metrics: the process metrics come with it (resident memory, event-loop lag)', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^# TYPE process_resident_memory_bytes gauge$/m);
    expect(text).toMatch(/^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    const s = parsePrometheusText(text);
    expect(one(s, 'process_resident_memory_bytes')).toBeGreaterThan(1024 * 1024);
    expect(one(s, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(one(s, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('GET / serves the page with every value escaped; HEAD sends headers only', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect([...html.matchAll(/<tr data-instance="([^"]+)" data-phase="([^"]+)">/g)].map((m) => [m[1], m[2]])).toEqual([
      ['web', 'Ready'], ['api', 'RolledBack'], ['worker', 'InvalidSpec'],
    ]);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('<meta http-equiv="refresh" content="5">');
    expect(html).toContain('desired/ branch diverged from origin/main');
    expect(html).toContain('auto-rollback');
    const head = await fetch(`${server.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await head.text()).toBe('');
  });

  it('other methods are 405, unknown paths 404', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await fetch(`${server.url}/status`, { method });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      await res.body?.cancel();
    }
    for (const path of ['/nope', '/status/', '/metrics.txt', '/constructor', '/__proto__']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(404);
      await res.body?.cancel();
    }
  });

  it('a view that throws is a 500 with a short message, logged, and the server stays up', async () => {
    view.failWith = new Error('backend exploded (token=s3cr3t-value)');
    try {
      for (const path of ['/status', '/metrics', '/']) {
        const res = await fetch(`${server.url}${path}`);
        expect(res.status, path).toBe(500);
        const body = await res.text();
        expect(body).toBe(`internal error serving ${path}; see the agent log\n`);
        expect(body).not.toContain('s3cr3t');
      }
      const logged = logLines.map((l) => JSON.parse(l) as { msg: string; path?: string; err?: { message: string } })
        .filter((l) => l.msg === 'status server: request failed');
      expect(logged.map((l) => l.path)).toEqual(['/status', '/metrics', '/']);
      expect(logged[0]!.err!.message).toContain('backend exploded');
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      await health.body?.cancel();
    } finally {
      view.failWith = undefined;
    }
    const again = await fetch(`${server.url}/status`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { instances: unknown[] }).instances).toHaveLength(3);
  });

  it('close() ends the server even with a keep-alive connection open', async () => {
    const extra = await startStatusServer({ listen: '127.0.0.1:0', view, metrics });
    const res = await fetch(`${extra.url}/healthz`, { headers: { connection: 'keep-alive' } });
    expect(await res.text()).toBe('ok\n');
    await extra.close();
    await expect(fetch(`${extra.url}/healthz`)).rejects.toThrow();
  });

  it('refuses a port already taken', async () => {
    const port = new URL(server.url).port;
    await expect(startStatusServer({ listen: `127.0.0.1:${port}`, view, metrics })).rejects.toMatchObject({
      name: 'ListenError', code: 'EADDRINUSE', message: `cannot listen on 127.0.0.1:${port}: address already in use (another tend agent?)`,
    });
  });
});

// ---- headless Chromium ----------------------------------------------------------------------------------------------

const CHROMIUM = process.env.TEND_CHROMIUM ?? '/usr/bin/chromium';
const chromiumStatus = existsSync(CHROMIUM) ? { ok: true } : { ok: false, why: `${CHROMIUM} is not installed (apt-get install chromium; scripts/backends.sh installs it)` };
const browserDecision = decide(chromiumStatus, requireBackends());
const OUTPUT_DIR = fileURLToPath(new URL('../test-output/', import.meta.url));
const SCREENSHOT = `${OUTPUT_DIR}agent-status-page.png`;

describe.skipIf(browserDecision === 'skip')('status page in headless Chromium', () => {
  it('shows rows, phases and versions, picks up a changed phase on auto-refresh, and saves a screenshot', async () => {
    if (!chromiumStatus.ok) throw new Error(`chromium is not available: ${chromiumStatus.why} (TEND_REQUIRE_BACKENDS is set, so this is a failure)`);
    const { chromium } = await import('playwright-core');
    const view = new PlainView();
    const metrics = await AgentMetrics.create();
    const server = await startStatusServer({ listen: '127.0.0.1:0', view, metrics, refreshSeconds: 1 });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      const blocked: string[] = [];
      page.on('request', (r) => { if (!r.url().startsWith(server.url)) blocked.push(r.url()); });
      await page.goto(`${server.url}/`);
      expect(await page.title()).toBe('tend · oubliette');

      const rows = page.locator('#instances tbody tr[data-instance]');
      expect(await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-instance'), tr.getAttribute('data-phase')]))).toEqual([
        ['web', 'Ready'], ['api', 'RolledBack'], ['worker', 'InvalidSpec'],
      ]);
      const field = (name: string, f: string) => page.locator(`tr[data-instance="${name}"] td[data-field="${f}"]`);
      expect(await field('web', 'phase').innerText()).toBe('Ready');
      expect(await field('api', 'desiredVersion').innerText()).toBe('v2.0.0');
      expect(await field('api', 'observedVersion').innerText()).toBe('v1.9.0');
      expect(await field('web', 'port').innerText()).toBe('127.0.0.1:8081');
      expect(await field('api', 'lastReconcile').innerText()).toMatch(/^held in 31\.0s, \S+ ago$/);
      // The message with markup is shown as text, not run or rendered.
      expect(await field('api', 'message').innerText()).toContain(EVIL);
      expect(await page.locator('td[data-field="message"] script').count()).toBe(0);
      // Phase colours as computed by the browser.
      const bg = (name: string) => field(name, 'phase').locator('.phase').evaluate((el) => getComputedStyle(el).backgroundColor);
      expect(await bg('web')).toBe(rgb(PHASE_COLORS.Ready));
      expect(await bg('api')).toBe(rgb(PHASE_COLORS.RolledBack));
      expect(await page.locator('#warnings li').allInnerTexts()).toEqual(['desired/ branch diverged from origin/main']);
      expect(await page.locator('section[data-history="api"] li').allInnerTexts()).toEqual([
        expect.stringContaining('v1.9.0  auto-rollback  healthy'),
        expect.stringContaining('v2.0.0  update  failed  by agent  HTTP 500 <b>'),
        expect.stringContaining('v1.9.0  create  healthy  by ops@host'),
      ]);

      // Auto-refresh: the page reloads by itself and shows the new phase.
      const firstGenerated = await page.locator('#generated-at').innerText();
      view.rows[0] = { ...view.rows[0]!, phase: 'Failed', message: 'health check failed after update' };
      await page.waitForSelector('tr[data-instance="web"][data-phase="Failed"]', { timeout: 30_000 });
      expect(await field('web', 'phase').innerText()).toBe('Failed');
      expect(await bg('web')).toBe(rgb(PHASE_COLORS.Failed));
      expect(await page.locator('#generated-at').innerText()).not.toBe(firstGenerated);
      expect(blocked).toEqual([]);

      rmSync(SCREENSHOT, { force: true });
      mkdirSync(OUTPUT_DIR, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      const png = readFileSync(SCREENSHOT);
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      expect(png.readUInt32BE(16)).toBe(1280); // IHDR width
    } finally {
      await browser.close();
      await server.close();
    }
  });
});

function rgb(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}
