// tend status and tend history: rows merged from desired files, an observed snapshot and hand-written
// status.json files; the app's /metrics from a real HTTP server; one live instance on a real tmux server.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Observed, ObservedItem, StatusFile } from '../src/model/types.js';
import { loadConfig } from '../src/spec/config.js';
import { withInstanceLock } from '../src/state/lock.js';
import { parsePrometheusText, readAppMetrics, statusRow, sumMetric } from '../src/status/index.js';
import { formatDuration } from '../src/views/status-text.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, makeFixtureRepo } from './fixtures/app.js';

const scratch = useScratch();
const built = buildOnce();

const METRICS = [
  '# HELP oubliette_projects_total Projects.',
  '# TYPE oubliette_projects_total gauge',
  'oubliette_projects_total 2',
  'oubliette_active_sessions{project_id="alpha"} 2',
  'oubliette_active_sessions{project_id="b\\"e,t}a",zone="x"} 3 1700000000000',
  'my_projects{kind="a"} 4',
  'my_projects{kind="b"} 1',
  'broken{no_close="x" 9',
  '',
].join('\n');

function serve(body: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
    else res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
  }));
}

describe('Prometheus text and the row merge (no processes)', () => {
  it('parses samples with escaped label values and timestamps; skips comments and broken lines; sums', () => {
    const samples = parsePrometheusText(METRICS);
    expect(samples.map((s) => s.name)).toEqual(['oubliette_projects_total', 'oubliette_active_sessions', 'oubliette_active_sessions', 'my_projects', 'my_projects']);
    expect(samples[2]!.labels).toEqual({ project_id: 'b"e,t}a', zone: 'x' });
    expect(sumMetric(samples, 'oubliette_active_sessions')).toBe(5);
    expect(sumMetric(samples, 'oubliette_projects_total')).toBe(2);
    expect(sumMetric(samples, 'absent_metric')).toBeUndefined();
  });

  it('derives phases: Degraded when a Ready process is not running, Unknown, derived Ready/Stopped', () => {
    const now = new Date('2025-01-01T12:00:00Z');
    const item: ObservedItem = { runtime: 'tmux', id: 'app-web', instance: 'web', owned: true, state: 'failed', exitStatus: 3 };
    const ready: StatusFile = { phase: 'Ready', observedVersion: 'v1.0.0', since: '2025-01-01T11:00:00Z' };
    expect(statusRow({ name: 'web', items: [item], status: ready, now })).toMatchObject({ phase: 'Degraded', message: 'process exited with status 3 (app-web)' });
    expect(statusRow({ name: 'web', items: [], status: ready, now })).toMatchObject({ phase: 'Degraded', message: 'process not found' });
    expect(statusRow({ name: 'web', items: [item], status: ready, unavailable: 'no server', now })).toMatchObject({ phase: 'Unknown', message: 'runtime not observable: no server' });
    const running = { ...item, state: 'running' as const, startedAt: '2025-01-01T10:58:55Z' };
    expect(statusRow({ name: 'web', items: [running], now })).toMatchObject({ phase: 'Ready', uptimeSeconds: 3665 });
    expect(statusRow({ name: 'web', items: [{ ...item, exitSignal: 'SIGKILL' }], now })).toMatchObject({ phase: 'Stopped', message: 'killed by SIGKILL; no desired file (an orphan: tend reconcile --prune deletes it)' });
    expect([42, 312, 3665, 180000].map(formatDuration)).toEqual(['42s', '5m12s', '1h01m', '2d2h']);
  });
});

