// The executor's queues (issue 5) against real tmux with the fixture app: at most `agent.concurrency`
// instances at once (measured, not assumed: the real tmux driver is wrapped to count the instances in
// flight), one action at a time per instance, and builds on a queue of their own, one at a time, once
// per release however many instances wait for it (counted from the build command itself).
//
// An instance is in flight from its first driver action until the executor logs it healthy. Its `start`
// waits (a barrier) until as many instances as the limit allows are in flight, or every instance has
// begun, so the count reaches the limit whenever the executor allows it and never by luck. The barrier
// gives up after a while only so that an executor running fewer at once fails instead of hanging.
import { randomBytes } from 'node:crypto';
import { loose, type LooseAction } from './helpers/planner-fixtures.js';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../src/model/types.js';
import type { Action, Plan } from '../src/model/plan.js';
import { drivers } from '../src/drivers/registry.js';
import type { Driver } from '../src/drivers/types.js';
import { execute, type ExecuteReport, type Log } from '../src/executor/execute.js';
import { observeAll } from '../src/observe/index.js';
import { plan as makePlan } from '../src/planner/plan.js';
import { loadConfig, type RootPaths } from '../src/spec/config.js';
import { loadDesired } from '../src/spec/desired.js';
import { backendGate } from './helpers/backends.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';

const scratch = useScratch();
const tmux = harnesses.find((x) => x.runtime === 'tmux')!;
const gate = await backendGate(tmux.gate);

/** Deadlock guard of the barrier (only reached when the executor runs fewer instances than allowed). */
const BARRIER_GIVE_UP_MS = 10_000;

/** Wraps the real driver: counts instances in flight and actions in flight per instance. */
class Probe {
  readonly entered = new Set<string>();
  readonly inFlight = new Set<string>();
  maxInFlight = 0;
  maxPerInstance = 0;
  /** Versions from the executor's `building <version>` log lines, in order. */
  readonly builds: string[] = [];
  private readonly applying = new Map<string, number>();
  private waiters: (() => void)[] = [];
  private gaveUp = false;

  constructor(private readonly total: number, private readonly limit: number) {}

  readonly log: Log = (_level, message, fields) => {
    const build = /^building (\S+)$/.exec(message);
    if (build) this.builds.push(build[1]!);
    const instance = fields?.instance;
    if (typeof instance === 'string' && message.startsWith(`${instance} healthy after `)) {
      this.inFlight.delete(instance);
      this.wake();
    }
  };

  readonly driverFor = async (runtime: Runtime): Promise<Driver> => {
    const real = await drivers[runtime]();
    return {
      runtime: real.runtime,
      observe: (ctx) => real.observe(ctx),
      apply: async (action, ctx) => {
        await this.before(action);
        try {
          await real.apply(action, ctx);
        } finally {
          this.applying.set(action.instance!, this.applying.get(action.instance!)! - 1);
        }
      },
      ...(real.flush ? { flush: (ctx: Parameters<NonNullable<Driver['flush']>>[0]) => real.flush!(ctx) } : {}),
    };
  };

  private async before(action: Action): Promise<void> {
    const name = (action as LooseAction).instance!;
    if (!this.entered.has(name)) {
      this.entered.add(name);
      this.inFlight.add(name);
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight.size);
      this.wake();
    }
    if (action.type === 'start') await this.barrier();
    const n = (this.applying.get(name) ?? 0) + 1;
    this.applying.set(name, n);
    this.maxPerInstance = Math.max(this.maxPerInstance, n);
  }

  private ready(): boolean {
    return this.gaveUp || this.inFlight.size >= this.limit || this.entered.size === this.total;
  }

  private async barrier(): Promise<void> {
    while (!this.ready()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.gaveUp = true;
          resolve();
        }, BARRIER_GIVE_UP_MS);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

