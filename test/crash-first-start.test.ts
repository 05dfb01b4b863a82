// Crash safety of a first start that never turns healthy (issue 5): the follow-up plan stops the held
// spec, and `tend reconcile` is killed with SIGKILL (TEND_FAULT=crash-after:web/stop@<runtime>:1) right
// after that stop, before its status write. The next plain `tend reconcile` must finish the job: status
// Failed (not stuck Progressing), the process stopped, the history line recorded once, exit 3 (held).
// tmux and systemd, each in a root of its own with a unique app name.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFile, TendConfig } from '../src/model/types.js';
import type { Plan } from '../src/model/plan.js';
import { drivers } from '../src/drivers/registry.js';
import { loadConfig, type RootPaths } from '../src/spec/config.js';
import { readHistory } from '../src/state/history.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, CLI, REPO } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';

const scratch = useScratch();

interface Run {
  code: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

for (const runtime of ['tmux', 'systemd'] as const) {
  const h = harnesses.find((x) => x.runtime === runtime)!;
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`crash after the stop of a first start that never turned healthy (${h.title})`, () => {
    const app = `cf${runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let paths: RootPaths;
    let config: TendConfig;
    let port: number;
    const cleanups: (() => Promise<void>)[] = [];

    const tend = async (args: string[], fault?: string): Promise<Run> => {
      const r = await execa('node', [CLI, '-C', root, ...args], {
        reject: false, cwd: REPO, stdin: 'ignore', env: { TEND_FAULT: fault ?? '' }, timeout: 60_000,
      });
      return { code: r.exitCode, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const explain = (what: string, r: Run) => `${what}: exit ${String(r.code)} signal ${String(r.signal)}\n${r.stdout}\n${r.stderr}`;
    const status = (): StatusFile => JSON.parse(readFileSync(join(paths.instances, 'web', 'status.json'), 'utf8')) as StatusFile;
    const history = () => readHistory(join(paths.instances, 'web', '.version-history')).map((e) => `${e.version} ${e.reason} ${e.outcome}`);
    /** The instance's owned unit/session as the driver observes it (state and version). */
    const owned = async () => {
      const obs = await (await drivers[runtime]()).observe({ config, paths });
      if (obs.status !== 'ok') throw new Error(`cannot observe ${runtime}: ${JSON.stringify(obs)}`);
      return obs.items.filter((i) => i.owned && i.instance === 'web').map((i) => ({ state: i.state, version: i.version }));
    };
    const answers = () => httpGet(`http://127.0.0.1:${port}/health`, 500).then(() => true, () => false);

    beforeAll(async () => {
      gate.check();
      root = scratch(`crash-first-${runtime}`);
      await Promise.all([fixtureRoot(h, root, app, {
        // tmux: a server of this file's own, ended by the cleanup.
        ...(runtime === 'tmux' ? { runtimeYaml: `tmux:\n  socket: ${app}\ndocker:\n  discovery:\n    enabled: false` } : {}),
      }), buildOnce()]);
      port = await freePort();
      const loaded = loadConfig({ cwd: root, dir: root, env: {} });
      paths = loaded.paths;
      config = loaded.config!;
      cleanups.push(runtime === 'tmux' ? async () => {
        await execa('tmux', ['-L', app, 'kill-server'], { reject: false, stdin: 'ignore' });
        rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, app), { force: true });
      } : () => h.cleanup(app, config));
      // v2.0.0 answers /health with 500: its first start never turns healthy.
      writeFileSync(join(root, 'desired', 'web.yaml'), [
        'version: v2.0.0', `runtime: ${runtime}`, `port: ${port}`, 'health:', '  http: /health', '  timeout: 1s', '  interval: 250ms', '',
      ].join('\n'));
    }, 90_000);

    afterAll(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }, 120_000);

    it('killed right after the stop: the next plain reconcile records Failed, exit 3, the process stays stopped, one history line', async () => {
      const stopId = `web/stop@${runtime}`;
      const crashed = await tend(['reconcile'], `crash-after:${stopId}:1`);
      expect(crashed.signal, explain(`crash-after:${stopId}:1`, crashed)).toBe('SIGKILL');
      expect(crashed.stderr.split('\n')).toContain(`TEND_FAULT: crashing after ${stopId}`);
      // What the crash left: the hold and the failed line recorded, the process stopped, the stop itself not recorded.
      expect(status()).toMatchObject({ phase: 'Progressing', held: { version: 'v2.0.0' } });
      expect(history()).toEqual(['v2.0.0 create failed']);
      expect(await owned()).toEqual([{ state: expect.not.stringMatching(/^running$/), version: 'v2.0.0' }]);
      expect(await answers()).toBe(false);

      const r = await tend(['reconcile', '--json']);
      expect(r.code, explain('tend reconcile after the crash', r)).toBe(3);
      const out = JSON.parse(r.stdout) as { exitCode: number; plan: Plan; followUp?: Plan };
      expect(out.plan.instances.find((i) => i.name === 'web')).toMatchObject({ change: 'held', phase: 'Failed' });
      expect(out.plan.actions.filter((a) => a.type !== 'orphan')).toEqual([]);
      expect(out.followUp).toBeUndefined();
      const st = status();
      expect(st).toMatchObject({ phase: 'Failed', held: { version: 'v2.0.0' }, health: { healthy: false } });
      expect(st.message).toMatch(/^Health check timeout after 1s: HTTP 500/);
      expect(history()).toEqual(['v2.0.0 create failed']);
      expect(await owned()).toEqual([{ state: expect.not.stringMatching(/^running$/), version: 'v2.0.0' }]);
      expect(await answers()).toBe(false);

      // Settled: a further reconcile changes nothing and keeps saying held (exit 3).
      const since = st.since;
      const again = await tend(['reconcile', '--json']);
      expect(again.code, explain('a further reconcile', again)).toBe(3);
      const plan2 = (JSON.parse(again.stdout) as { plan: Plan }).plan;
      expect(plan2.instances.find((i) => i.name === 'web')).toMatchObject({ change: 'held', phase: 'Failed' });
      expect(plan2.actions.filter((a) => a.type !== 'orphan')).toEqual([]);
      expect(status()).toMatchObject({ phase: 'Failed', since });
      expect(history()).toEqual(['v2.0.0 create failed']);
    }, 120_000);
  });
}
