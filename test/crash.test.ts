// Crash safety (issue 5): for every action of the rendered update plan, `tend reconcile` is killed with
// SIGKILL right after that action (TEND_FAULT=crash-after:<action id>:<n>), and a plain `tend reconcile`
// afterwards must converge: the desired version healthy (or rolled back), status.json Ready (RolledBack),
// exactly one owned unit/container/session and nothing else of the app left, the history neither
// duplicated nor missing a line, and a further dry run plans nothing.
//
// Walks: the update v1.0.0 -> v1.1.0 on tmux, systemd and Docker; the update to v2.0.0 (fails its health
// check) with its rollback on systemd (TEND_CRASH_ROLLBACK=all walks it on tmux and Docker too; each takes
// about a minute). Every walk has a root of its own with a unique app name, and the walks run side by side.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime, StatusFile, TendConfig } from '../src/model/types.js';
import type { Plan } from '../src/model/plan.js';
import { drivers } from '../src/drivers/registry.js';
import { unitDirOf } from '../src/drivers/systemd/unit.js';
import { reconcile } from '../src/executor/reconcile.js';
import { observeAll } from '../src/observe/index.js';
import { plan } from '../src/planner/plan.js';
import { loadConfig, type RootPaths } from '../src/spec/config.js';
import { loadDesired } from '../src/spec/desired.js';
import { readHistory } from '../src/state/history.js';
import { backendGate, userctl } from './helpers/backends.js';
import { buildOnce, CLI, REPO } from './helpers/cli.js';
import { engine, removeImages } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';

const scratch = useScratch();
type Walk = 'update' | 'rollback';
const WALKS: readonly (readonly [Runtime, Walk])[] = [
  ['tmux', 'update'], ['systemd', 'update'], ['docker', 'update'], ['systemd', 'rollback'],
  ...(process.env.TEND_CRASH_ROLLBACK === 'all' ? [['tmux', 'rollback'], ['docker', 'rollback']] as const : []),
];