describe('tend status / tend history on hand-written state', () => {
  const app = `st${process.pid}`;
  let root: string;
  let snapshot: string;
  let metrics: { server: Server; port: number };
  let now = Date.now();
  const iso = (agoSeconds: number) => new Date(now - agoSeconds * 1000).toISOString();

  const writeStatus = (name: string, s: StatusFile) => {
    mkdirSync(join(root, 'instances', name), { recursive: true });
    writeFileSync(join(root, 'instances', name, 'status.json'), JSON.stringify(s));
  };
  const run = (args: string[]) => tend([...args, '-C', root]);

  beforeAll(async () => {
    await built;
    now = Date.now();
    metrics = await serve(METRICS);
    const closed = () => freePort();
    root = scratch('status');
    mkdirSync(join(root, 'desired'));
    writeFileSync(join(root, 'tend.yaml'), [
      'apiVersion: tend/v1', `app: ${app}`, 'source:', '  repo: ./app', '  artifacts: [bin/oubliette]', '  run:', '    artifact: bin/oubliette',
      'docker:', '  discovery:', '    enabled: false',
      // The counts `tend status NAME` shows: named here (there are no default metric names).
      'metrics:', '  projects: oubliette_projects_total', '  sessions: oubliette_active_sessions', '',
    ].join('\n'));
    const desire = (name: string, lines: string[]) => writeFileSync(join(root, 'desired', `${name}.yaml`), `${lines.join('\n')}\n`);
    desire('web', ['version: v1.1.0', 'runtime: tmux', `port: ${metrics.port}`]);
    desire('api', ['version: v1.0.0', 'runtime: tmux', `port: ${await closed()}`]);
    desire('held', ['version: v2.0.0', 'runtime: tmux', `port: ${await closed()}`]);
    desire('fresh', ['version: v1.0.0', 'runtime: tmux', `port: ${await closed()}`]);
    desire('box', ['version: v1.0.0', 'runtime: docker', `port: ${await closed()}`]);
    desire('bad', ['version: v1.0.0', 'runtime: tmux', 'port: 99999']);
    const health = { healthy: true, at: iso(30) };
    writeStatus('web', { phase: 'Ready', desiredVersion: 'v1.1.0', observedVersion: 'v1.1.0', port: metrics.port, health, since: iso(600) });
    writeStatus('api', { phase: 'Ready', observedVersion: 'v1.0.0', since: iso(600), crashes: [{ at: iso(20), specHash: 'b'.repeat(64), exitStatus: 3 }] });
    writeStatus('held', {
      phase: 'RolledBack', observedVersion: 'v1.1.0', since: iso(60), health,
      message: 'Update failed, rolled back to v1.1.0 (v2.0.0: Health check timeout after 4s: HTTP 500)',
      held: { version: 'v2.0.0', specHash: 'a'.repeat(64), at: iso(70), reason: 'Health check timeout after 4s: HTTP 500' },
    });
    writeStatus('box', { phase: 'Ready', observedVersion: 'v1.0.0' });
    const hist = (v: string, reason: string, outcome: string, detail?: string) => JSON.stringify({ version: v, updatedAt: iso(100), updatedBy: 'ops@host', reason, outcome, ...(detail ? { detail } : {}) });
    writeFileSync(join(root, 'instances', 'web', '.version-history'), [
      hist('v1.0.0', 'create', 'healthy'), hist('v2.0.0', 'update', 'failed', 'HTTP 500'), hist('v1.1.0', 'auto-rollback', 'healthy'), '{"version":"v9',
    ].join('\n'));
    mkdirSync(join(root, 'instances', 'gone'));
    writeFileSync(join(root, 'instances', 'gone', '.version-history'), `${hist('v1.0.0', 'create', 'healthy')}\n`);
    const item = (instance: string, extra: Partial<ObservedItem>): ObservedItem => ({ runtime: 'tmux', id: `${app}-${instance}`, instance, owned: true, state: 'running', ...extra });
    const observed: Observed = {
      host: { platform: 'linux' },
      runtimes: {
        tmux: {
          status: 'ok', items: [
            item('web', { version: 'v1.1.0', startedAt: iso(3725) }),
            item('api', { version: 'v1.0.0', state: 'failed', exitStatus: 3 }),
            item('held', { version: 'v1.1.0', startedAt: iso(50) }),
            item('fresh', { version: 'v1.0.0', startedAt: iso(5) }),
            item('ghost', { version: 'v0.9.0', startedAt: iso(5) }),
            item('stranger', { owned: false }),
          ],
        },
        docker: { status: 'unavailable', reason: 'no Docker Engine at /var/run/docker.sock', items: [] },
        systemd: { status: 'ok', items: [] },
      },
    };
    snapshot = join(root, 'observed.json');
    writeFileSync(snapshot, JSON.stringify(observed));
  }, 120_000);

  afterAll(() => new Promise<void>((resolve) => metrics.server.close(() => resolve())));

  it('table: one aligned row per instance, orphans included, - for unknown; exit 0', async () => {
    const r = await run(['status', '--observed', snapshot]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +RUNTIME +VERSION +PHASE +PORT +HEALTH +UPTIME +MESSAGE$/);
    const col = lines[0]!.indexOf('PHASE');
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))!;
    expect(lines.slice(1).map((l) => l.split(' ')[0])).toEqual(['api', 'bad', 'box', 'fresh', 'ghost', 'held', 'web']);
    for (const l of lines.slice(1)) expect(l.slice(col).split(' ')[0]).toMatch(/^(Ready|Degraded|Unknown|InvalidSpec|RolledBack)$/);
    expect(row('web')).toMatch(new RegExp(`^web +tmux +v1\\.1\\.0 +Ready +${metrics.port} +healthy [3-5]\\ds ago +1h0[2-3]m +-$`));
    expect(row('api')).toMatch(/Degraded .* process exited with status 3 \(st\d+-api\)$/);
    expect(row('box')).toMatch(/^box +docker +v1\.0\.0 +Unknown .*runtime not observable: no Docker Engine/);
    expect(row('bad')).toMatch(/^bad +- +- +InvalidSpec +- +- +- +desired\/bad\.yaml:3:7: error: port must be <= 65535$/);
    expect(row('held')).toMatch(/^held +tmux +v1\.1\.0 \(want v2\.0\.0\) +RolledBack .*Update failed, rolled back to v1\.1\.0/);
    expect(row('fresh')).toMatch(/^fresh +tmux +v1\.0\.0 +Ready +\d+ +- +\d+s +-$/);
    expect(row('ghost')).toMatch(/Ready .*no desired file \(an orphan/);
  });

  it('--json: stable keys, null when unknown', async () => {
    const r = await run(['status', '--json', '--observed', snapshot]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { formatVersion: number; instances: Record<string, unknown>[] };
    expect(out.formatVersion).toBe(1);
    const keys = ['name', 'file', 'runtime', 'state', 'desiredVersion', 'observedVersion', 'phase', 'port', 'desiredPort', 'address', 'health', 'lastCheck', 'process', 'uptimeSeconds', 'since', 'message', 'held', 'warnings'];
    for (const i of out.instances) expect(Object.keys(i)).toEqual(keys);
    const by = Object.fromEntries(out.instances.map((i) => [i.name, i]));
    expect(by.api).toMatchObject({ phase: 'Degraded', process: { state: 'failed', exitStatus: 3, exitSignal: null, startedAt: null }, uptimeSeconds: null });
    expect(by.bad).toMatchObject({ phase: 'InvalidSpec', runtime: null, port: null, file: 'desired/bad.yaml' });
    expect(by.held).toMatchObject({ phase: 'RolledBack', held: { version: 'v2.0.0' }, desiredVersion: 'v2.0.0', observedVersion: 'v1.1.0' });
    expect(by.web!.uptimeSeconds).toBeGreaterThanOrEqual(3725);
  });

  it('detail: since, hold, history tail, lock holder, and counts from /metrics', async () => {
    const paths = loadConfig({ cwd: root, dir: root, env: {} }).paths;
    const r = await withInstanceLock(paths, 'web', () => run(['status', 'web', '--observed', snapshot]), { purpose: 'test holds web' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`warning: .version-history line 4: not JSON (torn last line: no newline)\n`);
    expect(r.stdout).toMatch(/^phase: +Ready \(since .*, 10m\d\ds ago\)$/m);
    expect(r.stdout).toMatch(/^held: +no$/m);
    expect(r.stdout).toMatch(new RegExp(`^lock: +held by pid ${process.pid} on .* \\(test holds web\\) since `, 'm'));
    expect(r.stdout).toMatch(/^projects: +2$/m);
    expect(r.stdout).toMatch(/^sessions: +5$/m);
    expect(r.stdout).toMatch(/^history \(3\):\n {2}VERSION .*\n {2}v1\.0\.0 .* create +healthy\n {2}v2\.0\.0 .* update +failed +HTTP 500\n {2}v1\.1\.0 .* auto-rollback +healthy$/m);

    const [heldJson, heldText] = await Promise.all([run(['status', 'held', '--json', '--observed', snapshot]), run(['status', 'held', '--observed', snapshot])]);
    const held = JSON.parse(heldJson.stdout) as { instance: Record<string, unknown> };
    expect(held.instance).toMatchObject({ phase: 'RolledBack', held: { version: 'v2.0.0', specHash: 'a'.repeat(64) }, lock: null, metrics: null, history: [], historyCount: 0 });
    const text = heldText.stdout;
    expect(text).toMatch(/^held: +v2\.0\.0 \(spec aaaaaaaaaaaa\) at .*: Health check timeout after 4s: HTTP 500$/m);
    expect(text).not.toMatch(/^(projects|sessions|lock|crashes):/m);
    const api = await run(['status', 'api', '--observed', snapshot]);
    expect(api.stdout).toMatch(/^phase: +Degraded \(since .*\)$/m);
    expect(api.stdout).toMatch(/^crashes: +1 recorded, last at .*: exited with status 3$/m);
  });

  it('readAppMetrics: configured names (summed), nothing listening, a 404', async () => {
    const url = `http://127.0.0.1:${metrics.port}/metrics`;
    expect(await readAppMetrics(url, { projects: 'my_projects', sessions: 'nope' })).toEqual({ url, projects: 5 });
    expect(await readAppMetrics(`http://127.0.0.1:${await freePort()}/metrics`)).toBeUndefined();
    expect(await readAppMetrics(`http://127.0.0.1:${metrics.port}/other`)).toBeUndefined();
  });

  it('unknown name: error naming it, exit 1; --help lists exit codes', async () => {
    const [r, odd, help, historyHelp] = await Promise.all([
      run(['status', 'nope', '--observed', snapshot]), run(['status', '../x', '--observed', snapshot]), tend(['status', '--help']), tend(['history', '--help']),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no instance named "nope"/);
    expect(odd.code).toBe(1);
    expect(help.stdout).toMatch(/Exit codes: 0 .* 1 error/);
    expect(historyHelp.stdout).toMatch(/Exit codes: 0 .*1 error/s);
  });

  it('tend history: oldest first, torn line warned on stderr, --json, no history yet, unknown name', async () => {
    const [r, jsonRun, fresh, gone, unknown] = await Promise.all([
      run(['history', 'web']), run(['history', 'web', '--json']), run(['history', 'fresh']), run(['history', 'gone']), run(['history', 'nope']),
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: .*instances\/web\/\.version-history: line 4: not JSON \(torn last line: no newline\)\n$/);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^VERSION +UPDATED +BY +REASON +OUTCOME +DETAIL$/);
    expect(lines.slice(1).map((l) => l.split(/ +/).filter((w) => !/^\d{4}-\d\d-\d\dT/.test(w)).join(' '))).toEqual([
      'v1.0.0 ops@host create healthy', 'v2.0.0 ops@host update failed HTTP 500', 'v1.1.0 ops@host auto-rollback healthy',
    ]);
    const json = JSON.parse(jsonRun.stdout) as { entries: Record<string, unknown>[]; problems: string[] };
    expect(Object.keys(json.entries[1]!)).toEqual(['version', 'updatedAt', 'updatedBy', 'reason', 'outcome', 'detail']);
    expect(json.entries.map((e) => e.version)).toEqual(['v1.0.0', 'v2.0.0', 'v1.1.0']);
    expect(json.entries[0]!.detail).toBeNull();
    expect(json.problems).toHaveLength(1);
    expect(fresh).toMatchObject({ code: 0, stdout: 'fresh: no history yet\n' });
    expect(gone.stdout).toMatch(/v1\.0\.0 .* create +healthy/);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no instance named "nope"/);
  });
});

// The live instance is made (fixture repo, build, tend reconcile) while the tests above run.
const tmuxGate = await backendGate('tmux');
const liveApp = `sl${process.pid}${randomBytes(2).toString('hex')}`;
const liveSocket = `tend-status-${liveApp}`;
const tmux = (args: string[]) => execa('tmux', ['-L', liveSocket, ...args], { reject: false, stdin: 'ignore' });

async function makeLive() {
  const root = scratch('status-live');
  const fixture = await makeFixtureRepo(join(root, 'app'));
  const port = await freePort();
  mkdirSync(join(root, 'desired'));
  writeFileSync(join(root, 'tend.yaml'), [
    'apiVersion: tend/v1', `app: ${liveApp}`,
    'source:', `  repo: ${fixture.repo}`, '  artifacts: [bin/oubliette]', '  run:', '    artifact: bin/oubliette', '    args: [--port, "${port}"]',
    'tmux:', `  socket: ${liveSocket}`, 'docker:', '  discovery:', '    enabled: false',
    'metrics:', '  projects: oubliette_projects_total', '  sessions: oubliette_active_sessions', '',
  ].join('\n'));
  writeFileSync(join(root, 'desired', 'web.yaml'), `version: v1.0.0\nruntime: tmux\nport: ${port}\nhealth:\n  http: /health\n  timeout: 10s\n  interval: 100ms\n`);
  await built;
  return { root, port, reconciled: await tend(['reconcile', '-C', root]) };
}
const live = tmuxGate.status.ok ? makeLive() : undefined;
live?.catch(() => undefined);

describe.skipIf(tmuxGate.skip)('tend status on a live tmux instance', () => {
  afterAll(async () => {
    await live?.catch(() => undefined);
    await tmux(['kill-server']);
    // The server leaves its socket file behind; the run's leak check would find it.
    rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, liveSocket), { force: true });
  });

  it('a reconciled instance is Ready with uptime and app counts; killing its process shows Degraded', async () => {
    tmuxGate.check();
    const { root, port, reconciled: rec } = await live!;
    const app = liveApp;
    expect(rec.code, rec.stdout + rec.stderr).toBe(0);
    const rows = JSON.parse((await tend(['status', '--json', '-C', root])).stdout) as { instances: Record<string, unknown>[] };
    expect(rows.instances).toHaveLength(1);
    expect(rows.instances[0]).toMatchObject({
      name: 'web', runtime: 'tmux', phase: 'Ready', observedVersion: 'v1.0.0', port, health: { healthy: true }, process: { id: `${app}-web`, state: 'running' },
    });
    expect(rows.instances[0]!.uptimeSeconds).toEqual(expect.any(Number));
    const detail = JSON.parse((await tend(['status', 'web', '--json', '-C', root])).stdout) as { instance: Record<string, unknown> };
    expect(detail.instance).toMatchObject({ metrics: { projects: 2, sessions: 3 }, historyCount: 1, history: [{ version: 'v1.0.0', reason: 'create', outcome: 'healthy' }] });

    const pid = (await tmux(['list-panes', '-t', `=${app}-web:`, '-F', '#{pane_pid}'])).stdout.trim();
    process.kill(Number(pid), 'SIGKILL');
    let text = '';
    for (let i = 0; i < 40; i++) {
      text = (await tend(['status', '-C', root])).stdout;
      if (/Degraded/.test(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(text).toMatch(/^web +tmux +v1\.0\.0 +Degraded .* - +process (killed by SIGKILL|exited with status \d+|failed) \(sl\w+-web\)$/m);
  }, 60_000);
});