describe.skipIf(gate.skip)('executor queues on tmux (real server, private socket)', () => {
  const app = `eq${process.pid}${randomBytes(3).toString('hex')}`;
  /** Interleaved so that the first two instances to get a slot ask for different builds at once. */
  const instances = [
    { name: 'a', version: 'v1.0.0' }, { name: 'b', version: 'v1.1.0' }, { name: 'c', version: 'v1.0.0' }, { name: 'd', version: 'v1.1.0' },
  ];
  const ports = new Map<string, number>();
  let root: string;
  let paths: RootPaths;
  let buildsLog: string;
  const cleanups: (() => Promise<void>)[] = [];

  const tendYaml = (concurrency: number) => {
    const file = join(root, 'tend.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ {2}concurrency: \d+$/m, `  concurrency: ${concurrency}`));
  };
  const desire = (env?: string) => {
    for (const i of instances) {
      writeFileSync(join(root, 'desired', `${i.name}.yaml`), [
        `version: ${i.version}`, 'runtime: tmux', `port: ${ports.get(i.name)!}`,
        'health:', '  http: /health', '  timeout: 20s', '  interval: 100ms',
        ...(env ? ['env:', `  ROUND: "${env}"`] : []), '',
      ].join('\n'));
    }
  };

  /** Observe, plan and execute once, through the probe. */
  const run = async (limit: number): Promise<{ plan: Plan; report: ExecuteReport; probe: Probe }> => {
    const loaded = loadConfig({ cwd: root, dir: root, env: {} });
    paths = loaded.paths;
    expect(loaded.config!.agent.concurrency).toBe(limit);
    const desired = loadDesired({ root, desiredDir: paths.desired, config: loaded.config!, platform: process.platform, launchdWarn: false });
    const o = await observeAll(desired, paths);
    const plan = makePlan(desired, o.observed, o.releases, o.instances);
    const probe = new Probe(instances.length, limit);
    const report = await execute(plan, {
      desired, paths, states: o.instances, releases: o.releases, updatedBy: 'test@host',
      log: probe.log, driverFor: probe.driverFor, faults: { afterAction: () => undefined },
    });
    return { plan, report, probe };
  };
  const buildLines = () => readFileSync(buildsLog, 'utf8').split('\n').filter((l) => l !== '');
  const versionOf = async (name: string) => (await httpGet(`http://127.0.0.1:${ports.get(name)!}/version`)).body.trim();

  beforeAll(async () => {
    gate.check();
    root = scratch('executor-queue');
    await fixtureRoot(tmux, root, app, {
      runtimeYaml: `tmux:\n  socket: ${app}\ndocker:\n  discovery:\n    enabled: false\nagent:\n  concurrency: 2`,
    });
    cleanups.push(async () => {
      await execa('tmux', ['-L', app, 'kill-server'], { reject: false, stdin: 'ignore' });
      rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, app), { force: true });
    });
    // The build command records when each build starts and ends, then runs the fixture's build.sh.
    buildsLog = join(root, 'builds.log');
    writeFileSync(buildsLog, '');
    const wrapper = join(root, 'build-wrapper.sh');
    writeFileSync(wrapper, [
      '#!/usr/bin/env bash', 'set -euo pipefail',
      `echo "start $TEND_VERSION $$" >>'${buildsLog}'`, './build.sh', `echo "end $TEND_VERSION $$" >>'${buildsLog}'`, '',
    ].join('\n'));
    chmodSync(wrapper, 0o755);
    const file = join(root, 'tend.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('  build: ./build.sh', `  build: ${wrapper}`));
    for (const i of instances) ports.set(i.name, await freePort());
  }, 60_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }, 60_000);

  it('create 4 instances on 2 new versions, agent.concurrency 2: exactly 2 in flight, one build per version, builds never overlap', async () => {
    desire();
    const { plan, report, probe } = await run(2);
    expect(plan.instances.map((i) => `${i.name}:${i.change}`)).toEqual(['a:create', 'b:create', 'c:create', 'd:create']);
    expect(loose(plan.actions).filter((a) => a.type === 'build-release').map((a) => a.id)).toEqual(['build/v1.0.0', 'build/v1.1.0']);
    expect(report.instances.map((o) => `${o.name}:${o.result}`)).toEqual(['a:ok', 'b:ok', 'c:ok', 'd:ok']);

    expect(probe.entered.size).toBe(4);
    expect(probe.maxInFlight).toBe(2);
    expect(probe.maxPerInstance).toBe(1);

    // One build per version, although two instances wait for each.
    expect([...probe.builds].sort()).toEqual(['v1.0.0', 'v1.1.0']);
    const lines = buildLines().map((l) => l.split(' '));
    expect(lines.map(([what, version]) => `${what} ${version}`).sort()).toEqual(['end v1.0.0', 'end v1.1.0', 'start v1.0.0', 'start v1.1.0']);
    // One at a time: each start is followed by the end of that same build process.
    expect(lines[0]![0]).toBe('start');
    expect(lines[1]).toEqual(['end', lines[0]![1], lines[0]![2]]);
    expect(lines[2]![0]).toBe('start');
    expect(lines[3]).toEqual(['end', lines[2]![1], lines[2]![2]]);

    for (const i of instances) expect(await versionOf(i.name)).toBe(i.version);
  }, 120_000);

  it('all 4 changed at once (an env edit, no build): still exactly 2 in flight', async () => {
    desire('2');
    const { plan, report, probe } = await run(2);
    expect(plan.instances.map((i) => `${i.name}:${i.change}`)).toEqual(['a:reconfigure', 'b:reconfigure', 'c:reconfigure', 'd:reconfigure']);
    for (const ip of plan.instances) expect(ip.actions.map((id) => loose(plan.actions).find((a) => a.id === id)!.type)).toContain('start');
    expect(loose(plan.actions).filter((a) => a.type === 'build-release')).toEqual([]);
    expect(report.instances.map((o) => `${o.name}:${o.result}`)).toEqual(['a:ok', 'b:ok', 'c:ok', 'd:ok']);
    expect(probe.entered.size).toBe(4);
    expect(probe.maxInFlight).toBe(2);
    expect(probe.maxPerInstance).toBe(1);
    expect(probe.builds).toEqual([]);
    expect(buildLines()).toHaveLength(4);
    for (const i of instances) expect(await versionOf(i.name)).toBe(i.version);
  }, 120_000);

  it('the limit follows agent.concurrency: 3 in flight with concurrency 3', async () => {
    tendYaml(3);
    desire('3');
    const { report, probe } = await run(3);
    expect(report.instances.map((o) => `${o.name}:${o.change}:${o.result}`)).toEqual(['a:reconfigure:ok', 'b:reconfigure:ok', 'c:reconfigure:ok', 'd:reconfigure:ok']);
    expect(probe.maxInFlight).toBe(3);
    expect(probe.maxPerInstance).toBe(1);
  }, 120_000);
});
