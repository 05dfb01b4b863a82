// The executor: carries out a plan's actions and records what happened. It decides nothing — the
// order (dependsOn), which spec an action uses (`from: applied` for rollbacks) and what to do after a
// failed health check (the planner's next plan) all come from the plan.
//
// - Instances run at most `agent.concurrency` at once, one action at a time each, under the instance
//   lock every tend process shares; builds run in their own queue (one at a time by default), once
//   per release however many instances wait for it.
// - With `refresh`, an instance is observed and planned again once its lock is taken: what another
//   process did meanwhile is not done twice, and nothing left to do means nothing is done.
// - A chain that ends healthy records the applied spec in status.json and one history line; a failed
//   health check records the hold (quarantine) and a `failed` history line, and the instance is
//   reported `unhealthy` so the caller re-plans it (rollback, or stop after a first start).
import { join } from 'node:path';
import PQueue from 'p-queue';
import type {
  Action, BuiltRelease, Change, DesiredState, HistoryReason, InstancePlan, InstanceStates, Plan, ReleaseCatalog, Runtime,
} from '../model/types.js';
import { drivers } from '../drivers/registry.js';
import type { ApplyContext, Driver } from '../drivers/types.js';
import { writeInstanceConfig } from './write-config.js';
import { buildRelease } from '../release/build.js';
import type { RootPaths } from '../spec/config.js';
import { describeOwner, type Lock, type LockOwner } from '../fs/lock.js';
import { withInstanceLock } from '../state/lock.js';
import { readStatus, statusPath, updateStatus } from '../state/status.js';
import { faultSwitch, type FaultSwitch } from './faults.js';
import { recorder, specOf, type InstanceView } from './record.js';
import { markOutput, type OutputMark } from './exit-cause.js';
import { HealthFailure, sleepUntil, verifyHealth } from './verify.js';
import type { Log } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';

export type { Log, LogLevel } from '../shared/log.js';

export interface ExecuteOptions {
  desired: DesiredState;
  paths: RootPaths;
  /** Instance state as observed before the plan (applied spec for rollbacks, .env digest). */
  states: InstanceStates;
  releases: ReleaseCatalog;
  /** `user@host` or `agent`, for history. */
  updatedBy: string;
  signal?: AbortSignal;
  log?: Log;
  /** Run only these instances' actions (and the builds they need). */
  only?: ReadonlySet<string>;
  /** History reason per instance when the caller knows better (`tend rollback`: rollback). */
  historyReason?: Readonly<Record<string, HistoryReason>>;
  faults?: FaultSwitch;
  /** The driver of a runtime (default: the registry's). */
  driverFor?: (runtime: Runtime) => Promise<Driver>;
  /** Builds at once (default 1). */
  buildConcurrency?: number;
  /** Told when a build this run carried out ends (not when it reused a release another process built meanwhile). */
  onBuild?: (version: string, durationMs: number, ok: boolean) => void;
  /**
   * Observes and plans one instance again; called once its lock is taken, before anything is done to
   * it, so a process that waited for the lock acts on what the holder left, not on a stale plan.
   */
  refresh?: (name: string) => Promise<Refreshed>;
  /** Instances whose health check failed keep their lock, put here; the caller runs the follow-up and releases them. */
  keepLocks?: Map<string, Lock>;
}

/** A plan made again for one instance (see `refresh`), with what it was made from. */
export interface Refreshed {
  plan: Plan;
  states: InstanceStates;
  releases: ReleaseCatalog;
}

export type InstanceResult = 'ok' | 'unhealthy' | 'failed';

export interface InstanceOutcome {
  name: string;
  change: Change;
  result: InstanceResult;
  version?: string;
  /** Why it is unhealthy or failed. */
  reason?: string;
  /** Types of the actions carried out, in order. */
  done: string[];
  /** The instance's plan as made again under its lock (with `refresh`): what was carried out. */
  plan?: InstancePlan;
  /** Its actions put back the last healthy spec (a rollback, or upkeep of the rollback target). */
  fromApplied: boolean;
}

export interface ExecuteReport {
  instances: InstanceOutcome[];
}

