// tend start / stop / restart / update end to end with the built CLI on real backends (the fixture
// app: v1.0.0 and v1.1.0 healthy). tmux gets every case; systemd and Docker one round each of
// stop -> start -> restart -> update. Each backend runs in a root of its own with a unique app name.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFile } from '../src/model/types.js';
import { timestampToIso } from '../src/drivers/systemd/observe.js';
import { backendGate, systemdUserEnv } from './helpers/backends.js';
import { buildOnce, REPO, tend } from './helpers/cli.js';
import { engine } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses, type Harness } from './drivers/contract-backends.js';

const scratch = useScratch();
const tmuxSocket = () => /socket: (\S+)/.exec(harnesses.find((x) => x.runtime === 'tmux')!.configYaml('x'))![1]!;

/** The pid of the instance's process as the backend itself reports it (undefined when none runs). */
async function pidOf(h: Harness, app: string, name: string): Promise<number | undefined> {
  const target = `${app}-${name}`;
  if (h.runtime === 'tmux') {
    const r = await execa('tmux', ['-L', tmuxSocket(), 'list-panes', '-t', `=${target}:`, '-F', '#{pane_dead} #{pane_pid}'], { reject: false });
    const [dead, pid] = r.stdout.trim().split(' ');
    return r.exitCode === 0 && dead === '0' ? Number(pid) : undefined;
  }
  if (h.runtime === 'systemd') {
    const r = await execa('systemctl', ['--user', 'show', '-p', 'MainPID', '--value', `${target}.service`], { reject: false, env: systemdUserEnv() });
    const pid = Number(r.stdout.trim());
    return pid > 0 ? pid : undefined;
  }
  const info = await engine().getContainer(target).inspect().catch(() => undefined);
  return info?.State.Running ? info.State.Pid : undefined;
}

