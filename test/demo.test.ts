// `npm run demo` (examples/demo/demo.mjs) as a newcomer runs it: exit 0, the key lines (three instances
// Ready, api rolled back to v1.1.0 by itself, RolledBack in tend status), and nothing of its app (demo<pid>)
// left afterwards: no unit, tmux server, session or socket, container, image, process or temporary directory.
// It picks systemd here; tmux and Docker are forced with TEND_DEMO_RUNTIME; a machine with no runtime
// (PATH with only node and git) gets exit 1 naming what is missing. A run that leaves something behind
// fails, and the test removes the leftovers itself.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { backendGate, removeUserUnits, systemdUserEnv } from './helpers/backends.js';
import { buildOnce, REPO } from './helpers/cli.js';

const systemd = await backendGate('systemd');
const tmux = await backendGate('tmux');
const docker = await backendGate('docker');
const DEMO = join(REPO, 'examples', 'demo', 'demo.mjs');
const RUN_TIMEOUT = 240_000;
const env: Record<string, string | undefined> = { ...systemdUserEnv(), NO_COLOR: '1' };
const unitDir = () => join(env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config'), 'systemd', 'user');
const tmuxSocket = (name: string) => join(env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, name);

interface Run {
  code: number;
  out: string;
  app: string;
  root: string;
  runtime: string;
}

async function runDemo(cmd: string, args: string[], extra: Record<string, string> = {}): Promise<Run> {
  const r = await execa(cmd, args, { cwd: REPO, env: { ...env, ...extra }, reject: false, all: true, timeout: RUN_TIMEOUT, stdin: 'ignore' });
  const out = String(r.all ?? '');
  const head = /tend demo: app (demo\d+) on (\w+)/.exec(out);
  const root = /Everything lives in (\S+) and is removed/.exec(out);
  return { code: r.exitCode ?? -1, out, app: head?.[1] ?? '', root: root?.[1] ?? '', runtime: head?.[2] ?? '' };
}

const quiet = (cmd: string, args: string[]) => execa(cmd, args, { env, reject: false, stdin: 'ignore', timeout: 30_000 });
const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);

/** Everything of `app` still on this machine (in every runtime that answers) and `root` if it exists. */
async function remains(app: string, root: string): Promise<string[]> {
  const found: string[] = [];
  if (systemd.status.ok) {
    const units = await quiet('systemctl', ['--user', 'list-units', '--all', '--plain', '--no-legend', `${app}-*`]);
    found.push(...lines(String(units.stdout)).map((l) => `unit ${l.split(/\s+/)[0]}`));
    const dirs = [unitDir(), join(unitDir(), 'default.target.wants')];
    for (const d of dirs) if (existsSync(d)) found.push(...readdirSync(d).filter((f) => f.startsWith(`${app}-`)).map((f) => `unit file ${join(d, f)}`));
  }
  if (tmux.status.ok) {
    const sessions = await quiet('tmux', ['-L', app, 'list-sessions', '-F', '#{session_name}']);
    if (sessions.exitCode === 0) found.push(...lines(String(sessions.stdout)).map((s) => `tmux session ${s}`), `tmux server (socket ${app})`);
    if (existsSync(tmuxSocket(app))) found.push(`tmux socket ${tmuxSocket(app)}`);
  }
  if (docker.status.ok) {
    const containers = await quiet('docker', ['ps', '-a', '-q', '--filter', `label=tend.app=${app}`]);
    found.push(...lines(String(containers.stdout)).map((c) => `container ${c}`));
    for (const filter of [`reference=${app}`, `label=tend.demo=${app}`]) {
      const images = await quiet('docker', ['images', '-q', '--filter', filter]);
      found.push(...lines(String(images.stdout)).map((i) => `image ${i}`));
    }
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (root && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(root)) found.push(`process ${pid}`);
    } catch {
      // gone meanwhile
    }
  }
  if (root && existsSync(root)) found.push(`directory ${root}`);
  return found;
}

