// Issue 14, point 3: a release deleted from disk while an instance runs it is rebuilt before that instance is
// started again, on tmux, systemd and Docker (real backends, the real CLI). `rm -rf releases/v1.1.0` (Docker:
// the release's image removed from the Engine too), then the process dies (systemd: killed, its restarts fail
// with status=203/EXEC; tmux: its process killed; Docker: the container stopped outside tend), then
// `tend reconcile` (and, the second time, `tend retry web`): the release is built again, the instance serves
// v1.1.0, status Ready, and the history has no new line (a restart is not an update). On systemd also: after a
// crash loop that systemd gave up on (its start limit), tend's start is not refused. Waits are on conditions.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFile, TendConfig } from '../src/model/types.js';
import { unitDirOf } from '../src/drivers/systemd/unit.js';
import { validateRelease } from '../src/release/validate.js';
import { loadConfig, type RootPaths } from '../src/spec/config.js';
import { readHistory } from '../src/state/history.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';
import { freePort, httpGet } from './fixtures/app.js';
import { until } from './helpers/agent-proc.js';
import { backendGate, systemdUserEnv } from './helpers/backends.js';
import { buildOnce, CLI, REPO } from './helpers/cli.js';
import { engine, removeImages } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

for (const runtime of ['tmux', 'systemd', 'docker'] as const) {
  const h = harnesses.find((x) => x.runtime === runtime)!;
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`a deleted release is rebuilt before the instance starts again (${h.title})`, () => {
    const app = `rb${runtime.slice(0, 3)}c23${randomBytes(3).toString('hex')}`;
    const target = runtime === 'systemd' ? `${app}-web.service` : `${app}-web`;
    let root: string;
    let paths: RootPaths;
    let config: TendConfig;
    let port: number;
    const cleanups: (() => Promise<void>)[] = [];

    const tend = async (args: string[]) => {
      const r = await execa('node', [CLI, '-C', root, ...args], { cwd: REPO, reject: false, stdin: 'ignore', env: { TEND_FAULT: '' }, timeout: 180_000 });
      return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const status = () => JSON.parse(readFileSync(join(paths.instances, 'web', 'status.json'), 'utf8')) as StatusFile;
    const history = () => readHistory(join(paths.instances, 'web', '.version-history')).map((e) => `${e.version} ${e.reason} ${e.outcome}`);
    const release = () => join(paths.releases, 'v1.1.0');
    const serves = async () => (await httpGet(`http://127.0.0.1:${port}/version`)).body.trim();

    /** What the backend says of the process: running, or how it ended. */
    const systemctl = (args: string[]) => execa('systemctl', ['--user', ...args], { reject: false, stdin: 'ignore', env: systemdUserEnv() });
    const tmux = (args: string[]) => execa('tmux', ['-L', app, ...args], { reject: false, stdin: 'ignore' });

    /** systemd stopped restarting the unit (its start limit): failed, the last exit status=203/EXEC. */
    const gaveUp = () => until('systemd giving up on the unit: failed, status=203/EXEC', async () => {
      const p = (await systemctl(['show', '-p', 'ActiveState,ExecMainStatus', target])).stdout;
      return /^ActiveState=failed$/m.test(p) && /^ExecMainStatus=203$/m.test(p);
    }, 60_000);

    /** Deletes releases/v1.1.0 (Docker: and its image, once the container is stopped) and makes the process die. */
    const deleteReleaseAndCrash = async () => {
      const manifest = JSON.parse(readFileSync(join(release(), 'manifest.json'), 'utf8')) as { image?: { id: string } };
      switch (runtime) {
        case 'systemd': {
          rmSync(release(), { recursive: true, force: true });
          const killed = await systemctl(['kill', '--signal=SIGKILL', target]);
          expect(killed.exitCode, killed.stderr).toBe(0);
          // systemd restarts it (Restart=on-failure), and that fails (the executable is gone) until it gives up
          // at its start limit: failed, status=203/EXEC.
          await gaveUp();
          break;
        }
        case 'tmux': {
          rmSync(release(), { recursive: true, force: true });
          const pid = (await tmux(['list-panes', '-t', `=${target}:`, '-F', '#{pane_pid}'])).stdout.trim();
          expect(pid).toMatch(/^\d+$/);
          process.kill(Number(pid), 'SIGKILL');
          await until('the pane dead', async () => (await tmux(['list-panes', '-t', `=${target}:`, '-F', '#{pane_dead}'])).stdout.trim() === '1', 30_000);
          break;
        }
        case 'docker': {
          await engine().getContainer(target).stop({ t: 10 });
          rmSync(release(), { recursive: true, force: true });
          // The release's image (its id, every tag): gone from the Engine as well.
          await engine().getImage(manifest.image!.id).remove({ force: true });
          await expect(engine().getImage(manifest.image!.id).inspect()).rejects.toThrow();
          break;
        }
      }
      expect(existsSync(release())).toBe(false);
      await expect(serves()).rejects.toThrow();
    };

    const expectRebuiltAndServing = async (how: string) => {
      const v = validateRelease(release());
      expect(v, `${how}: releases/v1.1.0 is built again and valid`).toMatchObject({ valid: true });
      if (runtime === 'docker') await engine().getImage(v.manifest!.image!.id).inspect();
      expect(await serves(), how).toBe('v1.1.0');
      expect(status(), how).toMatchObject({ phase: 'Ready', observedVersion: 'v1.1.0', health: { healthy: true } });
      expect(status().held, how).toBeUndefined();
      expect(history(), `${how}: a restart adds no history line`).toEqual(['v1.1.0 create healthy']);
      const again = await tend(['reconcile', '--dry-run', '--detailed-exitcode']);
      expect(again.code, `${how}: nothing left to do\n${again.stdout}${again.stderr}`).toBe(0);
    };

    beforeAll(async () => {
      gate.check();
      root = scratch(`rebuild-${runtime}`);
      const [{ image }] = await Promise.all([fixtureRoot(h, root, app, {
        ...(runtime === 'tmux' ? { runtimeYaml: `tmux:\n  socket: ${app}\ndocker:\n  discovery:\n    enabled: false` } : {}),
        // Restarts 200 ms apart: a crash loop reaches systemd's start limit (5 starts in 10 s) within a second or two.
        ...(runtime === 'systemd' ? { runtimeYaml: 'systemd:\n  scope: user\n  restartSec: 200ms\n  stopTimeout: 10s\ndocker:\n  discovery:\n    enabled: false' } : {}),
      }), buildOnce()]);
      if (image) cleanups.push(() => removeImages(engine(), [image]));
      const loaded = loadConfig({ cwd: root, dir: root, env: {} });
      paths = loaded.paths;
      config = loaded.config!;
      cleanups.push(runtime === 'tmux' ? async () => {
        await tmux(['kill-server']);
        rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, app), { force: true });
      } : () => h.cleanup(app, config));
      port = await freePort();
      writeFileSync(join(root, 'desired', 'web.yaml'), [
        'version: v1.1.0', `runtime: ${runtime}`, `port: ${port}`,
        'health:', '  http: /health', '  timeout: 20s', '  interval: 200ms', ...(h.instanceExtra ? [h.instanceExtra] : []), '',
      ].join('\n'));
      const r = await tend(['reconcile']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(await serves()).toBe('v1.1.0');
    }, 240_000);

    afterAll(async () => {
      const errors: unknown[] = [];
      for (const c of cleanups.reverse()) await c().catch((e: unknown) => errors.push(e));
      if (errors.length > 0) throw new AggregateError(errors, `clean-up of ${app} failed`);
    }, 120_000);

    it('deleted, then the process died: tend reconcile rebuilds v1.1.0 before it starts it', async () => {
      await deleteReleaseAndCrash();
      const dry = await tend(['reconcile', '--dry-run', '--json']);
      const planned = JSON.parse(dry.stdout) as { actions: { type: string; version?: string }[] };
      expect(planned.actions.map((a) => a.type), dry.stderr).toContain('build-release');
      const r = await tend(['reconcile']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      await expectRebuiltAndServing('after tend reconcile');
    }, 240_000);

    it('deleted again, the process died again: tend retry rebuilds it too', async () => {
      await deleteReleaseAndCrash();
      const r = await tend(['retry', 'web']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      await expectRebuiltAndServing('after tend retry');
    }, 240_000);

    if (runtime === 'systemd') it('systemd gave up on a crash loop at its start limit: tend starts the unit again at once', async () => {
      // The executable away (the release stays valid on disk once it is back), the process killed: systemd's
      // restarts fail until it stops trying. Back in place, tend reconcile starts the unit within the start
      // limit's interval: systemd must not refuse that start.
      // An operator's drop-in with a long start-limit interval (systemd's default is 10 s, which a loaded machine
      // can let pass before tend acts): the refusal lasts for the whole test, so the test does not race it.
      const dropIn = join(unitDirOf('user'), `${target}.d`);
      mkdirSync(dropIn, { recursive: true });
      writeFileSync(join(dropIn, 'start-limit.conf'), '[Unit]\nStartLimitIntervalSec=300\nStartLimitBurst=3\n');
      cleanups.push(async () => {
        rmSync(dropIn, { recursive: true, force: true });
        await systemctl(['daemon-reload']);
      });
      expect((await systemctl(['daemon-reload'])).exitCode).toBe(0);
      const bin = join(release(), 'bin', 'oubliette');
      renameSync(bin, `${bin}.away`);
      try {
        const killed = await systemctl(['kill', '--signal=SIGKILL', target]);
        expect(killed.exitCode, killed.stderr).toBe(0);
        await gaveUp();
      } finally {
        renameSync(`${bin}.away`, bin);
      }
      const r = await tend(['reconcile']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(await serves()).toBe('v1.1.0');
      expect(status()).toMatchObject({ phase: 'Ready', observedVersion: 'v1.1.0' });
    }, 240_000);
  });
}
