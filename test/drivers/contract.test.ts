// The shared driver contract, run against each real backend: a deployment root on disk (tend.yaml +
// desired/), the real loader, a real release build, observation through the registered drivers, the
// pure planner, and the plan's actions carried out by the driver (a minimal stand-in for the executor
// does write-config and verify-health). No mocks; launchd runs through the launchctl stand-in.
import { randomBytes } from 'node:crypto';
import { loose } from '../helpers/planner-fixtures.js';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesiredState, TendConfig } from '../../src/model/types.js';
import type { Plan } from '../../src/model/plan.js';
import { drivers } from '../../src/drivers/registry.js';
import type { Driver } from '../../src/drivers/types.js';
import { execute } from '../../src/executor/execute.js';
import { observeAll } from '../../src/observe/index.js';
import { plan as makePlan, type PlanOptions } from '../../src/planner/plan.js';
import { buildRelease } from '../../src/release/build.js';
import { loadConfig, type RootPaths } from '../../src/spec/config.js';
import { loadDesired } from '../../src/spec/desired.js';
import { backendGate } from '../helpers/backends.js';
import { useScratch } from '../helpers/scratch.js';
import { freePort, httpGet, waitForHttp } from '../fixtures/app.js';
import { fixtureRoot, harnesses, type Harness } from './contract-backends.js';

const scratch = useScratch();