interface Run {
  code: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

interface ApplyJson {
  exitCode: number;
  plan: Plan;
  followUp?: Plan;
}

for (const [runtime, walk] of WALKS) {
  const h = harnesses.find((x) => x.runtime === runtime)!;
  const gate = await backendGate(h.gate);
  (gate.skip ? describe.skip : describe.concurrent)(`crash after every action (${walk}) on ${h.title}`, () => {
    const app = `cr${walk.slice(0, 1)}${h.runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let paths: RootPaths;
    let config: TendConfig;
    let port: number;
    /** The history every check expects, as `version reason outcome` lines. */
    const expected: string[] = [];
    const cleanups: (() => Promise<void>)[] = [];

    /** v2.0.0 never turns healthy: its shorter deadline keeps the walk fast (rollbacks use v1.0.0's spec). */
    const desire = (version: string) => writeFileSync(join(root, 'desired', 'web.yaml'), [
      `version: ${version}`, `runtime: ${h.runtime}`, `port: ${port}`,
      'health:', '  http: /health', `  timeout: ${version === 'v2.0.0' ? '1s' : '4s'}`, '  interval: 250ms', h.instanceExtra ?? '',
    ].join('\n'));

    const tend = async (args: string[], fault?: string): Promise<Run> => {
      const r = await execa('node', [CLI, '-C', root, ...args], {
        reject: false, cwd: REPO, stdin: 'ignore', env: { TEND_FAULT: fault ?? '' }, timeout: 60_000,
      });
      return { code: r.exitCode, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const explain = (what: string, r: Run) => `${what}: exit ${String(r.code)} signal ${String(r.signal)}\n${r.stdout}\n${r.stderr}`;
    const dryRun = async (): Promise<Plan> => {
      const r = await tend(['reconcile', '--dry-run', '--json']);
      if (r.code !== 0) throw new Error(explain('tend reconcile --dry-run --json', r));
      return JSON.parse(r.stdout) as Plan;
    };
    /** A plain `tend reconcile --json`; the exit code must be `want`. */
    const apply = async (want: number, what: string): Promise<ApplyJson> => {
      const r = await tend(['reconcile', '--json']);
      if (r.code !== want) throw new Error(explain(`${what}: tend reconcile (expected exit ${want})`, r));
      return JSON.parse(r.stdout) as ApplyJson;
    };
    const status = (): StatusFile => JSON.parse(readFileSync(join(paths.instances, 'web', 'status.json'), 'utf8')) as StatusFile;
    const history = () => readHistory(join(paths.instances, 'web', '.version-history')).map((e) => `${e.version} ${e.reason} ${e.outcome}`);
    const webChange = (p: Plan) => p.instances.find((i) => i.name === 'web')?.change;

    /** What the backend itself lists for this app (its own CLI / API, not tend's driver). */
    const backendNames = async (): Promise<string[]> => {
      switch (h.runtime) {
        case 'systemd': {
          const files = readdirSync(unitDirOf('user')).filter((n) => n.startsWith(`${app}-`));
          const listed = await userctl(['list-units', '--all', '--plain', '--no-legend', `${app}-*`]);
          const units = listed.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]!).filter((u) => u);
          return [...new Set([...files, ...units])].sort();
        }
        case 'docker': {
          const list = await engine().listContainers({ all: true, filters: { name: [`${app}-`] } });
          const labelled = await engine().listContainers({ all: true, filters: { label: [`tend.app=${app}`] } });
          return [...new Set([...list, ...labelled].flatMap((c) => c.Names.map((n) => n.replace(/^\//, ''))))].sort();
        }
        case 'tmux': {
          const socket = config.tmux.socket!;
          const r = await execa('tmux', ['-L', socket, 'list-sessions', '-F', '#{session_name}'], { reject: false, stdin: 'ignore' });
          return r.stdout.split('\n').filter((s) => s.startsWith(`${app}-`)).sort();
        }
        default:
          throw new Error(`no backend listing for ${h.runtime}`);
      }
    };
    const target = h.runtime === 'systemd' ? `${app}-web.service` : `${app}-web`;

    /** Converged on `version` (phase, exit already checked by the caller): one owned thing, running that version, healthy. */
    const expectConverged = async (step: string, version: string, phase: 'Ready' | 'RolledBack') => {
      const at = `after a crash at ${step}`;
      expect((await httpGet(`http://127.0.0.1:${port}/version`)).body.trim(), at).toBe(version);
      expect((await httpGet(`http://127.0.0.1:${port}/health`)).status, at).toBe(200);
      expect(status(), at).toMatchObject({ phase, observedVersion: version, health: { healthy: true } });
      const driver = await drivers[h.runtime]();
      const obs = await driver.observe({ config, paths });
      if (obs.status !== 'ok') throw new Error(`${at}: cannot observe ${h.runtime}: ${JSON.stringify(obs)}`);
      expect(obs.items.filter((i) => i.owned).map((i) => ({ id: i.id, instance: i.instance, state: i.state, version: i.version })), at)
        .toEqual([{ id: target, instance: 'web', state: 'running', version }]);
      // systemd with output: files: the unit's output pipe and its stamper go with it (removed with it).
      const companions = h.runtime === 'systemd' ? [target.replace(/\.service$/, '.log.service'), target.replace(/\.service$/, '.log.socket')] : [];
      expect(await backendNames(), at).toEqual([...companions, target].sort());
      expect(history(), at).toEqual(expected);
      // A second reconcile plans nothing: planned in this process (what `reconcile --dry-run --detailed-exitcode`
      // does, without a CLI start per step; the CLI itself is asked at the end of each walk).
      const o = await observeAll(loadWeb(), paths);
      const again = plan(loadWeb(), o.observed, o.releases, o.instances);
      expect(again.actions.filter((a) => a.type !== 'orphan'), `${at}: a second reconcile plans something`).toEqual([]);
      expect(again.diagnostics.filter((d) => d.severity === 'error'), at).toEqual([]);
    };
    /** `tend reconcile --dry-run --detailed-exitcode` exits 0: nothing to do. */
    const expectNothingPlanned = async (at: string) => {
      const r = await tend(['reconcile', '--dry-run', '--detailed-exitcode']);
      expect(r.code, explain(`${at}: tend reconcile --dry-run --detailed-exitcode`, r)).toBe(0);
    };

    const loadWeb = () => loadDesired({ root, desiredDir: paths.desired, config, platform: process.platform, launchdWarn: false });

    /** Back to v1.0.0 running and recorded (an update back, or nothing after a rollback to it); in this process, to save a CLI start. */
    const reset = async () => {
      desire('v1.0.0');
      const r = await reconcile(loadWeb(), paths, { updatedBy: 'test@host' });
      const change = webChange(r.plans[0]!);
      expect(r.exitCode, `reset to v1.0.0: ${JSON.stringify(r.outcomes)}`).toBe(0);
      if (change === 'update') expected.push('v1.0.0 update healthy');
      else expect(change, 'reset to v1.0.0').toBe('unchanged');
      expect(status()).toMatchObject({ phase: 'Ready', observedVersion: 'v1.0.0' });
    };

    /** Makes the plan to `version` contain the action `id` again (a build or an image load done by an earlier step). */
    const ensurePlanned = async (id: string, version: string, type: string) => {
      if (type !== 'build-release' && type !== 'load-image') return;
      if ((await dryRun()).actions.some((a) => a.id === id)) return;
      const release = join(paths.releases, version);
      if (type === 'build-release') {
        rmSync(release, { recursive: true, force: true });
      } else {
        // build.sh labels the image with its name (unique to this walk), so no other test shares this image id.
        const manifest = JSON.parse(readFileSync(join(release, 'manifest.json'), 'utf8')) as { image?: { id?: string } };
        await engine().getImage(manifest.image!.id!).remove({ force: true });
      }
      expect((await dryRun()).actions.map((a) => a.id), `re-planning ${id}`).toContain(id);
    };

    /** Kills `tend reconcile` after the n-th completion of action `id`, checks it died that way. */
    const crashAfter = async (id: string, n: number) => {
      const r = await tend(['reconcile'], `crash-after:${id}:${n}`);
      expect(r.signal, explain(`crash-after:${id}:${n}`, r)).toBe('SIGKILL');
      expect(r.stderr.split('\n')).toContain(`TEND_FAULT: crashing after ${id}`);
    };

    beforeAll(async () => {
      gate.check();
      root = scratch(`crash-${h.runtime}`);
      const [{ image }] = await Promise.all([fixtureRoot(h, root, app, {
        // tmux: a server of this walk's own (the harness's socket is shared by the file, and its cleanup ends the server).
        ...(h.runtime === 'tmux' ? { runtimeYaml: `tmux:\n  socket: ${app}\ndocker:\n  discovery:\n    enabled: false` } : {}),
      }), buildOnce()]);
      if (image) cleanups.push(() => removeImages(engine(), [image]));
      port = await freePort();
      const loaded = loadConfig({ cwd: root, dir: root, env: {} });
      paths = loaded.paths;
      config = loaded.config!;
      cleanups.push(h.runtime === 'tmux' ? async () => {
        await execa('tmux', ['-L', app, 'kill-server'], { reject: false, stdin: 'ignore' });
        rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, app), { force: true });
      } : () => h.cleanup(app, config));
      desire('v1.0.0');
      await apply(0, 'create v1.0.0');
      expected.push('v1.0.0 create healthy');
      await expectConverged('(none: the first create)', 'v1.0.0', 'Ready');
      await expectNothingPlanned('after the first create');
    }, 90_000);

