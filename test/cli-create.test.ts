// tend create and tend delete end to end with the built CLI on a real tmux server (the fixture app
// repository with v1.0.0 and v1.1.0; its broken v2.0.0 re-tagged `broken`, so latest is v1.1.0), one
// create/delete round on the real systemd user manager and one on the real Docker Engine, and create -> status -> delete through the API.
// Every failure case checks that nothing is left: no desired file, no instances/<name>/, no session.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFile } from '../src/model/types.js';
import { createInstance } from '../src/ops/create.js';
import { deleteInstance } from '../src/ops/delete.js';
import { openProject } from '../src/ops/project.js';
import { status } from '../src/status/index.js';
import { unitDirOf } from '../src/drivers/systemd/unit.js';
import { loadConfig } from '../src/spec/config.js';
import { backendGate, userctl } from './helpers/backends.js';
import { buildOnce, CLI, tend } from './helpers/cli.js';
import { engine } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses, quietYaml, type Harness } from './drivers/contract-backends.js';

const scratch = useScratch();
const tmuxH = harnesses.find((h) => h.runtime === 'tmux')!;
const systemdH = harnesses.find((h) => h.runtime === 'systemd')!;
const dockerH = harnesses.find((h) => h.runtime === 'docker')!;
const socket = /socket: (\S+)/.exec(tmuxH.configYaml('x'))![1]!;
const tmux = (args: string[]) => execa('tmux', ['-L', socket, ...args], { reject: false, stdin: 'ignore' });