for (const h of harnesses.filter((x) => x.runtime !== 'launchd')) {
  const gate = await backendGate(h.gate);
  const full = h.runtime === 'tmux';
  describe.skipIf(gate.skip)(`tend start/stop/restart/update on ${h.title}`, () => {
    const app = `lc${h.runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let port: number;
    const cleanups: (() => Promise<void>)[] = [];
    const file = (name = 'web') => join(root, 'desired', `${name}.yaml`);
    const status = (name = 'web'): StatusFile => JSON.parse(readFileSync(join(root, 'instances', name, 'status.json'), 'utf8')) as StatusFile;
    const version = async (p = port) => (await httpGet(`http://127.0.0.1:${p}/version`)).body.trim();
    const run = (args: string[]) => tend(['-C', root, ...args]);
    const dryRunExit = async () => (await run(['reconcile', '--dry-run', '--detailed-exitcode'])).code;
    const desire = (name: string, p: number, v: string) => writeFileSync(file(name), [
      '# the web instance (this comment must survive edits)', `version: ${v}  # pinned`, `runtime: ${h.runtime}`, `port: ${p}`,
      'health:', '  http: /health', '  timeout: 10s', '  interval: 250ms', h.instanceExtra ?? '', '',
    ].join('\n'));

    beforeAll(async () => {
      gate.check();
      await buildOnce();
      root = scratch(`lifecycle-${h.runtime}`);
      const { image } = await fixtureRoot(h, root, app);
      if (image) cleanups.push(() => h.removeImage?.(image) ?? Promise.resolve());
      cleanups.push(async () => {
        const { loadConfig } = await import('../src/spec/config.js');
        await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
      });
      port = await freePort();
      desire('web', port, 'v1.0.0');
      const r = await run(['reconcile']);
      expect(r.code, r.stderr).toBe(0);
      expect(await version()).toBe('v1.0.0');
    }, 180_000);

    afterAll(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }, 120_000);

    it('tend stop web: state: stopped in the file (comments kept), nothing answers, phase Stopped; a second reconcile has nothing to do', async () => {
      const r = await run(['stop', 'web']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('desired/web.yaml: state running -> stopped');
      const text = readFileSync(file(), 'utf8');
      expect(text).toMatch(/^state: stopped$/m);
      expect(text).toContain('# the web instance (this comment must survive edits)');
      expect(text).toContain('version: v1.0.0 # pinned');
      expect(status().phase).toBe('Stopped');
      expect(await pidOf(h, app, 'web')).toBeUndefined();
      await expect(httpGet(`http://127.0.0.1:${port}/health`, 500)).rejects.toThrow();
      expect(await dryRunExit()).toBe(0);
    }, 120_000);

    it('tend start web: state: running in the file, healthy again, Ready', async () => {
      const r = await run(['start', 'web']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('desired/web.yaml: state stopped -> running');
      expect(readFileSync(file(), 'utf8')).toMatch(/^state: running$/m);
      expect(status()).toMatchObject({ phase: 'Ready', observedVersion: 'v1.0.0' });
      expect(await version()).toBe('v1.0.0');
      expect(await pidOf(h, app, 'web')).toBeGreaterThan(0);
    }, 120_000);

    it('tend restart web: a new process (pid changes), requests.json records the request, the file is untouched, a second reconcile is a no-op', async () => {
      const before = await pidOf(h, app, 'web');
      const fileBefore = readFileSync(file(), 'utf8');
      const r = await run(['restart', 'web']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^web: restart requested at \d{4}-\d\d-\d\dT[\d:.]+Z$/m);
      const requested = (JSON.parse(readFileSync(join(root, 'instances', 'web', 'requests.json'), 'utf8')) as { restartRequestedAt: string }).restartRequestedAt;
      expect(r.stdout).toContain(requested);
      const after = await pidOf(h, app, 'web');
      expect(after).toBeGreaterThan(0);
      expect(after).not.toBe(before);
      expect(readFileSync(file(), 'utf8')).toBe(fileBefore);
      expect(await version()).toBe('v1.0.0');
      expect(await dryRunExit()).toBe(0);
      const again = await run(['reconcile']);
      expect(again.code, again.stderr).toBe(0);
      expect(await pidOf(h, app, 'web')).toBe(after);
    }, 120_000);

    it('tend update web --version v1.1.0: healthy on v1.1.0, the file says so; tend --version is still tend\'s', async () => {
      const r = await run(['update', 'web', '--version', 'v1.1.0']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('desired/web.yaml: version v1.0.0 -> v1.1.0');
      expect(readFileSync(file(), 'utf8')).toContain('version: v1.1.0 # pinned');
      expect(await version()).toBe('v1.1.0');
      expect(status()).toMatchObject({ phase: 'Ready', observedVersion: 'v1.1.0' });
      const own = await tend(['--version']);
      expect(own.stdout).toBe(`${(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    }, 180_000);

    if (!full) return;

    it('a restart request survives: written while no tend runs, a plain tend reconcile in a new process restarts it', async () => {
      const before = await pidOf(h, app, 'web');
      const at = new Date().toISOString();
      writeFileSync(join(root, 'instances', 'web', 'requests.json'), JSON.stringify({ restartRequestedAt: at }));
      const plan = await run(['reconcile', '--dry-run']);
      expect(plan.stdout).toContain(`restart requested at ${at}`);
      const r = await run(['reconcile']);
      expect(r.code, r.stderr).toBe(0);
      const after = await pidOf(h, app, 'web');
      expect(after).toBeGreaterThan(0);
      expect(after).not.toBe(before);
      expect(await dryRunExit()).toBe(0);
    }, 120_000);

    it('tend update --version v9.9.9 (no such tag): Git tag v9.9.9 not found, exit 1, the file untouched', async () => {
      const fileBefore = readFileSync(file(), 'utf8');
      const r = await run(['update', 'web', '--version', 'v9.9.9']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Git tag v9.9.9 not found');
      expect(readFileSync(file(), 'utf8')).toBe(fileBefore);
      const all = await run(['update', '--all', '--version', 'v9.9.9']);
      expect(all.code).toBe(1);
      expect(all.stderr).toContain('Git tag v9.9.9 not found');
      expect(readFileSync(file(), 'utf8')).toBe(fileBefore);
    }, 60_000);

    it('tend update --all --version v1.0.0: every instance goes to v1.0.0', async () => {
      const apiPort = await freePort();
      desire('api', apiPort, 'v1.1.0');
      expect((await run(['reconcile'])).code).toBe(0);
      expect(await version(apiPort)).toBe('v1.1.0');
      const r = await run(['update', '--all', '--version', 'v1.0.0']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('desired/api.yaml: version v1.1.0 -> v1.0.0');
      expect(r.stdout).toContain('desired/web.yaml: version v1.1.0 -> v1.0.0');
      expect(await version()).toBe('v1.0.0');
      expect(await version(apiPort)).toBe('v1.0.0');
      expect(status('api').observedVersion).toBe('v1.0.0');
      expect(await dryRunExit()).toBe(0);
    }, 240_000);

    it('update to v2.0.0 (fails its health check): rolled back to v1.0.0 and held, exit 3', async () => {
      const r = await run(['update', 'web', '--version', 'v2.0.0']);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain('held or rolled back: web');
      expect(await version()).toBe('v1.0.0');
      expect(status()).toMatchObject({ phase: 'RolledBack', observedVersion: 'v1.0.0' });
      const back = await run(['update', 'web', '--version', 'v1.0.0']);
      expect(back.code, back.stderr).toBe(0);
      expect(status().phase).toBe('Ready');
    }, 180_000);

    it('--no-apply only edits; an unknown instance is an error; restart of a stopped instance restarts nothing', async () => {
      const pid = await pidOf(h, app, 'api');
      const r = await run(['stop', 'api', '--no-apply']);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(file('api'), 'utf8')).toMatch(/^state: stopped$/m);
      expect(await pidOf(h, app, 'api')).toBe(pid);
      expect((await run(['reconcile'])).code).toBe(0);
      expect(await pidOf(h, app, 'api')).toBeUndefined();
      const restart = await run(['restart', 'api']);
      expect(restart.code, restart.stderr).toBe(0);
      expect(restart.stdout).toContain('api is stopped (state: stopped): nothing to restart');
      expect(await pidOf(h, app, 'api')).toBeUndefined();
      const missing = await run(['start', 'nope']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no instance nope in desired/');
    }, 120_000);

    it('agent.git.pull on: start/stop/update refuse (file untouched) unless --local; restart is allowed', async () => {
      const config = join(root, 'tend.yaml');
      const original = readFileSync(config, 'utf8');
      writeFileSync(config, `${original}\nagent:\n  git:\n    pull: true\n`);
      try {
        const fileBefore = readFileSync(file('api'), 'utf8');
        for (const args of [['start', 'api'], ['update', 'api', '--version', 'v1.1.0']]) {
          const r = await run(args);
          expect(r.code).toBe(1);
          expect(r.stderr).toContain('agent.git.pull is on');
          expect(r.stderr).toContain('--local');
          expect(readFileSync(file('api'), 'utf8')).toBe(fileBefore);
        }
        const local = await run(['start', 'api', '--local', '--no-apply']);
        expect(local.code, local.stderr).toBe(0);
        expect(readFileSync(file('api'), 'utf8')).toMatch(/^state: running$/m);
        expect((await run(['restart', 'api', '--no-apply'])).code).toBe(0);
      } finally {
        writeFileSync(config, original);
      }
    }, 60_000);

    it('in a git repository the edit comes with a hint to commit it', async () => {
      await execa('git', ['init', '-q', root]);
      const r = await run(['stop', 'api', '--no-apply']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('desired/api.yaml is in a git repository: commit the change');
      expect(r.stdout).toContain('git commit desired/api.yaml');
    }, 60_000);
  });
}

describe('options never collide with tend\'s own --version', () => {
  it('tend --version and tend -V print the package version; update without --version is a usage error; -C works after the subcommand', async () => {
    await buildOnce();
    const pkg = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    expect((await tend(['--version'])).stdout).toBe(`${pkg}\n`);
    expect((await tend(['-V'])).stdout).toBe(`${pkg}\n`);
    const noVersion = await tend(['update', 'web']);
    expect(noVersion.code).toBe(1);
    expect(noVersion.stderr).toContain("required option '--version <version>' not specified");
    const dir = scratch('lifecycle-opts');
    const after = await tend(['update', 'web', '--version', 'v1.0.0', '-C', dir]);
    expect(after.code).toBe(1);
    expect(after.stdout).not.toContain(pkg);
    expect(after.stderr).toContain(dir);
  }, 120_000);
});

describe('start times precise enough for restart requests', () => {
  it('systemd timestamps are read to the millisecond (--timestamp=us+utc), the old @epoch form still parses, unset is undefined', () => {
    expect(timestampToIso('Sat 2026-11-21 21:53:25.552865 UTC')).toBe('2026-11-21T21:53:25.552Z');
    expect(timestampToIso('Sat 2026-11-21 21:53:25 UTC')).toBe('2026-11-21T21:53:25.000Z');
    expect(timestampToIso('@1795298005')).toBe('2026-11-21T21:53:25.000Z');
    expect(timestampToIso('')).toBeUndefined();
    expect(timestampToIso('@0')).toBeUndefined();
    expect(timestampToIso(undefined)).toBeUndefined();
  });
});