    afterAll(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }, 120_000);

    if (walk === 'update') it('update to v1.1.0: killed after each action of the plan, a plain reconcile converges', async () => {
      desire('v1.1.0');
      const rendered = await dryRun();
      const actions = rendered.actions.filter((a) => a.type !== 'orphan');
      expect(webChange(rendered), JSON.stringify(rendered.instances)).toBe('update');
      expect(actions.length).toBeGreaterThanOrEqual(5);
      const walked: string[] = [];
      for (const action of actions) {
        await reset();
        desire('v1.1.0');
        await ensurePlanned(action.id, 'v1.1.0', action.type);
        await crashAfter(action.id, 1);
        await apply(0, `after a crash at ${action.id}`);
        expected.push('v1.1.0 update healthy');
        await expectConverged(action.id, 'v1.1.0', 'Ready');
        walked.push(action.id);
      }
      expect(walked).toEqual(actions.map((a) => a.id));
      await expectNothingPlanned('after the walk');
      console.log(`${h.runtime}: walked ${walked.join(', ')}`);
    }, 300_000);

    if (walk === 'rollback') it('update to v2.0.0 (unhealthy): killed after each action of the update and of its rollback, a plain reconcile rolls back', async () => {
      await reset();
      desire('v2.0.0');
      const rendered = await dryRun();
      expect(webChange(rendered), JSON.stringify(rendered.instances)).toBe('update');
      // The follow-up (the rollback) exists only once the health check has failed: take it from a run without a fault.
      const baseline = await apply(3, 'update to v2.0.0 without a fault');
      expected.push('v2.0.0 update failed', 'v1.0.0 auto-rollback healthy');
      await expectConverged('(none: no fault)', 'v1.0.0', 'RolledBack');
      const first = rendered.actions.filter((a) => a.type !== 'orphan');
      expect(baseline.plan.actions.filter((a) => a.type !== 'orphan' && a.type !== 'build-release' && a.type !== 'load-image').map((a) => a.id))
        .toEqual(first.filter((a) => a.type !== 'build-release' && a.type !== 'load-image').map((a) => a.id));
      const followUp = baseline.followUp!.actions.filter((a) => a.type !== 'orphan');
      expect(webChange(baseline.followUp!)).toBe('rollback');
      // A failed verify-health never completes, so it cannot be crashed after; every other action of the
      // first round completes once, so the follow-up's action with the same id is its second completion.
      const steps = [
        ...first.filter((a) => a.type !== 'verify-health').map((a) => ({ id: a.id, type: a.type, n: 1 })),
        ...followUp.map((a) => ({ id: a.id, type: a.type, n: 1 + first.filter((b) => b.id === a.id && b.type !== 'verify-health').length })),
      ];
      expect(steps.length).toBeGreaterThanOrEqual(8);
      const walked: string[] = [];
      for (const step of steps) {
        await reset();
        desire('v2.0.0');
        await ensurePlanned(step.id, 'v2.0.0', step.type);
        await crashAfter(step.id, step.n);
        await apply(3, `after a crash at ${step.id}:${step.n}`);
        expected.push('v2.0.0 update failed', 'v1.0.0 auto-rollback healthy');
        await expectConverged(`${step.id}:${step.n}`, 'v1.0.0', 'RolledBack');
        expect(status().held, `after a crash at ${step.id}:${step.n}`).toMatchObject({ version: 'v2.0.0' });
        walked.push(`${step.id}:${step.n}`);
      }
      await expectNothingPlanned('after the walk');
      console.log(`${h.runtime}: walked (v2.0.0 and its rollback) ${walked.join(', ')}`);
    }, 300_000);
  });
}