export async function execute(plan: Plan, opts: ExecuteOptions): Promise<ExecuteReport> {
  const config = opts.desired.config;
  const paths = opts.paths;
  const log: Log = opts.log ?? (() => undefined);
  const faults = opts.faults ?? faultSwitch();
  const driverFor = opts.driverFor ?? ((rt: Runtime) => drivers[rt]());
  const byId = new Map(plan.actions.map((a) => [a.id, a]));
  const builds = new PQueue({ concurrency: opts.buildConcurrency ?? 1 });
  const instancesQueue = new PQueue({ concurrency: Math.max(1, config.agent.concurrency) });
  const buildRuns = new Map<string, Promise<void>>();
  const usedRuntimes = new Set<Runtime>();

  const built = new Map<string, BuiltRelease>();
  const record = recorder({
    desired: opts.desired, paths, updatedBy: opts.updatedBy, log, built,
    ...(opts.historyReason ? { historyReason: opts.historyReason } : {}),
  });
  const lockOptions = (name: string) => ({
    ...(opts.signal ? { signal: opts.signal } : {}), purpose: `tend reconcile ${name}`,
    onWait: (owner: LockOwner | undefined) => log('info', `${name}: waiting for ${describeOwner(owner)}`, { instance: name }),
    onStale: (owner: LockOwner | undefined) => log('warn', `${name}: took over the lock left by ${describeOwner(owner)}`, { instance: name }),
  });

  /** Runs a build action once per run, however many instances (and plans made again) wait for it. */
  const build = (action: Action): Promise<void> => {
    const id = action.id;
    let run = buildRuns.get(id);
    if (!run) {
      run = builds.add(async () => {
        if (!action.version || !action.commit) throw new Error(`cannot build ${action.version ?? '?'}: its commit is unresolved`);
        log('info', `building ${action.version}`, { action: id });
        const started = Date.now();
        const r = await buildRelease({
          paths, config, version: action.version, commit: action.commit,
          ...(opts.signal ? { signal: opts.signal } : {}),
          log: (level, message) => log(level, message, { action: id }),
        }).catch((err: unknown) => {
          opts.onBuild?.(action.version!, Date.now() - started, false);
          throw err;
        });
        // Reused: another process built it while this one waited for the version's build lock.
        if (r.outcome !== 'reused') opts.onBuild?.(action.version, Date.now() - started, true);
        built.set(action.version, {
          version: action.version, commit: action.commit, valid: true, ...(r.manifest.image?.id ? { imageId: r.manifest.image.id } : {}),
        });
        faults.afterAction(action);
      }, { throwOnTimeout: true });
      buildRuns.set(id, run);
    }
    return run;
  };


  const releaseOf = (action: Action, view: InstanceView): ApplyContext['release'] => {
    const version = action.version;
    if (!version) return undefined;
    const release = built.get(version) ?? view.releases.built[version];
    const commit = action.commit ?? release?.commit ?? (action.from === 'applied' ? view.states[action.instance!]?.applied?.commit : undefined);
    return {
      version, commit: commit ?? 'unresolved', valid: release?.valid ?? true,
      ...(release?.imageId ? { imageId: release.imageId } : {}),
      dir: join(paths.releases, version),
    };
  };

  /** Carries one action out. verify-health failures throw HealthFailure. */
  const runAction = async (action: Action, view: InstanceView, mark: OutputMark): Promise<void> => {
    const spec = specOf(opts.desired, action, view.states);
    const name = action.instance!;
    switch (action.type) {
      case 'build-release':
        return build(action);
      case 'orphan':
        return;
      case 'write-config': {
        if (!spec) throw new Error(`${action.id}: no spec to render config.yaml from`);
        writeInstanceConfig(paths, config, name, spec, action.runtime ?? spec.runtime as Runtime, action.version ?? '');
        return;
      }
      case 'verify-health': {
        if (!spec) throw new Error(`${action.id}: no spec to check health against`);
        return verifyHealth(action, spec, await driverFor(action.runtime!), { config, paths, ...(opts.signal ? { signal: opts.signal } : {}) }, log, mark);
      }
      default: {
        const runtime = action.runtime!;
        usedRuntimes.add(runtime);
        const driver = await driverFor(runtime);
        const release = releaseOf(action, view);
        await driver.apply(action, {
          config, paths, ...(spec ? { spec } : {}), ...(release ? { release } : {}), ...(opts.signal ? { signal: opts.signal } : {}),
        });
      }
    }
  };

  /** The instance's plan as this run made it, or made again now that its lock is held (another process may have acted meanwhile). */
  const viewOf = async (ip: InstancePlan): Promise<InstanceView> => {
    const first: InstanceView = { ip, byId, states: opts.states, releases: opts.releases };
    if (!opts.refresh) return first;
    const again = await opts.refresh(ip.name);
    const fresh = again.plan.instances.find((i) => i.name === ip.name && i.change !== 'orphan');
    if (!fresh) return { ...first, ip: { ...ip, change: 'unchanged', actions: [], reason: 'nothing of it is left to act on' } };
    return { ip: fresh, byId: new Map(again.plan.actions.map((a) => [a.id, a])), states: again.states, releases: again.releases };
  };

  const runInstance = async (planned: InstancePlan): Promise<InstanceOutcome> => {
    const name = planned.name;
    const file = statusPath(paths.instances, name);
    const declared = opts.desired.entries.some((e) => e.name === name);
    return withInstanceLock(paths, name, async (lock) => {
      const view = await viewOf(planned);
      const { ip } = view;
      const chain = ip.actions.map((id) => view.byId.get(id)!).filter((a) => a.type !== 'orphan');
      const fromApplied = chain.some((a) => a.from === 'applied');
      const outcome: InstanceOutcome = {
        name, change: ip.change, result: 'ok', done: [], fromApplied, ...(ip.version ? { version: ip.version } : {}), ...(opts.refresh ? { plan: ip } : {}),
      };
      if (chain.length === 0) {
        log('info', `${name}: nothing left to do once its lock was free (${ip.reason})`, { instance: name });
        if (declared) record.settle(ip, view.states);
        return outcome;
      }
      // Upkeep of a rollback target (`from: applied` but no rollback: a restart after it died) stays RolledBack meanwhile.
      const upkeep = ip.change !== 'rollback' && chain.every((a) => a.from === 'applied');
      if (declared) updateStatus(file, { phase: upkeep ? 'RolledBack' : 'Progressing', message: ip.reason, ...(ip.version ? { desiredVersion: ip.version } : {}) });
      let verified = false;
      const mark = markOutput(paths, name);
      for (const action of chain) {
        for (const dep of action.dependsOn) {
          const before = view.byId.get(dep);
          if (before?.type === 'build-release') await build(before);
        }
        opts.signal?.throwIfAborted();
        if (action.notBefore) await sleepUntil(Date.parse(action.notBefore), opts.signal);
        if (action.crash && declared) {
          const crashes = [...(readStatus(file).status?.crashes ?? []), { at: new Date().toISOString(), ...action.crash }].slice(-10);
          updateStatus(file, { crashes, message: action.reason });
        }
        try {
          if (log.debug) log('debug', `${name}: ${action.type} starting`, { instance: name, action: action.id });
          await runAction(action, view, mark);
        } catch (err) {
          const reason = errorMessage(err);
          if (err instanceof HealthFailure) {
            record.unhealthy(ip, action, reason);
            if (lock) opts.keepLocks?.set(name, lock);
            return { ...outcome, result: 'unhealthy' as const, reason };
          }
          if (opts.signal?.aborted) throw err;
          log('error', `${name}: ${action.type} failed: ${reason}`, { instance: name, action: action.id });
          if (declared) updateStatus(file, { phase: 'Failed', message: `${action.type} failed: ${reason}` });
          return { ...outcome, result: 'failed' as const, reason: `${action.type} failed: ${reason}` };
        }
        outcome.done.push(action.type);
        if (action.type === 'verify-health') verified = true;
        faults.afterAction(action);
      }
      if (declared) record.done(view, chain, verified);
      return outcome;
    }, {
      ...lockOptions(name),
      // An unhealthy instance stays locked until the caller has carried out its follow-up (the rollback).
      keep: (o) => o.result === 'unhealthy' && opts.keepLocks?.has(name) === true,
    });
  };

  // Instances without actions whose status.json says otherwise than their plan: record the plan's phase.
  for (const ip of plan.instances) {
    if ((opts.only && !opts.only.has(ip.name)) || ip.actions.length > 0 || !record.unsettled(ip, opts.states)) continue;
    await withInstanceLock(paths, ip.name, async () => {
      const view = await viewOf(ip);
      if (view.ip.actions.length === 0) record.settle(view.ip, view.states);
    }, lockOptions(ip.name));
  }

  const selected = plan.instances.filter((ip) => ip.actions.length > 0 && (!opts.only || opts.only.has(ip.name)));
  const outcomes = await Promise.all(selected.map((ip) => instancesQueue.add(() => runInstance(ip), { throwOnTimeout: true })));
  for (const rt of usedRuntimes) {
    const driver = await driverFor(rt);
    await driver.flush?.({ config, paths, ...(opts.signal ? { signal: opts.signal } : {}) });
  }
  return { instances: outcomes };
}