/** The safety net when the demo failed to clean up: removes what remains() found. */
async function removeRemains(app: string, root: string, found: string[]): Promise<void> {
  const units = [...new Set(found.filter((f) => f.startsWith('unit')).map((f) => f.split('/').pop()!.replace(/^unit /, '')))];
  // Stops them first and throws (keeping the files) when one cannot be stopped.
  if (units.length > 0) await removeUserUnits(unitDir(), `${app}-`);
  if (found.some((f) => f.startsWith('tmux'))) {
    await quiet('tmux', ['-L', app, 'kill-server']);
    rmSync(tmuxSocket(app), { force: true });
  }
  const containers = found.filter((f) => f.startsWith('container ')).map((f) => f.slice('container '.length));
  if (containers.length > 0) await quiet('docker', ['rm', '-f', ...containers]);
  const images = found.filter((f) => f.startsWith('image ')).map((f) => f.slice('image '.length));
  if (images.length > 0) await quiet('docker', ['image', 'rm', '-f', ...images]);
  for (const pid of found.filter((f) => f.startsWith('process ')).map((f) => Number(f.split(' ')[1]))) {
    try {
      process.kill(pid, 'SIGTERM'); // a process the demo started (its command line names the demo's directory)
    } catch {
      // gone meanwhile
    }
  }
  if (root) rmSync(root, { recursive: true, force: true });
}

/** Asserts nothing of the run remains (after cleaning up whatever does, so a failure leaves nothing either). */
async function expectNothingLeft(run: Run): Promise<void> {
  expect(run.app, run.out).toMatch(/^demo\d+$/);
  expect(run.root, run.out).toMatch(/tend-demo-/);
  const found = await remains(run.app, run.root);
  if (found.length > 0) await removeRemains(run.app, run.root, found);
  expect(found, run.out).toEqual([]);
}

function expectKeyLines(run: Run): void {
  const { out } = run;
  for (const line of [
    '✔ tend validate: every file is valid',
    '✔ web is Ready and answers v1.1.0',
    '✔ api is Ready and answers v1.1.0',
    '✔ admin is Ready and answers v1.0.0',
    '✔ api failed its health check and was rolled back to v1.1.0',
    '✔ tend status: api is RolledBack (RolledBack)',
    '✔ api serves v1.1.0 again and is healthy',
    `✔ nothing of ${run.app} is left`,
  ]) expect(out, out).toContain(line);
  expect(out).toMatch(/\$ tend reconcile\n/);
  expect(out).toMatch(/\$ tend status\n/);
  expect(out).toMatch(/rolled back to v1\.1\.0/);
  expect(out).toMatch(/Demo finished in \d+ s/);
  expect(out).not.toContain('✘');
}

describe('npm run demo', () => {
  beforeAll(async () => {
    await buildOnce();
  }, 180_000);

  it.skipIf(systemd.skip)('picks the systemd user manager, rolls api back, exits 0 and leaves nothing', async () => {
    systemd.check();
    const run = await runDemo('npm', ['run', '--silent', 'demo']);
    try {
      expect(run.code, run.out).toBe(0);
      expect(run.runtime).toBe('systemd');
      expectKeyLines(run);
    } finally {
      await expectNothingLeft(run);
    }
  }, RUN_TIMEOUT + 30_000);

  it.skipIf(tmux.skip)('on tmux (TEND_DEMO_RUNTIME=tmux): the same, on its own tmux socket', async () => {
    tmux.check();
    const run = await runDemo('node', [DEMO], { TEND_DEMO_RUNTIME: 'tmux' });
    try {
      expect(run.code, run.out).toBe(0);
      expect(run.runtime).toBe('tmux');
      expectKeyLines(run);
    } finally {
      await expectNothingLeft(run);
    }
  }, RUN_TIMEOUT + 30_000);

  it.skipIf(docker.skip)('on Docker (TEND_DEMO_RUNTIME=docker): containers and images removed too', async () => {
    docker.check();
    const run = await runDemo('node', [DEMO], { TEND_DEMO_RUNTIME: 'docker' });
    try {
      expect(run.code, run.out).toBe(0);
      expect(run.runtime).toBe('docker');
      expectKeyLines(run);
    } finally {
      await expectNothingLeft(run);
    }
  }, RUN_TIMEOUT + 30_000);

  it('with no runtime at all exits 1 and says what is missing, making nothing', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'tend-demo-path-'));
    try {
      const git = (process.env.PATH ?? '').split(':').map((d) => join(d, 'git')).find((f) => existsSync(f));
      symlinkSync(process.execPath, join(bin, 'node'));
      symlinkSync(git!, join(bin, 'git'));
      const run = await runDemo('node', [DEMO], { PATH: bin });
      expect(run.code, run.out).toBe(1);
      expect(run.out).toContain('no runtime to run the instances on');
      expect(run.out).toContain('systemd: systemctl is not installed');
      expect(run.out).toContain('tmux: tmux is not installed');
      expect(run.out).toContain('docker: the docker command is not installed');
      expect(run.out).toMatch(/apt-get is not available to install tmux|not root, so tmux is not installed/);
      expect(run.out).not.toContain('Everything lives in');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
