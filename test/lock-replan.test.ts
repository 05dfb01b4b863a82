// Issue 14, point 4: a process that waited for an instance lock re-observes and re-plans that instance
// before acting, and does nothing when nothing is left to do. Real `tend reconcile` processes and a real
// agent on tmux, systemd and Docker:
// - two `tend reconcile` started together on a new instance (both planned `create` while the test held
//   the instance lock): one `create` history line, one process (the second run starts nothing);
// - the agent updating to v2.0.0 (its /health answers 500) while `tend reconcile` planned against that
//   update and waits: one `auto-rollback` line and one rollback start.
// Every wait is on an observable condition (a log line, the lock holder, a process exit), none on a fixed sleep.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFile, TendConfig } from '../src/model/types.js';
import { loadConfig, type RootPaths } from '../src/spec/config.js';
import { readHistory } from '../src/state/history.js';
import { instanceLockOwner, withInstanceLock } from '../src/state/lock.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';
import { freePort, httpGet } from './fixtures/app.js';
import { startAgent, until, type AgentProc } from './helpers/agent-proc.js';
import { backendGate, userctl } from './helpers/backends.js';
import { buildOnce, CLI, REPO } from './helpers/cli.js';
import { engine, removeImages } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

/** A `tend` process whose stderr can be watched while it runs. */
function spawnTend(root: string, args: string[]) {
  const child = execa('node', [CLI, '-C', root, ...args], { cwd: REPO, reject: false, stdin: 'ignore', buffer: false, env: { TEND_FAULT: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => void (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => void (stderr += b.toString()));
  const done = child.then((r) => ({ code: r.exitCode, stdout, stderr }));
  return { pid: child.pid!, stderr: () => stderr, done };
}

for (const runtime of ['tmux', 'systemd', 'docker'] as const) {
  const h = harnesses.find((x) => x.runtime === runtime)!;
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`a run that waited for the instance lock re-plans (${h.title})`, () => {
    const app = `lk${runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let paths: RootPaths;
    let config: TendConfig;
    let port: number;
    let agent: AgentProc | undefined;
    const cleanups: (() => Promise<void>)[] = [];

    const desire = (version: string) => writeFileSync(join(root, 'desired', 'web.yaml'), [
      `version: ${version}`, `runtime: ${runtime}`, `port: ${port}`,
      'health:', '  http: /health', '  timeout: 10s', '  interval: 200ms', h.instanceExtra ?? '', '',
    ].join('\n'));
    const history = () => readHistory(join(paths.instances, 'web', '.version-history')).map((e) => `${e.version} ${e.reason} ${e.outcome}`);
    const status = () => JSON.parse(readFileSync(join(paths.instances, 'web', 'status.json'), 'utf8')) as StatusFile;
    const target = runtime === 'systemd' ? `${app}-web.service` : `${app}-web`;

    /** Which process runs web, as the runtime itself tells (pane pid, MainPID, container id and start). */
    const identity = async (): Promise<string> => {
      if (runtime === 'tmux') {
        return (await execa('tmux', ['-L', app, 'list-panes', '-t', `=${target}:`, '-F', '#{pane_dead} #{pane_pid}'], { reject: false })).stdout.trim();
      }
      if (runtime === 'systemd') {
        return (await userctl(['show', '-p', 'MainPID', '-p', 'ExecMainStartTimestampMonotonic', target])).stdout.trim();
      }
      const c = await engine().getContainer(target).inspect();
      return `${c.Id} ${c.State.StartedAt} ${c.RestartCount}`;
    };
    /** How many times `version` started, from its own output (the file log; the container's log on Docker). */
    const starts = async (version: string): Promise<number> => {
      const text = runtime === 'docker'
        ? (await engine().getContainer(target).logs({ stdout: true, stderr: true, follow: false })).toString('utf8')
        : readFileSync(join(paths.instances, 'web', 'logs', 'web.log'), 'utf8');
      return text.split('\n').filter((l) => l.includes(`oubliette ${version} listening`)).length;
    };

    beforeAll(async () => {
      gate.check();
      root = scratch(`lock-${runtime}`);
      const [{ image }] = await Promise.all([fixtureRoot(h, root, app, {
        ...(runtime === 'tmux' ? { runtimeYaml: `tmux:\n  socket: ${app}\ndocker:\n  discovery:\n    enabled: false` } : {}),
      }), buildOnce()]);
      if (image) cleanups.push(() => removeImages(engine(), [image]));
      const loaded = loadConfig({ cwd: root, dir: root, env: {} });
      paths = loaded.paths;
      config = loaded.config!;
      cleanups.push(runtime === 'tmux' ? async () => {
        await execa('tmux', ['-L', app, 'kill-server'], { reject: false, stdin: 'ignore' });
        rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, app), { force: true });
      } : () => h.cleanup(app, config));
      port = await freePort();
    }, 120_000);

    afterAll(async () => {
      await agent?.stop('SIGKILL').catch(() => undefined);
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }, 120_000);

    it('two tend reconcile started together on a new instance: one create line, one process', async () => {
      desire('v1.1.0');
      // Hold web's lock so both runs observe and plan `create` before either acts.
      let release!: () => void;
      const held = withInstanceLock(paths, 'web', () => new Promise<void>((r) => { release = r; }), { purpose: 'test: holds web' });
      await until('the test holding web', () => instanceLockOwner(paths, 'web')?.pid === process.pid, 10_000, 20);
      const a = spawnTend(root, ['reconcile']);
      const b = spawnTend(root, ['reconcile']);
      const waiting = `web: waiting for pid ${process.pid} `;
      await until('both runs waiting for the lock', () => a.stderr().includes(waiting) && b.stderr().includes(waiting), 60_000, 50);
      release();
      await held;
      const first = await Promise.race([a.done, b.done]);
      expect(first.code, `${first.stdout}\n${first.stderr}`).toBe(0);
      const after = await identity();
      const [ra, rb] = await Promise.all([a.done, b.done]);
      expect([ra.code, rb.code], `${ra.stdout}\n${ra.stderr}\n---\n${rb.stdout}\n${rb.stderr}`).toEqual([0, 0]);
      expect(history()).toEqual(['v1.1.0 create healthy']);
      expect(await identity(), 'the second run restarted web').toBe(after);
      expect(await starts('v1.1.0')).toBe(1);
      expect((await httpGet(`http://127.0.0.1:${port}/version`)).body.trim()).toBe('v1.1.0');
      expect(status()).toMatchObject({ phase: 'Ready', observedVersion: 'v1.1.0' });
      // The run that waited says why it did nothing.
      expect([ra.stdout, rb.stdout].filter((o) => o.includes('web: nothing left to do'))).toHaveLength(1);
    }, 240_000);

    it('the agent and tend reconcile on a failing update: one auto-rollback line, one rollback start', async () => {
      agent = await startAgent(root);
      await until('web Ready in the agent', async () => (await agent!.row('web'))?.phase === 'Ready', 60_000);
      const before = await starts('v1.1.0');
      const mark = agent.lines.length;
      desire('v2.0.0');
      // The agent is in the update (it holds web's lock): a tend reconcile now plans against it and waits.
      await until('the agent updating web', () => instanceLockOwner(paths, 'web')?.pid === agent!.pid && status().desiredVersion === 'v2.0.0', 60_000, 50);
      const r = spawnTend(root, ['reconcile']);
      await until('tend reconcile waiting for the agent', () => r.stderr().includes(`web: waiting for pid ${agent!.pid} `), 60_000, 50);
      const done = await r.done;
      expect(done.code, `${done.stdout}\n${done.stderr}`).toBe(3);
      await until('the agent finishing web', () => agent!.since(mark).some((l) => /^web: reconcile (ok|held|failed)/.test(l.msg)), 90_000);
      expect(history()).toEqual(['v1.1.0 create healthy', 'v2.0.0 update failed', 'v1.1.0 auto-rollback healthy']);
      expect((await httpGet(`http://127.0.0.1:${port}/version`)).body.trim()).toBe('v1.1.0');
      expect(status()).toMatchObject({ phase: 'RolledBack', observedVersion: 'v1.1.0', held: { version: 'v2.0.0' } });
      if (runtime === 'docker') {
        // A container per start: the one running was created before the rollback was recorded, and started once.
        const rolledBack = readHistory(join(paths.instances, 'web', '.version-history')).at(-1)!;
        const c = await engine().getContainer(target).inspect();
        expect(Date.parse(c.Created)).toBeLessThan(Date.parse(rolledBack.updatedAt));
        expect(c.RestartCount).toBe(0);
        expect(await starts('v1.1.0')).toBe(1);
      } else {
        expect(await starts('v1.1.0')).toBe(before + 1);
        expect(await starts('v2.0.0')).toBe(1);
      }
      expect((await agent.stop('SIGTERM')).code).toBe(0);
      agent = undefined;
    }, 240_000);
  });
}