/** A deployment root on backend `h` whose latest tag is v1.1.0 (v2.0.0, whose /health answers 500, is tagged `broken`). */
async function makeRoot(h: Harness, app: string, extra = ''): Promise<string> {
  const root = scratch(`create-${h.runtime}`);
  const { fixture } = await fixtureRoot(h, root, app, {
    runtimeYaml: `${quietYaml(h, app)}\ndefaults:\n  runtime: ${h.runtime}\n  health:\n    timeout: 4s\n    interval: 250ms\n${extra}`,
  });
  const git = (args: string[]) => execa('git', ['-C', fixture.repo, ...args], { env: { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });
  await git(['tag', 'broken', 'v2.0.0^{}']);
  await git(['tag', '-d', 'v2.0.0']);
  return root;
}

/** What is left of instance `name`: its desired file, instance folder, tmux session. */
async function leftovers(root: string, app: string, name: string): Promise<string[]> {
  const left: string[] = [];
  if (existsSync(join(root, 'desired', `${name}.yaml`))) left.push('desired file');
  if (existsSync(join(root, 'instances', name))) left.push('instance dir');
  if ((await tmux(['has-session', '-t', `=${app}-${name}`])).exitCode === 0) left.push('tmux session');
  return left;
}

/** Whether a listener can bind 127.0.0.1:port now (closed again at once). */
const bindable = (port: number) => new Promise<boolean>((resolve) => {
  const s = createServer();
  s.once('error', () => resolve(false));
  s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});

/** Ports from 8081 to 8280 that something on this host listens on (127.0.0.1) right now. */
async function busyPorts(): Promise<Set<number>> {
  const busy = new Set<number>();
  for (let p = 8081; p <= 8280; p++) if (!(await bindable(p))) busy.add(p);
  return busy;
}

/**
 * How `port`, picked by default, breaks the rule "the first port from 8081 that no desired file declares
 * and nothing listens on" (empty: it keeps it). Other programs on a shared host take and free ports, so a
 * port below it counts as taken when it was busy before the create or after it; `port` itself must have
 * been free before. On a quiet host this means exactly 8081, then 8082.
 */
function firstFreeProblems(port: number, declared: ReadonlySet<number>, before: ReadonlySet<number>, after: ReadonlySet<number>): string[] {
  const problems: string[] = [];
  if (port < 8081 || port > 8280) problems.push(`${port} is outside 8081..8280`);
  if (before.has(port)) problems.push(`${port} was taken before the create`);
  if (declared.has(port)) problems.push(`${port} is declared by another desired file`);
  for (let p = 8081; p < port && p <= 8280; p++) {
    if (!declared.has(p) && !before.has(p) && !after.has(p)) problems.push(`${p} was free and undeclared`);
  }
  return problems;
}

const portIn = (text: string) => Number(/^port: (\d+)$/m.exec(text)?.[1]);

const statusOf = (root: string, name: string) => JSON.parse(readFileSync(join(root, 'instances', name, 'status.json'), 'utf8')) as StatusFile;

const tmuxGate = await backendGate('tmux');
describe.skipIf(tmuxGate.skip)('tend create / delete on tmux', () => {
  const app = `cr${process.pid}${randomBytes(2).toString('hex')}`;
  let root: string;
  const run = (args: string[], input?: string) => tend(['-C', root, ...args], input !== undefined ? { input } : { stdin: 'ignore' });
  const servers: Server[] = [];
  /** The port the first create picked (the first free one from 8081). */
  let webPort = 0;

  beforeAll(async () => {
    tmuxGate.check();
    await buildOnce();
    root = await makeRoot(tmuxH, app);
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) s.close();
    await tmuxH.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
  }, 60_000);

  it('with all defaults: latest tag v1.1.0 and the first free port from 8081 (8081 on a quiet host); a second create gets the next one', async () => {
    // The rule, checked on its own (not through firstFreePort): the first port from 8081 that no desired
    // file declares and nothing on the host listens on.
    const before = await busyPorts();
    const r = await run(['create', 'web']);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const file = readFileSync(join(root, 'desired', 'web.yaml'), 'utf8');
    webPort = portIn(file);
    expect(firstFreeProblems(webPort, new Set(), before, await busyPorts())).toEqual([]);
    expect(r.stdout).toContain(`Instance web running on http://localhost:${webPort} (v1.1.0)\n`);
    expect(file.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=\S+instance\.schema\.json$/);
    const schema = /\$schema=(\S+)/.exec(file)![1]!;
    expect(existsSync(join(root, 'desired', schema))).toBe(true);
    expect(file).toContain('version: v1.1.0\n');
    expect((await httpGet(`http://127.0.0.1:${webPort}/version`)).body.trim()).toBe('v1.1.0');
    expect(statusOf(root, 'web')).toMatchObject({ phase: 'Ready', observedVersion: 'v1.1.0', port: webPort });
    expect((await tmux(['show-options', '-v', '-t', `=${app}-web:`, '@tend-instance'])).stdout.trim()).toBe('web');

    const before2 = await busyPorts();
    const r2 = await run(['create', 'api']);
    expect(r2.code).toBe(0);
    const next = portIn(readFileSync(join(root, 'desired', 'api.yaml'), 'utf8'));
    expect(next).not.toBe(webPort);
    expect(firstFreeProblems(next, new Set([webPort]), before2, await busyPorts())).toEqual([]);
    expect(r2.stdout).toContain(`Instance api running on http://localhost:${next} (v1.1.0)\n`);
    expect((await httpGet(`http://127.0.0.1:${next}/health`)).status).toBe(200);
  }, 120_000);

  it('a missing tag: "Git tag v9.9.9 not found", nothing left behind', async () => {
    const r = await run(['create', 'bad', '--version', 'v9.9.9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Git tag v9.9.9 not found');
    expect(await leftovers(root, app, 'bad')).toEqual([]);
  });

  it('a port something listens on, or another desired file declares: "Port N already in use", nothing left behind', async () => {
    const server = createServer();
    servers.push(server);
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    const r = await run(['create', 'taken', '--port', String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Port ${port} already in use`);
    expect(await leftovers(root, app, 'taken')).toEqual([]);
    const r2 = await run(['create', 'taken', '--port', String(webPort)]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`Port ${webPort} already in use (declared by desired/web.yaml)`);
    expect(await leftovers(root, app, 'taken')).toEqual([]);
  });

  it('a first start that fails its health check: the error says why, the session and files are removed', async () => {
    const port = await freePort();
    const r = await run(['create', 'sick', '--version', 'broken', '--port', String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: sick did not start: .*HTTP 500.*; nothing was left behind/);
    expect(await leftovers(root, app, 'sick')).toEqual([]);
    expect(readdirSync(join(root, 'desired')).sort()).toEqual(['api.yaml', 'web.yaml']);
  }, 60_000);

  it('Ctrl-C while it waits for the first health check: exit 130, nothing left behind', async () => {
    const port = await freePort();
    const child = execa('node', [CLI, '-C', root, 'create', 'intr', '--version', 'broken', '--port', String(port)], { reject: false, stdin: 'ignore' });
    const deadline = Date.now() + 30_000;
    while ((await tmux(['has-session', '-t', `=${app}-intr`])).exitCode !== 0) {
      if (Date.now() > deadline) throw new Error('the session never appeared');
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(String(r.stderr)).toContain('interrupted: intr was not created; nothing was left behind');
    expect(await leftovers(root, app, 'intr')).toEqual([]);
  }, 60_000);

  it('refuses bad names, a taken name and an env key that is not a name; writes nothing', async () => {
    const bad = await run(['create', 'Bad_Name']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid instance name "Bad_Name"');
    const reserved = await run(['create', 'latest']);
    expect(reserved.stderr).toContain('is a reserved word');
    const again = await run(['create', 'web']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('desired/web.yaml exists: instance web is already declared');
    const env = await run(['create', 'envy', '--env', '1X=y']);
    expect(env.stderr).toContain('"1X" is not an environment variable name');
    expect(readdirSync(join(root, 'desired')).sort()).toEqual(['api.yaml', 'web.yaml']);
  });

  it('--no-apply writes the desired file (env kept, no secret values) and starts nothing', async () => {
    const port = await freePort();
    const r = await run(['create', 'later', '--no-apply', '--port', String(port), '--env', 'LOG_LEVEL=debug', '--runtime', 'tmux']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Instance later written, not started (--no-apply)');
    const file = readFileSync(join(root, 'desired', 'later.yaml'), 'utf8');
    expect(file).toContain('runtime: tmux\n');
    expect(file).toContain('LOG_LEVEL: debug');
    expect(await leftovers(root, app, 'later')).toEqual(['desired file']);
    const d = await run(['delete', 'later', '--yes']);
    expect(d.code).toBe(0);
    expect(await leftovers(root, app, 'later')).toEqual([]);
  });

  it('the default port skips one something listens on and one another desired file declares (nothing listening)', async () => {
    const declared = new Set<number>(readdirSync(join(root, 'desired')).map((f) => portIn(readFileSync(join(root, 'desired', f), 'utf8'))));
    const portOf = (name: string) => portIn(readFileSync(join(root, 'desired', `${name}.yaml`), 'utf8'));
    // The first port the next create would pick, held by a listener of this test's own.
    const busy = await busyPorts();
    let occupied = 8081;
    while (declared.has(occupied) || busy.has(occupied)) occupied++;
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(occupied, '127.0.0.1', () => resolve());
    });
    try {
      const before = await busyPorts();
      const one = await run(['create', 'dflt1', '--no-apply']);
      expect(one.code, one.stderr).toBe(0);
      const p1 = portOf('dflt1');
      expect(p1).toBeGreaterThan(occupied);
      expect(firstFreeProblems(p1, declared, before, await busyPorts())).toEqual([]);
      // p1 is only declared (--no-apply started nothing): the next create passes it by all the same.
      const before2 = await busyPorts();
      expect(before2.has(p1)).toBe(false);
      const two = await run(['create', 'dflt2', '--no-apply']);
      expect(two.code, two.stderr).toBe(0);
      const p2 = portOf('dflt2');
      expect(p2).not.toBe(p1);
      expect(firstFreeProblems(p2, new Set([...declared, p1]), before2, await busyPorts())).toEqual([]);
    } finally {
      server.close();
      for (const n of ['dflt1', 'dflt2']) await run(['delete', n, '--yes']);
    }
    expect(await leftovers(root, app, 'dflt1')).toEqual([]);
    expect(await leftovers(root, app, 'dflt2')).toEqual([]);
  }, 60_000);

  it('delete: refuses off a terminal without --yes; --yes removes session, instance dir and desired file', async () => {
    const refused = await run(['delete', 'api']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('asks for confirmation; not on a terminal, so pass --yes');
    expect(await leftovers(root, app, 'api')).toEqual(['desired file', 'instance dir', 'tmux session']);
    const r = await run(['delete', 'api', '--yes']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`deleted tmux session ${app}-api\n`);
    expect(r.stdout).toContain('removed instances/api/\n');
    expect(r.stdout).toContain('removed desired/api.yaml\n');
    expect(await leftovers(root, app, 'api')).toEqual([]);
    // The other instance is untouched.
    expect((await httpGet(`http://127.0.0.1:${webPort}/version`)).body.trim()).toBe('v1.1.0');
    const none = await run(['delete', 'api', '--yes']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no instance api');
  }, 60_000);

  it('delete on a terminal asks; "n" keeps everything, "y" deletes (the last instance too)', async () => {
    const script = (answer: string) => execa('script', ['-qec', `node ${CLI} -C ${root} delete web`, '/dev/null'], { input: `${answer}\n`, reject: false });
    const no = await script('n');
    expect(String(no.stdout)).toContain('Delete instance web? [y/N]');
    expect(String(no.stdout)).toContain('nothing deleted');
    expect(await leftovers(root, app, 'web')).toEqual(['desired file', 'instance dir', 'tmux session']);
    const yes = await script('y');
    expect(String(yes.stdout)).toContain('Instance web deleted');
    expect(await leftovers(root, app, 'web')).toEqual([]);
    // tmux keeps tend's server up without sessions; creating on it works as on a fresh one.
    const port = await freePort();
    const again = await run(['create', 'again', '--port', String(port)]);
    expect(again.stderr).not.toMatch(/error/);
    expect(again.code).toBe(0);
    expect((await run(['delete', 'again', '--yes'])).code).toBe(0);
    expect(await leftovers(root, app, 'again')).toEqual([]);
  }, 90_000);

  it('with agent.git.pull on, create, delete and rollback refuse unless --local', async () => {
    const file = join(root, 'tend.yaml');
    const before = readFileSync(file, 'utf8');
    writeFileSync(file, `${before}\nagent:\n  git:\n    pull: true\n`);
    try {
      const port = await freePort();
      const refused = await run(['create', 'gp', '--port', String(port), '--no-apply']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('agent.git.pull is on, so desired files come from git: create gp in a checkout and commit it');
      expect(await leftovers(root, app, 'gp')).toEqual([]);
      expect((await run(['create', 'gp', '--port', String(port), '--no-apply', '--local'])).code).toBe(0);
      const rollback = await run(['rollback', 'gp', '--to', 'v1.0.0', '--no-apply']);
      expect(rollback.code).toBe(1);
      expect(rollback.stderr).toContain('agent.git.pull is on, so desired files come from git: roll gp back in a checkout');
      expect(readFileSync(join(root, 'desired', 'gp.yaml'), 'utf8')).toContain('version: v1.1.0');
      const del = await run(['delete', 'gp', '--yes']);
      expect(del.code).toBe(1);
      expect(del.stderr).toContain('agent.git.pull is on');
      expect(await leftovers(root, app, 'gp')).toEqual(['desired file']);
      expect((await run(['delete', 'gp', '--yes', '--local'])).code).toBe(0);
      expect(await leftovers(root, app, 'gp')).toEqual([]);
    } finally {
      writeFileSync(file, before);
    }
  }, 60_000);

  it('delete never touches a session of that name tend does not own', async () => {
    const config = loadConfig({ cwd: root, dir: root, env: {} }).config!;
    const look = await tmuxH.lookalike(app, 'ghost', config);
    try {
      const r = await run(['delete', 'ghost', '--yes']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no instance ghost');
      expect(await look.intact()).toBe(true);
    } finally {
      await look.remove();
    }
  });
});

describe.skipIf(tmuxGate.skip)('create -> status -> delete through the API (tmux)', () => {
  const app = `ca${process.pid}${randomBytes(2).toString('hex')}`;
  let root: string;

  beforeAll(async () => {
    tmuxGate.check();
    await buildOnce();
    root = await makeRoot(tmuxH, app);
  }, 120_000);

  afterAll(async () => {
    await tmuxH.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
  }, 60_000);

  it('createInstance, status, deleteInstance', async () => {
    const port = await freePort();
    const project = openProject({ dir: root });
    const created = await createInstance(project, { name: 'svc', port, env: { GREETING: 'hi there' }, secrets: { TOKEN: 't0k' }, updatedBy: 'api@test' });
    expect(created).toMatchObject({ name: 'svc', file: 'desired/svc.yaml', version: 'v1.1.0', port, runtime: 'tmux', url: `http://localhost:${port}`, secrets: ['TOKEN'] });
    expect(created.reconcile?.exitCode).toBe(0);
    expect((await httpGet(`http://127.0.0.1:${port}/env/GREETING`)).body).toBe('hi there');
    expect((await httpGet(`http://127.0.0.1:${port}/env/TOKEN`)).body).toBe('t0k');
    expect(readFileSync(join(root, 'desired', 'svc.yaml'), 'utf8')).not.toContain('t0k');
    expect(statSync(join(root, 'instances', 'svc', '.env')).mode & 0o777).toBe(0o600);
    const rows = await status(openProject({ dir: root }).desired, project.paths);
    expect(rows.find((r) => r.name === 'svc')).toMatchObject({ phase: 'Ready', observedVersion: 'v1.1.0', port });
    const deleted = await deleteInstance(openProject({ dir: root }), { name: 'svc' });
    expect(deleted.deleted).toEqual([`tmux session ${app}-svc`]);
    expect(await leftovers(root, app, 'svc')).toEqual([]);
  }, 120_000);
});

const systemdGate = await backendGate('systemd');
describe.skipIf(systemdGate.skip)('tend create / delete on systemd (user manager)', () => {
  const app = `cs${process.pid}${randomBytes(2).toString('hex')}`;
  let root: string;

  beforeAll(async () => {
    systemdGate.check();
    await buildOnce();
    root = await makeRoot(systemdH, app);
  }, 120_000);

  afterAll(async () => {
    await systemdH.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
  }, 60_000);

  it('creates a running, enabled unit; delete removes unit file, instance dir and desired file', async () => {
    const port = await freePort();
    const unit = join(unitDirOf('user'), `${app}-web.service`);
    const r = await tend(['-C', root, 'create', 'web', '--port', String(port)], { stdin: 'ignore' });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Instance web running on http://localhost:${port} (v1.1.0)`);
    expect(existsSync(unit)).toBe(true);
    const active = await userctl(['is-active', `${app}-web.service`]);
    expect(active.stdout.trim()).toBe('active');
    expect((await httpGet(`http://127.0.0.1:${port}/version`)).body.trim()).toBe('v1.1.0');

    const d = await tend(['-C', root, 'delete', 'web', '--force'], { stdin: 'ignore' });
    expect(d.code).toBe(0);
    expect(d.stdout).toContain(`deleted systemd unit ${app}-web.service`);
    expect(existsSync(unit)).toBe(false);
    expect(existsSync(join(root, 'instances', 'web'))).toBe(false);
    expect(existsSync(join(root, 'desired', 'web.yaml'))).toBe(false);
    const load = await userctl(['show', '-p', 'LoadState', '--value', `${app}-web.service`]);
    expect(load.stdout.trim()).toBe('not-found');
  }, 120_000);
});

const dockerGate = await backendGate('docker');
describe.skipIf(dockerGate.skip)('tend create / delete on Docker (real Engine)', () => {
  const app = `cd${process.pid}${randomBytes(2).toString('hex')}`;
  let root: string;
  const run = (args: string[]) => tend(['-C', root, ...args], { stdin: 'ignore' });
  /** tend's containers of instance `name` (by label), and one named <app>-<name> whoever owns it. */
  const containers = async (name: string) => {
    const docker = engine();
    const labelled = await docker.listContainers({ all: true, filters: { label: [`tend.app=${app}`, `tend.instance=${name}`] } });
    const named = await docker.getContainer(`${app}-${name}`).inspect().catch(() => undefined);
    return { labelled, named };
  };
  const imageExists = (ref: string) => engine().getImage(ref).inspect().then(() => true, () => false);

  beforeAll(async () => {
    dockerGate.check();
    await buildOnce();
    root = await makeRoot(dockerH, app);
  }, 180_000);

  afterAll(async () => {
    await dockerH.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
    await dockerH.removeImage!(`${app}-img:build`);
  }, 120_000);

  it('with all defaults (runtime docker from tend.yaml defaults): a healthy container on the first free port from 8081; delete removes container, instance dir and desired file, the image stays', async () => {
    const before = await busyPorts();
    const r = await run(['create', 'web']);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const file = readFileSync(join(root, 'desired', 'web.yaml'), 'utf8');
    const expected = portIn(file);
    expect(firstFreeProblems(expected, new Set(), before, await busyPorts())).toEqual([]);
    expect(r.stdout).toContain(`Instance web running on http://localhost:${expected} (v1.1.0)\n`);
    expect(r.stdout).toContain(`desired/web.yaml: version v1.1.0, port ${expected}, runtime docker`);
    expect(file).toContain('version: v1.1.0\n');
    expect(file).not.toMatch(/^runtime:/m);
    const { labelled, named } = await containers('web');
    expect(labelled).toHaveLength(1);
    expect(named?.State.Running).toBe(true);
    expect(named?.Config.Labels).toMatchObject({ 'tend.app': app, 'tend.instance': 'web', 'tend.version': 'v1.1.0' });
    expect((await httpGet(`http://127.0.0.1:${expected}/version`)).body.trim()).toBe('v1.1.0');
    expect(statusOf(root, 'web')).toMatchObject({ phase: 'Ready', observedVersion: 'v1.1.0', port: expected });
    expect(await imageExists(`${app}:v1.1.0`)).toBe(true);

    const d = await run(['delete', 'web', '--yes']);
    expect(d.stderr).not.toMatch(/error/);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain(`deleted container ${app}-web\n`);
    expect(d.stdout).toContain('removed instances/web/\n');
    expect(d.stdout).toContain('removed desired/web.yaml\n');
    const after = await containers('web');
    expect(after.labelled).toEqual([]);
    expect(after.named).toBeUndefined();
    expect(existsSync(join(root, 'instances', 'web'))).toBe(false);
    expect(existsSync(join(root, 'desired', 'web.yaml'))).toBe(false);
    await expect(httpGet(`http://127.0.0.1:${expected}/health`, 500)).rejects.toThrow();
    // Images are never removed (README, Docker containers): a later create or a rollback needs no load.
    expect(await imageExists(`${app}:v1.1.0`)).toBe(true);
  }, 240_000);

  it('a first start that fails its health check leaves no container, instance dir or desired file', async () => {
    const port = await freePort();
    const r = await run(['create', 'sick', '--version', 'broken', '--port', String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: sick did not start: .*; nothing was left behind/);
    const left = await containers('sick');
    expect(left.labelled).toEqual([]);
    expect(left.named).toBeUndefined();
    expect(existsSync(join(root, 'instances', 'sick'))).toBe(false);
    expect(readdirSync(join(root, 'desired'))).toEqual([]);
  }, 240_000);
});
