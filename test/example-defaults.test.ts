// Defaults that belonged to one past user are examples now (issue 14, point 14): no built-in
// `cc-bridge.instance` discovery and no built-in `oubliette_*` metric names. A root that relied on
// them names them in tend.yaml (docs/configuration.md, "Examples that were defaults") and keeps
// working: checked on the real Docker Engine (a container carrying the label) and a real HTTP
// /metrics (status reads counts from the app wherever it runs).
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Observed } from '../src/model/types.js';
import { loadConfig } from '../src/spec/config.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, tend } from './helpers/cli.js';
import { busyboxImage, engine, removeContainers, removeImages, sleeper, uniqueName } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';

const docker = await backendGate('docker');
const scratch = useScratch();

const LEGACY_DISCOVERY = ['docker:', '  discovery:', '    label: cc-bridge.instance'];
const LEGACY_METRICS = ['metrics:', '  projects: oubliette_projects_total', '  sessions: oubliette_active_sessions'];

/** A root with `app` and these extra tend.yaml lines. */
function root(app: string, name: string, extra: string[]): string {
  const dir = scratch(name);
  mkdirSync(join(dir, 'desired'), { recursive: true });
  writeFileSync(join(dir, 'tend.yaml'), ['apiVersion: tend/v1', `app: ${app}`, ...extra, ''].join('\n'));
  return dir;
}

describe('built-in defaults no longer carry a past user\'s names', () => {
  it('a tend.yaml without docker or metrics keys: discovery is off with no label, and no metric names', () => {
    const dir = root(uniqueName('hygx'), 'ex-defaults', []);
    const loaded = loadConfig({ cwd: dir, dir, env: {} });
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.config!.docker.discovery).toEqual({ enabled: false, label: '', imagePatterns: [] });
    expect(loaded.config!.metrics).toEqual({});
  });

  it('naming a label or pattern turns discovery on; enabled: true with neither warns with the line to add, and still loads', () => {
    const app = uniqueName('hygx');
    const label = loadConfig({ cwd: '/', dir: root(app, 'ex-label', LEGACY_DISCOVERY), env: {} });
    expect(label.config!.docker.discovery).toEqual({ enabled: true, label: 'cc-bridge.instance', imagePatterns: [] });
    const off = loadConfig({ cwd: '/', dir: root(app, 'ex-off', [...LEGACY_DISCOVERY, '    enabled: false']), env: {} });
    expect(off.config!.docker.discovery.enabled).toBe(false);
    const bare = loadConfig({ cwd: '/', dir: root(app, 'ex-bare', ['docker:', '  discovery:', '    enabled: true']), env: {} });
    expect(bare.config).toBeDefined();
    expect(bare.diagnostics).toEqual([expect.objectContaining({
      severity: 'warning', file: 'tend.yaml', line: 5,
      message: expect.stringContaining('add `label: cc-bridge.instance` under docker.discovery'),
    })]);
  });
});

describe.skipIf(docker.skip)('cc-bridge.instance discovery is an example on the real Docker Engine', () => {
  const u = uniqueName('hygd');
  const image = `${u}-bb:latest`;
  const container = `${u}-legacy`;
  let engineClient: Docker;

  beforeAll(async () => {
    docker.check();
    engineClient = engine();
    await Promise.all([buildOnce(), (async () => {
      await busyboxImage(scratch('ex-image'), image);
      await sleeper(engineClient, image, { name: container, labels: { 'cc-bridge.instance': `${u}-a` } });
    })()]);
  }, 120_000);

  afterAll(async () => {
    if (!engineClient) return;
    await removeContainers(engineClient, [container]);
    await removeImages(engineClient, [image]);
  });

  const mine = (stdout: string) => (JSON.parse(stdout) as { containers: { name: string; instance: string | null; reason: string }[] }).containers.filter((c) => c.name === container);

  it('a root that names nothing does not take the labelled container for an instance, and says which line finds it', async () => {
    const dir = root(u, 'ex-plain', []);
    const json = await tend(['-C', dir, 'discover', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(mine(json.stdout)).toEqual([]);
    const text = await tend(['-C', dir, 'discover']);
    expect(text.code).toBe(0);
    expect(text.stderr).toContain('info: discovery is off (tend.yaml names no docker.discovery.label or imagePatterns; to find containers labelled as before, add docker: {discovery: {label: cc-bridge.instance}})');
    const adopt = await tend(['-C', dir, 'discover', '--adopt']);
    expect(adopt.code).toBe(1);
    expect(adopt.stderr).toContain('--adopt needs discovery, which is off (tend.yaml names no docker.discovery.label');
  });

  it('a root that relied on the former default names the label and finds the container as before', async () => {
    const dir = root(u, 'ex-legacy', LEGACY_DISCOVERY);
    const r = await tend(['-C', dir, 'discover', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(mine(r.stdout)).toEqual([expect.objectContaining({ instance: `${u}-a`, reason: `label cc-bridge.instance=${u}-a` })]);
  });
});

describe('oubliette_* metrics are an example: tend status NAME reads only the names tend.yaml gives', () => {
  let server: Server;
  let port = 0;
  let asked = 0;

  beforeAll(async () => {
    await buildOnce();
    server = createServer((req, res) => {
      if (req.url === '/metrics') asked++;
      res.writeHead(req.url === '/metrics' ? 200 : 404, { 'content-type': 'text/plain; version=0.0.4' })
        .end('oubliette_projects_total 2\noubliette_active_sessions{project_id="a"} 3\noubliette_active_sessions{project_id="b"} 4\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  }, 120_000);

  afterAll(() => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))));

  /** `tend status web --json` for a root with these lines, web observed running (tmux) on the server's port. */
  async function detail(name: string, extra: string[]): Promise<Record<string, unknown>> {
    const app = uniqueName('hygm');
    const dir = root(app, name, ['docker:', '  discovery:', '    enabled: false', ...extra]);
    writeFileSync(join(dir, 'desired', 'web.yaml'), `version: v1.0.0\nruntime: tmux\nport: ${port}\n`);
    const observed: Observed = {
      host: { platform: 'linux' },
      runtimes: {
        tmux: { status: 'ok', items: [{ runtime: 'tmux', id: `${app}-web`, instance: 'web', owned: true, state: 'running', version: 'v1.0.0', startedAt: new Date().toISOString() }] },
        docker: { status: 'ok', items: [] },
        systemd: { status: 'ok', items: [] },
      },
    };
    const file = join(dir, 'observed.json');
    writeFileSync(file, JSON.stringify(observed));
    const r = await tend(['-C', dir, 'status', 'web', '--json', '--observed', file]);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { instance: Record<string, unknown> }).instance;
  }

  it('no metrics key: /metrics is not asked and no counts are shown', async () => {
    const before = asked;
    expect((await detail('ex-nometrics', [])).metrics).toBeNull();
    expect(asked).toBe(before);
  });

  it('the former defaults, named in tend.yaml: the same counts as before', async () => {
    expect((await detail('ex-metrics', LEGACY_METRICS)).metrics).toEqual({ url: `http://127.0.0.1:${port}/metrics`, projects: 2, sessions: 7 });
  });
});
