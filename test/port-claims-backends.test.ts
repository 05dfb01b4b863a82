// Issue 14, point 2, on the real backends (tmux, systemd, Docker) through the real CLI and agent: `web` runs on
// a port; a new desired file `api.yaml` wants the same port. The newcomer is the invalid file (`tend validate`,
// `tend reconcile`, `tend status` and the agent name desired/api.yaml and the instance that holds the port);
// `web` stays valid and keeps converging: its updates still apply (by `tend reconcile`, then by the agent).
// Nothing is created for api. Every wait is on an observable condition.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFile, TendConfig } from '../src/model/types.js';
import { loadConfig, type RootPaths } from '../src/spec/config.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';
import { freePort, httpGet } from './fixtures/app.js';
import { startAgent, until, type AgentProc } from './helpers/agent-proc.js';
import { backendGate, systemdUserEnv } from './helpers/backends.js';
import { buildOnce, CLI, REPO } from './helpers/cli.js';
import { engine, removeImages } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

interface StatusRow {
  name: string;
  phase: string;
  observedVersion: string | null;
  message: string | null;
}

for (const runtime of ['tmux', 'systemd', 'docker'] as const) {
  const h = harnesses.find((x) => x.runtime === runtime)!;
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`a new file on a running instance's port is the invalid one (${h.title})`, () => {
    const app = `pc${runtime.slice(0, 3)}c23${randomBytes(3).toString('hex')}`;
    let root: string;
    let paths: RootPaths;
    let config: TendConfig;
    let port: number;
    let agent: AgentProc | undefined;
    const cleanups: (() => Promise<void>)[] = [];

    const desire = (name: string, version: string, blank = false) => writeFileSync(join(root, 'desired', `${name}.yaml`), [
      `version: ${version}`, `runtime: ${runtime}`, ...(blank ? [''] : []), `port: ${port}`,
      'health:', '  http: /health', '  timeout: 30s', '  interval: 200ms', ...(h.instanceExtra ? [h.instanceExtra] : []), '',
    ].join('\n'));
    const tend = async (args: string[]) => {
      const r = await execa('node', [CLI, '-C', root, ...args], { cwd: REPO, reject: false, stdin: 'ignore', env: { TEND_FAULT: '' }, timeout: 180_000 });
      return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const serves = async () => (await httpGet(`http://127.0.0.1:${port}/version`)).body.trim();
    const statusOf = (name: string) => JSON.parse(readFileSync(join(paths.instances, name, 'status.json'), 'utf8')) as StatusFile;
    const rows = async () => {
      const r = await tend(['status', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return Object.fromEntries((JSON.parse(r.stdout) as { instances: StatusRow[] }).instances.map((i) => [i.name, i]));
    };
    /** Whatever the backend has for api: a unit file, a tmux session, a container. */
    const apiExists = async (): Promise<boolean> => {
      switch (runtime) {
        case 'tmux': return (await execa('tmux', ['-L', app, 'has-session', '-t', `=${app}-api`], { reject: false, stdin: 'ignore' })).exitCode === 0;
        case 'systemd': return (await execa('systemctl', ['--user', 'cat', `${app}-api.service`], { reject: false, stdin: 'ignore', env: systemdUserEnv() })).exitCode === 0;
        case 'docker': return (await engine().getContainer(`${app}-api`).inspect().then(() => true, () => false));
      }
    };
    // Line 4 (a blank line before `port:`): the diagnostic points at api.yaml's own port line.
    const heldText = () => `desired/api.yaml:4:7: error: port ${port} is held by instance web (desired/web.yaml): it runs there; choose another port for api`;

    /** `until`, with the agent's log lines and its row of `name` in the error when it times out. */
    const agentUntil = async <T>(what: string, fn: () => Promise<T | undefined | false>, ms: number, name: string) => {
      try {
        return await until(what, fn, ms);
      } catch (err) {
        const row = await agent?.row(name).catch(() => undefined);
        throw new Error(`${(err as Error).message}\nrow ${name}: ${JSON.stringify(row)}\nagent log:\n${agent?.lines.map((l) => JSON.stringify(l)).join('\n')}`);
      }
    };

    beforeAll(async () => {
      gate.check();
      root = scratch(`port-claims-${runtime}`);
      const [{ image }] = await Promise.all([fixtureRoot(h, root, app, {
        ...(runtime === 'tmux' ? { runtimeYaml: `tmux:\n  socket: ${app}\ndocker:\n  discovery:\n    enabled: false` } : {}),
      }), buildOnce()]);
      if (image) cleanups.push(() => removeImages(engine(), [image]));
      const loaded = loadConfig({ cwd: root, dir: root, env: {} });
      paths = loaded.paths;
      config = loaded.config!;
      cleanups.push(runtime === 'tmux' ? async () => {
        await execa('tmux', ['-L', app, 'kill-server'], { reject: false, stdin: 'ignore' });
        const socket = join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, app);
        rmSync(socket, { force: true });
        if (existsSync(socket)) throw new Error(`could not remove ${socket}`);
      } : () => h.cleanup(app, config));
      port = await freePort();
      desire('web', 'v1.0.0');
      const r = await tend(['reconcile']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(await serves()).toBe('v1.0.0');
    }, 240_000);

    afterAll(async () => {
      const errors: unknown[] = [];
      if (agent) await agent.stop().catch((e: unknown) => errors.push(e));
      for (const c of cleanups.reverse()) await c().catch((e: unknown) => errors.push(e));
      if (errors.length > 0) throw new AggregateError(errors, `clean-up of ${app} failed`);
    }, 120_000);

    it('tend validate and tend reconcile name the newcomer; web stays valid and its update applies', async () => {
      desire('api', 'v1.0.0', true);
      const v = await tend(['validate']);
      expect(v.code, v.stdout + v.stderr).toBe(1);
      expect(v.stdout).toContain(heldText());
      expect(v.stdout).not.toContain('desired/web.yaml:');
      expect(v.stdout).toContain('1 of 2 desired files valid; 1 error');
      const vj = JSON.parse((await tend(['validate', '--json'])).stdout) as { instances: { name: string; status: string }[] };
      expect(Object.fromEntries(vj.instances.map((i) => [i.name, i.status]))).toEqual({ api: 'invalid', web: 'valid' });

      // web's update applies while api.yaml is there; api gets nothing.
      desire('web', 'v1.1.0');
      const r = await tend(['reconcile']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
      expect(r.stdout + r.stderr).toContain(heldText());
      expect(await serves()).toBe('v1.1.0');
      expect(statusOf('web')).toMatchObject({ phase: 'Ready', observedVersion: 'v1.1.0' });
      const st = await rows();
      expect(st.web).toMatchObject({ phase: 'Ready', observedVersion: 'v1.1.0' });
      expect(st.api).toMatchObject({ phase: 'InvalidSpec' });
      expect(st.api!.message).toContain(`port ${port} is held by instance web`);
      expect(await apiExists()).toBe(false);
    }, 240_000);

    it('the agent reports the newcomer when its file appears and keeps applying web\'s updates', async () => {
      rmSync(join(root, 'desired', 'api.yaml'), { force: true });
      agent = await startAgent(root, { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/run/user/0', TEND_FAULT: '' });
      await agentUntil('the agent\'s first resync', async () => agent!.lines.some((l) => /^resync \(start\)/.test(l.msg)), 120_000, 'web');
      desire('api', 'v1.0.0', true);
      await agentUntil('the agent reporting api as failed, naming its port line', async () => {
        const row = await agent!.row('api');
        return row?.lastReconcile?.result === 'failed' && (row.lastReconcile.message ?? '').includes('desired/api.yaml')
          && row.phase === 'InvalidSpec' && row.message === heldText();
      }, 120_000, 'api');
      expect((await agent.row('web'))?.phase).toBe('Ready');
      // The other good fixture version (v2.0.0 fails its health check on purpose).
      const target = (await serves()) === 'v1.0.0' ? 'v1.1.0' : 'v1.0.0';
      const mark = agent.lines.length;
      desire('web', target);
      await agentUntil(`web serving ${target} (updated by the agent)`, async () => (await serves()) === target, 180_000, 'web');
      await agentUntil(`web Ready on ${target} in the agent`, async () => {
        const row = await agent!.row('web');
        return row?.phase === 'Ready' && row.observedVersion === target;
      }, 120_000, 'web');
      const webDone = agent.since(mark).find((l) => l.instance === 'web' && /^web: reconcile /.test(l.msg));
      // ok, and what it did (the agent's reconcile line names the change: `web: reconcile ok: update (version ...)`).
      expect(webDone?.msg).toMatch(/^web: reconcile ok: update \(version v\d\.\d\.\d -> v\d\.\d\.\d/);
      expect(webDone?.result).toBe('ok');
      // The newcomer's failure is in the agent's own log, naming its file; its status row says why.
      const apiLine = agent.lines.find((l) => l.instance === 'api' && /^api: reconcile failed/.test(l.msg));
      expect(apiLine?.msg).toContain('desired/api.yaml');
      expect(await agent.row('api')).toMatchObject({ phase: 'InvalidSpec', message: heldText() });
      expect(await apiExists()).toBe(false);
      const stopped = await agent.stop();
      agent = undefined;
      expect(stopped.code).toBe(0);
    }, 360_000);
  });
}
