// A root laid out by the previous tend (issue 13): the container mounted the whole instance directory,
// the hardened unit could write all of it, no data/ or projects/. One reconcile converges it: the
// container and the unit are made again once (the migration), tmux is left running, and no history
// line or secret is lost. The old state is made by hand from what this tend made (the same labels,
// keys and hash, with the old mount, ReadWritePaths= and no layout mark).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unitDirOf } from '../../src/drivers/systemd/unit.js';
import { backendGate, systemdUserEnv } from '../helpers/backends.js';
import { buildOnce, tend } from '../helpers/cli.js';
import { engine } from '../helpers/docker.js';
import { useScratch } from '../helpers/scratch.js';
import { freePort, httpGet } from '../fixtures/app.js';
import { fixtureRoot, harnesses, type Harness } from '../drivers/contract-backends.js';

const scratch = useScratch();
const userctl = (args: string[]) => execa('systemctl', ['--user', ...args], { reject: false, env: systemdUserEnv() });

/** What identifies the running process: the container id, the unit's MainPID, the pane's pid. */
async function processOf(h: Harness, target: string): Promise<string> {
  if (h.runtime === 'docker') return (await engine().getContainer(target).inspect()).Id;
  if (h.runtime === 'systemd') return (await userctl(['show', '-p', 'MainPID', '--value', `${target}.service`])).stdout.trim();
  const socket = /socket: (\S+)/.exec(h.configYaml('x'))![1]!;
  return (await execa('tmux', ['-L', socket, 'list-panes', '-t', `=${target}:`, '-F', '#{pane_pid}'])).stdout.trim();
}

/** Turns what this tend made into what the previous one made. */
async function makeOld(h: Harness, target: string, instanceDir: string): Promise<void> {
  if (h.runtime === 'docker') {
    const docker = engine();
    const c = docker.getContainer(target);
    const info = await c.inspect();
    const labels = { ...info.Config.Labels };
    delete labels['tend.layout'];
    labels['tend.config'] = 'digest-of-the-old-create-request';
    await c.remove({ force: true });
    const old = await docker.createContainer({
      name: target, Image: info.Config.Image, Cmd: info.Config.Cmd, Env: info.Config.Env, ExposedPorts: info.Config.ExposedPorts, Labels: labels,
      HostConfig: { PortBindings: info.HostConfig.PortBindings, Binds: [`${instanceDir}:/instance`], RestartPolicy: { Name: 'unless-stopped' } },
    });
    await old.start();
  } else if (h.runtime === 'systemd') {
    const file = join(unitDirOf('user'), `${target}.service`);
    const text = readFileSync(file, 'utf8').replace(/^X-Tend-Layout=.*\n/m, '').replace(/^ReadWritePaths=.*$/m, `ReadWritePaths="${instanceDir}"`);
    writeFileSync(file, text);
    await userctl(['daemon-reload']);
    await userctl(['restart', `${target}.service`]);
  }
  for (const d of ['data', 'projects']) rmSync(join(instanceDir, d), { recursive: true, force: true });
  writeFileSync(join(instanceDir, 'config.yaml'), 'motd: hello\n');
}

for (const h of harnesses.filter((x) => x.runtime !== 'launchd')) {
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`a root made by the previous tend converges: ${h.title}`, () => {
    const app = `mig${h.runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    const target = `${app}-web`;
    let root: string;
    let port: number;
    const cleanups: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      gate.check();
      await buildOnce();
      root = scratch(`sec-migrate-${h.runtime}`);
      const { image } = await fixtureRoot(h, root, app);
      if (image) cleanups.push(() => h.removeImage!(image));
      cleanups.push(async () => {
        const { loadConfig } = await import('../../src/spec/config.js');
        await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
      });
      port = await freePort();
    }, 240_000);

    afterAll(async () => {
      for (const c of cleanups.reverse()) await c();
    }, 120_000);

    it('one reconcile: made again only where the layout changed, history and .env kept, then nothing to do', async () => {
      const dir = join(root, 'instances', 'web');
      writeFileSync(join(root, 'desired', 'web.yaml'), [
        'version: v1.0.0', `runtime: ${h.runtime}`, `port: ${port}`, 'secrets: [API_TOKEN]', 'config:', '  motd: hello',
        'health:', '  http: /health', '  timeout: 20s', '  interval: 250ms', h.instanceExtra ?? '', '',
      ].join('\n'));
      expect((await tend(['-C', root, 'secret', 'set', 'web', 'API_TOKEN', '-', '--no-apply'], { input: 'kept-secret-9876\n' })).code).toBe(0);
      let r = await tend(['-C', root, 'reconcile']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      r = await tend(['-C', root, 'update', 'web', '--version', 'v1.1.0']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      await makeOld(h, target, dir);
      const history = readFileSync(join(dir, '.version-history'), 'utf8');
      const env = readFileSync(join(dir, '.env'), 'utf8');
      expect(history.trim().split('\n')).toHaveLength(2);
      const before = await processOf(h, target);

      r = await tend(['-C', root, 'reconcile']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const after = await processOf(h, target);
      if (h.runtime === 'tmux') expect(after, 'tmux needs no migration: the process keeps running').toBe(before);
      else expect(after, `${h.runtime}: made again for the new layout`).not.toBe(before);
      expect(readFileSync(join(dir, '.version-history'), 'utf8').startsWith(history), 'a history line was lost').toBe(true);
      expect(readFileSync(join(dir, '.env'), 'utf8')).toBe(env);
      expect((await httpGet(`http://127.0.0.1:${port}/env/API_TOKEN`)).body).toBe('kept-secret-9876');
      expect((await httpGet(`http://127.0.0.1:${port}/version`)).body.trim()).toBe('v1.1.0');
      if (h.runtime !== 'tmux') {
        for (const d of ['data', 'projects']) expect(existsSync(join(dir, d))).toBe(true);
        expect(readFileSync(join(dir, 'config.yaml'), 'utf8')).toMatch(/^motd: hello$/m);
      }
      if (h.runtime === 'docker') {
        const info = await engine().getContainer(target).inspect();
        expect(info.Config.Labels['tend.layout']).toBe('2');
        expect(info.HostConfig.Binds).toEqual([`${dir}/data:/instance/data`, `${dir}/projects:/instance/projects`, `${dir}/config.yaml:/instance/config.yaml:ro`]);
      }
      if (h.runtime === 'systemd') {
        const unit = readFileSync(join(unitDirOf('user'), `${target}.service`), 'utf8');
        expect(unit).toContain(`ReadWritePaths="${dir}/data" "${dir}/projects"`);
      }
      // Converged: a second reconcile leaves the process alone and a dry run has nothing to do.
      r = await tend(['-C', root, 'reconcile']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(await processOf(h, target)).toBe(after);
      expect((await tend(['-C', root, 'reconcile', '--dry-run', '--detailed-exitcode'])).code).toBe(0);
    }, 300_000);
  });
}
