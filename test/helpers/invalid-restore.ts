// Issue 14, point 1, on one real backend: an update interrupted at a known point, then the desired file saved
// with a typo. Whatever the update left (the old process stopped, the unit rewritten but not started, the new
// version running unverified), the instance is InvalidSpec and serves its last healthy version (v1.0.0) again
// after one reconcile: in the agent (which cancels the update when the file changes) and in `tend reconcile`
// (the run that was updating is killed). The update is stopped where it should be by TEND_FAULT=pause-before /
// pause-after (src/executor/faults.ts), or really waits for a failing health check (v2.0.0 answers 500).
// One deployment root per backend; the releases are built once and shared by every case.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFile, TendConfig } from '../../src/model/types.js';
import type { Plan } from '../../src/model/plan.js';
import { drivers } from '../../src/drivers/registry.js';
import { loadConfig, type RootPaths } from '../../src/spec/config.js';
import { fixtureRoot, harnesses } from '../drivers/contract-backends.js';
import { freePort, httpGet } from '../fixtures/app.js';
import { startAgent, until, type AgentProc } from './agent-proc.js';
import { backendGate } from './backends.js';
import { buildOnce, CLI, REPO } from './cli.js';
import { engine, removeImages } from './docker.js';
import { useScratch } from './scratch.js';
import { loose } from './planner-fixtures.js';

/** Where the update is when the typo is saved. */
export interface Delay {
  name: string;
  /** The version the update goes to. */
  version: 'v1.1.0' | 'v2.0.0';
  /** TEND_FAULT for the updating process; without one, the update is caught in a real (failing) health wait. */
  fault?: string;
  /** What the restore must do (action types of the instance, in order). */
  restore: string[];
}

export const DELAYS: Delay[] = [
  { name: 'before the stop (the old process still runs)', version: 'v1.1.0', fault: 'pause-before:stop:1', restore: ['verify-health'] },
  { name: 'between stop and start (old unit stopped, not rewritten yet)', version: 'v1.1.0', fault: 'pause-after:stop:1', restore: ['start', 'verify-health'] },
  { name: 'between stop and start (unit rewritten to v1.1.0, not started)', version: 'v1.1.0', fault: 'pause-before:start:1', restore: ['write-config', '*', 'start', 'verify-health'] },
  { name: 'during the health wait (v1.1.0 started, not verified yet)', version: 'v1.1.0', fault: 'pause-before:verify-health:1', restore: ['stop', 'write-config', '*', 'start', 'verify-health'] },
  { name: 'during a failing health wait (v2.0.0 answers 500)', version: 'v2.0.0', restore: ['stop', 'write-config', '*', 'start', 'verify-health'] },
];

interface StatusRow {
  name: string;
  phase: string;
  observedVersion: string | null;
  health: { healthy: boolean } | null;
  process: { state: string } | null;
}