for (const h of harnesses) {
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`driver contract: ${h.title}`, () => {
    const app = `ct${h.runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let paths: RootPaths;
    let config: TendConfig;
    let driver: Driver;
    let port: number;
    let lookalike: Awaited<ReturnType<Harness['lookalike']>> | undefined;
    const cleanups: (() => Promise<void>)[] = [];

    /** Writes desired/web.yaml (the whole file) with this port, env and state. */
    const desire = (fields: { port: number; env: Record<string, string>; state?: 'running' | 'stopped' }) => {
      const env = Object.entries(fields.env).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`).join('');
      writeFileSync(join(root, 'desired', 'web.yaml'), [
        'version: v1.1.0', `runtime: ${h.runtime}`, `port: ${fields.port}`, `state: ${fields.state ?? 'running'}`,
        'env:', env.trimEnd(), 'health:', '  http: /health', '  timeout: 15s', h.instanceExtra ?? '',
      ].join('\n'));
    };

    const load = (): DesiredState => {
      const loaded = loadConfig({ cwd: root, dir: root, env: {} });
      if (!loaded.config) throw new Error(`tend.yaml: ${JSON.stringify(loaded.diagnostics)}`);
      config = loaded.config;
      paths = loaded.paths;
      const desired = loadDesired({ root, desiredDir: paths.desired, config, platform: h.platform, launchdWarn: false });
      const errors = desired.diagnostics.filter((d) => d.severity === 'error');
      if (errors.length > 0) throw new Error(`desired/: ${JSON.stringify(errors)}`);
      return desired;
    };

    let lastObservation: Awaited<ReturnType<typeof observeAll>> | undefined;
    const planNow = async (options: PlanOptions = {}): Promise<{ plan: Plan; desired: DesiredState }> => {
      const desired = load();
      const o = await observeAll(desired, paths);
      o.observed.host.platform = h.platform;
      lastObservation = o;
      return { plan: makePlan(desired, o.observed, o.releases, o.instances, options), desired };
    };

    const observeWeb = async () => {
      const obs = await driver.observe({ config, paths });
      if (obs.status !== 'ok') throw new Error(`observe ${h.runtime}: ${obs.reason}`);
      return obs.items.find((i) => i.owned && i.instance === 'web');
    };

    /** Carries out the plan just made with the real executor (which records status and history). */
    const apply = async (p: Plan, desired: DesiredState): Promise<string[]> => {
      const o = lastObservation!;
      const report = await execute(p, { desired, paths, states: o.instances, releases: o.releases, updatedBy: 'contract@test' });
      for (const r of report.instances) expect({ name: r.name, result: r.result, reason: r.reason }).toEqual({ name: r.name, result: 'ok', reason: undefined });
      return report.instances.flatMap((r) => r.done.map((t) => `${t}@${h.runtime}`));
    };

    beforeAll(async () => {
      gate.check();
      root = scratch(`contract-${h.runtime}`);
      await h.before?.(scratch(`contract-${h.runtime}-env`));
      cleanups.push(() => h.after?.() ?? Promise.resolve());
      const { fixture, image } = await fixtureRoot(h, root, app, { args: '[--port, "${port}", --config, "${configPath}"]' });
      if (image) cleanups.push(() => h.removeImage?.(image) ?? Promise.resolve());
      port = await freePort();
      load();
      const built = await buildRelease({ paths, config, version: 'v1.1.0', commit: fixture.tags['v1.1.0']! });
      const imageId = built.manifest.image?.id;
      if (imageId) cleanups.push(() => h.removeImage?.(imageId) ?? Promise.resolve());
      driver = await drivers[h.runtime]();
      lookalike = await h.lookalike(app, 'lookalike', config);
      cleanups.push(() => lookalike!.remove());
      cleanups.push(() => h.cleanup(app, config));
    }, 180_000);

    afterAll(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      if (root) rmSync(root, { recursive: true, force: true });
    }, 120_000);

    it('create: the plan creates web; after it the instance runs, owned, with the planned spec hash', async () => {
      desire({ port, env: { GREETING: 'hello' } });
      const { plan, desired } = await planNow();
      const web = plan.instances.find((i) => i.name === 'web')!;
      expect(web).toMatchObject({ change: 'create', runtime: h.runtime });
      expect(plan.instances.find((i) => i.change === 'orphan')).toMatchObject({ name: 'lookalike', runtime: h.runtime });
      const hash = loose(plan.actions).find((a) => a.instance === 'web' && a.specHash)!.specHash;
      const done = await apply(plan, desired);
      expect(done).toContain(`start@${h.runtime}`);
      expect(done).toContain(`verify-health@${h.runtime}`);
      expect(await observeWeb()).toMatchObject({ runtime: h.runtime, owned: true, state: 'running', version: 'v1.1.0', specHash: hash });
      expect((await httpGet(`http://127.0.0.1:${port}/env/GREETING`)).body).toBe('hello');
    });

    it('a second reconcile is a no-op: web unchanged, no actions but the orphan report', async () => {
      const { plan } = await planNow();
      expect(plan.instances.find((i) => i.name === 'web')).toMatchObject({ change: 'unchanged' });
      expect(loose(plan.actions).map((a) => `${a.type} ${a.target ?? ''}`)).toEqual([`orphan ${h.lookalikeId?.(app, 'lookalike') ?? `${app}-lookalike`}`]);
    });

    it('an env change restarts it, and the running process reports the new value', async () => {
      desire({ port, env: { GREETING: 'changed value' } });
      const { plan, desired } = await planNow();
      expect(plan.instances.find((i) => i.name === 'web')).toMatchObject({ change: 'reconfigure' });
      // A process restart (systemd, tmux, launchd) or a new container from the same image (Docker).
      expect(['restart', 'replace']).toContain(plan.instances.find((i) => i.name === 'web')!.disruption);
      await apply(plan, desired);
      expect((await httpGet(`http://127.0.0.1:${port}/env/GREETING`)).body).toBe('changed value');
      expect((await planNow()).plan.instances.find((i) => i.name === 'web')).toMatchObject({ change: 'unchanged' });
    });

    it('a port change: the new port answers and the old one does not', async () => {
      const old = port;
      port = await freePort();
      desire({ port, env: { GREETING: 'changed value' } });
      const { plan, desired } = await planNow();
      await apply(plan, desired);
      expect((await waitForHttp(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      await expect(httpGet(`http://127.0.0.1:${old}/health`, 500)).rejects.toThrow();
    });

    it('state: stopped stops it; observed stopped, port closed', async () => {
      desire({ port, env: { GREETING: 'changed value' }, state: 'stopped' });
      const { plan, desired } = await planNow();
      // Without recorded apply state the planner cannot name the field, but the disruption is a stop.
      expect(plan.instances.find((i) => i.name === 'web')).toMatchObject({ disruption: 'stop' });
      expect(loose(plan.actions).filter((a) => a.instance === 'web').map((a) => a.type)).not.toContain('start');
      await apply(plan, desired);
      expect(await observeWeb()).toMatchObject({ state: 'stopped' });
      await expect(httpGet(`http://127.0.0.1:${port}/health`, 500)).rejects.toThrow();
    });

    it('removing the desired file and pruning deletes it: absent afterwards', async () => {
      // An empty desired/ never deletes anything: another (stopped) instance keeps the folder meaningful.
      writeFileSync(join(root, 'desired', 'keeper.yaml'), `version: v1.1.0\nruntime: ${h.runtime}\nport: ${await freePort()}\nstate: stopped\n${h.instanceExtra ?? ''}`);
      rmSync(join(root, 'desired', 'web.yaml'));
      const { plan, desired } = await planNow({ prune: true });
      expect(plan.instances.find((i) => i.name === 'web')).toMatchObject({ change: 'delete' });
      await apply(plan, desired);
      expect(await observeWeb()).toBeUndefined();
    });

    it('the look-alike it does not own was never touched', async () => {
      expect(await lookalike!.intact()).toBe(true);
    });
  });
}