export async function defineInvalidRestoreSuite(runtime: 'systemd' | 'tmux' | 'docker'): Promise<void> {
  const scratch = useScratch();
  const h = harnesses.find((x) => x.runtime === runtime)!;
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`an invalid desired file after an interrupted update serves the last healthy version (${h.title})`, () => {
    const app = `c1ir${runtime.slice(0, 3)}${randomBytes(3).toString('hex')}`;
    let root: string;
    let paths: RootPaths;
    let config: TendConfig;
    let port: number;
    const cleanups: (() => Promise<void>)[] = [];
    let agent: AgentProc | undefined;
    let updating: ReturnType<typeof execa> | undefined;

    const lines = (version: string) => [
      `version: ${version}`, `runtime: ${runtime}`, `port: ${port}`,
      // v2.0.0 never turns healthy: a long deadline keeps its health wait going while the typo is saved.
      'health:', '  http: /health', `  timeout: ${version === 'v2.0.0' ? '90s' : '20s'}`, '  interval: 200ms',
      ...(h.instanceExtra ? [h.instanceExtra] : []), '',
    ];
    const file = () => join(root, 'desired', 'web.yaml');
    const desire = (version: string) => writeFileSync(file(), lines(version).join('\n'));
    /** The typo of the issue: `prot:` for `port:` (an unknown key, and no port). */
    const typo = (version: string) => writeFileSync(file(), lines(version).join('\n').replace(/^port:/m, 'prot:'));
    const tend = async (args: string[]) => {
      const r = await execa('node', [CLI, '-C', root, ...args], { cwd: REPO, reject: false, stdin: 'ignore', env: { TEND_FAULT: '' }, timeout: 180_000 });
      return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const status = () => JSON.parse(readFileSync(join(paths.instances, 'web', 'status.json'), 'utf8')) as StatusFile;
    const serves = async () => (await httpGet(`http://127.0.0.1:${port}/version`).catch(() => undefined))?.body.trim();
    const row = async (): Promise<StatusRow> => {
      const r = await tend(['status', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { instances: StatusRow[] }).instances.find((i) => i.name === 'web')!;
    };
    /** What the backend holds of this app, through tend's driver: exactly one thing, owned, running v1.0.0. */
    const expectOneRunning = async (at: string) => {
      const obs = await (await drivers[runtime]()).observe({ config, paths });
      if (obs.status !== 'ok') throw new Error(`${at}: cannot observe ${runtime}: ${JSON.stringify(obs)}`);
      expect(obs.items.filter((i) => i.instance === 'web').map((i) => ({ owned: i.owned, state: i.state, version: i.version })), at)
        .toEqual([{ owned: true, state: 'running', version: 'v1.0.0' }]);
    };
    /** After the one reconcile that followed the typo: v1.0.0 serves, healthy, InvalidSpec, nothing stopped. */
    const expectRestored = async (at: string) => {
      expect(await serves(), `${at}: the last healthy version serves`).toBe('v1.0.0');
      expect((await httpGet(`http://127.0.0.1:${port}/health`)).status, at).toBe(200);
      await expectOneRunning(at);
      expect(status(), at).toMatchObject({ phase: 'InvalidSpec', observedVersion: 'v1.0.0', health: { healthy: true }, applied: { version: 'v1.0.0' } });
      expect(status().message, at).toContain('desired/web.yaml has errors');
      const r = await row();
      expect(r, at).toMatchObject({ phase: 'InvalidSpec', observedVersion: 'v1.0.0', health: { healthy: true }, process: { state: 'running' } });
    };
    /** Back to v1.0.0 running, Ready (a valid file again: nothing restarts when it already runs, only the phase is recorded). */
    const reset = async () => {
      desire('v1.0.0');
      const r = await tend(['reconcile']);
      expect(r.code, `reset to v1.0.0: ${r.stdout}\n${r.stderr}`).toBe(0);
      expect(await serves()).toBe('v1.0.0');
      expect(status()).toMatchObject({ phase: 'Ready', observedVersion: 'v1.0.0' });
    };
    /** The update is where the case wants it: paused by its fault, or v2.0.0 running in its health wait. */
    const caught = async (d: Delay, stderr: () => string) => {
      if (d.fault) {
        const where = d.fault.startsWith('pause-before') ? 'before' : 'after';
        await until(`the update to ${d.version} pausing (${d.fault})`, () => stderr().includes(`TEND_FAULT: pausing ${where} web/`), 90_000);
      } else {
        await until('v2.0.0 serving in its health wait', async () => (await serves()) === 'v2.0.0', 90_000);
        // What is not verified is not shown healthy.
        expect((await row()).health?.healthy, 'v2.0.0 in its health wait').not.toBe(true);
      }
    };
    const restoreMatches = (d: Delay, types: string[]) => {
      const want = d.restore;
      expect(types.length, `restore actions ${types.join(', ')}`).toBe(want.length);
      want.forEach((t, n) => {
        if (t !== '*') expect(types[n], `restore actions ${types.join(', ')}`).toBe(t);
      });
    };

    beforeAll(async () => {
      gate.check();
      root = scratch(`c1-invalid-${runtime}`);
      const [{ image }] = await Promise.all([fixtureRoot(h, root, app, {
        ...(runtime === 'tmux' ? { runtimeYaml: `tmux:\n  socket: ${app}\ndocker:\n  discovery:\n    enabled: false` } : {}),
      }), buildOnce()]);
      if (image) cleanups.push(() => removeImages(engine(), [image]));
      port = await freePort();
      const loaded = loadConfig({ cwd: root, dir: root, env: {} });
      paths = loaded.paths;
      config = loaded.config!;
      cleanups.push(runtime === 'tmux' ? async () => {
        const r = await execa('tmux', ['-L', app, 'kill-server'], { reject: false, stdin: 'ignore' });
        if (r.exitCode !== 0 && !/no server running|error connecting/.test(r.stderr)) throw new Error(`tmux kill-server: ${r.stderr}`);
        rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, app), { force: true });
      } : () => h.cleanup(app, config));
      // Every release the cases use, built once.
      for (const v of ['v1.0.0', 'v1.1.0', 'v2.0.0']) {
        const b = await tend(['releases', 'build', v]);
        expect(b.code, `build ${v}: ${b.stdout}\n${b.stderr}`).toBe(0);
      }
      desire('v1.0.0');
      const r = await tend(['reconcile']);
      expect(r.code, `create v1.0.0: ${r.stdout}\n${r.stderr}`).toBe(0);
    }, 600_000);

    afterEach(async () => {
      if (agent) {
        await agent.stop('SIGKILL');
        agent = undefined;
      }
      if (updating) {
        updating.kill('SIGKILL');
        await updating.catch(() => undefined);
        updating = undefined;
      }
    }, 60_000);

    afterAll(async () => {
      for (const c of cleanups.reverse()) await c();
    }, 120_000);

    describe.each(DELAYS)('typo saved $name', (d) => {
      it('in the agent: the update is cancelled and the same agent restores v1.0.0 in its next reconcile', async () => {
        await reset();
        agent = await startAgent(root, { TEND_FAULT: d.fault ?? '' });
        const a = agent;
        await until('the agent\'s first resync', () => a.lines.some((l) => /^resync \(start\)/.test(l.msg)), 60_000);
        desire(d.version);
        await caught(d, () => a.stderr());
        const mark = a.lines.length;
        typo(d.version);
        const warned = await until('the agent\'s reconcile of the invalid file', () => a.since(mark).find((l) => l.instance === 'web'
          && /^web: reconcile (?!cancelled)/.test(l.msg)), 120_000);
        const after = a.since(mark);
        expect(after.some((l) => l.msg.startsWith('web: work abandoned')), after.map((l) => l.msg).join('\n')).toBe(true);
        // Logged at warn, naming the file and its diagnostic.
        expect(warned.level, warned.msg).toBe(40);
        expect(warned.msg).toMatch(/^web: reconcile failed: desired\/web\.yaml is invalid \(.*desired\/web\.yaml.*prot/);
        expect(warned.msg).toContain('restore v1.0.0, the last healthy spec');
        // That one reconcile put v1.0.0 back: it serves now, before anything else runs.
        await expectRestored(`agent, typo ${d.name}`);
        const code = (await a.stop('SIGTERM')).code;
        agent = undefined;
        expect(code).toBe(0);
        await expectOneRunning(`agent stopped, typo ${d.name}`);
      }, 300_000);

      it('in tend reconcile: the run that was updating is killed, one tend reconcile restores v1.0.0', async () => {
        await reset();
        desire(d.version);
        let stderr = '';
        const p = execa('node', [CLI, '-C', root, 'reconcile'], {
          cwd: REPO, reject: false, stdin: 'ignore', buffer: false, env: { TEND_FAULT: d.fault ?? '' },
        });
        updating = p;
        p.stderr!.on('data', (c: Buffer) => {
          stderr += c.toString();
        });
        p.stdout!.resume();
        await caught(d, () => stderr);
        p.kill('SIGKILL');
        await p;
        updating = undefined;
        typo(d.version);
        const r = await tend(['reconcile', '--json']);
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
        const planned = (JSON.parse(r.stdout) as { plan: Plan }).plan;
        const web = planned.instances.find((i) => i.name === 'web')!;
        expect(web, r.stdout).toMatchObject({ change: 'invalid', phase: 'InvalidSpec', version: 'v1.0.0' });
        expect(web.reason).toContain('restore v1.0.0, the last healthy spec');
        restoreMatches(d, web.actions.map((id) => planned.actions.find((x) => x.id === id)!.type));
        expect(loose(planned.actions).filter((x) => x.instance === 'web').every((x) => x.from === 'applied')).toBe(true);
        await expectRestored(`tend reconcile, typo ${d.name}`);
        // Nothing left to do for it: a dry run plans no action (exit 1 for the invalid file alone).
        const dry = await tend(['reconcile', '--dry-run', '--json']);
        expect((JSON.parse(dry.stdout) as Plan).actions.filter((x) => x.type !== 'orphan'), dry.stdout).toEqual([]);
      }, 300_000);
    });
  });
}
