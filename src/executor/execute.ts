// The executor: carries out a plan's actions and writes the records the plan names. It decides
// nothing — the order (dependsOn), which spec an action uses (`from: applied`), what status.json and
// the history say when a chain starts, ends or fails its health check (`record`, `onUnhealthy`), and
// what to do after a failed health check (the planner's next plan) all come from the plan.
//
// - Instances run at most `agent.concurrency` at once, one action at a time each, under the instance
//   lock every tend process shares; builds run in their own queue (one at a time by default), once
//   per release however many instances wait for it.
// - With `refresh`, an instance is observed and planned again once its lock is taken: what another
//   process did meanwhile is not done twice, and nothing left to do means nothing is done.
// - One `switch` over the action kinds, ending in a `never` check: a kind without a case does not compile.
import { join } from 'node:path';
import PQueue from 'p-queue';
import type { BuiltRelease, DesiredState, HistoryReason, InstanceSpec, InstanceStates, ReleaseCatalog, Runtime, TendConfig } from '../model/types.js';
import type { Action, BuildAction, ChainAction, Change, InstancePlan, Plan, RuntimeAction } from '../model/plan.js';
import { drivers } from '../drivers/registry.js';
import type { ApplyContext, Driver } from '../drivers/types.js';
import { writeInstanceConfig } from './write-config.js';
import { buildRelease } from '../release/build.js';
import type { RootPaths } from '../spec/config.js';
import { describeOwner, type Lock, type LockOwner } from '../fs/lock.js';
import { withInstanceLock } from '../state/lock.js';
import { readStatus, statusPath, updateStatus } from '../state/status.js';
import { faultSwitch, type FaultSwitch } from './faults.js';
import { specOf, writeRecord, type RecordContext } from './record.js';
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

/** One instance's plan and what it was planned from: the run's plan, or the one made again under its lock. */
export interface InstanceView {
  ip: InstancePlan;
  byId: ReadonlyMap<string, Action>;
  states: InstanceStates;
  releases: ReleaseCatalog;
}

export interface ExecuteReport {
  instances: InstanceOutcome[];
}

export async function execute(plan: Plan, opts: ExecuteOptions): Promise<ExecuteReport> {
  return new PlanRun(plan, opts).run();
}

/** One execution of a plan: its queues, the builds it ran, the runtimes it touched. */
class PlanRun {
  private readonly config: TendConfig;
  private readonly paths: RootPaths;
  private readonly log: Log;
  private readonly faults: FaultSwitch;
  private readonly driverFor: (runtime: Runtime) => Promise<Driver>;
  private readonly byId: ReadonlyMap<string, Action>;
  private readonly builds: PQueue;
  private readonly instances: PQueue;
  private readonly buildRuns = new Map<string, Promise<void>>();
  private readonly usedRuntimes = new Set<Runtime>();
  /** Releases built by this run (not yet in an observation made before the build). */
  private readonly built = new Map<string, BuiltRelease>();
  private readonly records: RecordContext;

  constructor(private readonly plan: Plan, private readonly opts: ExecuteOptions) {
    this.config = opts.desired.config;
    this.paths = opts.paths;
    this.log = opts.log ?? (() => undefined);
    this.faults = opts.faults ?? faultSwitch();
    this.driverFor = opts.driverFor ?? ((rt: Runtime) => drivers[rt]());
    this.byId = new Map(plan.actions.map((a) => [a.id, a]));
    this.builds = new PQueue({ concurrency: opts.buildConcurrency ?? 1 });
    this.instances = new PQueue({ concurrency: Math.max(1, this.config.agent.concurrency) });
    this.records = { paths: this.paths, updatedBy: opts.updatedBy, log: this.log, ...(opts.historyReason ? { historyReason: opts.historyReason } : {}) };
  }

  async run(): Promise<ExecuteReport> {
    const { plan, opts } = this;
    // Instances without actions whose status.json says otherwise than their plan: write the planned record.
    for (const ip of plan.instances) {
      if ((opts.only && !opts.only.has(ip.name)) || ip.actions.length > 0 || !ip.record?.done) continue;
      await withInstanceLock(this.paths, ip.name, async () => {
        const view = await this.viewOf(ip);
        if (view.ip.actions.length === 0 && view.ip.record?.done) writeRecord(this.records, ip.name, view.ip.record.done);
      }, this.lockOptions(ip.name));
    }
    const selected = plan.instances.filter((ip) => ip.actions.length > 0 && (!opts.only || opts.only.has(ip.name)));
    const outcomes = await Promise.all(selected.map((ip) => this.instances.add(() => this.runInstance(ip), { throwOnTimeout: true })));
    for (const rt of this.usedRuntimes) {
      const driver = await this.driverFor(rt);
      await driver.flush?.({ config: this.config, paths: this.paths, ...this.signal() });
    }
    return { instances: outcomes };
  }

  private signal(): { signal?: AbortSignal } {
    return this.opts.signal ? { signal: this.opts.signal } : {};
  }

  private lockOptions(name: string) {
    const log = this.log;
    return {
      ...this.signal(), purpose: `tend reconcile ${name}`,
      onWait: (owner: LockOwner | undefined) => log('info', `${name}: waiting for ${describeOwner(owner)}`, { instance: name }),
      onStale: (owner: LockOwner | undefined) => log('warn', `${name}: took over the lock left by ${describeOwner(owner)}`, { instance: name }),
    };
  }

  /** Runs a build action once per run, however many instances (and plans made again) wait for it. */
  private build(action: BuildAction): Promise<void> {
    let run = this.buildRuns.get(action.id);
    if (!run) {
      run = this.builds.add(() => this.buildOnce(action), { throwOnTimeout: true });
      this.buildRuns.set(action.id, run);
    }
    return run;
  }

  private async buildOnce(action: BuildAction): Promise<void> {
    const { id, version, commit } = action;
    const { opts, log } = this;
    if (!commit) throw new Error(`cannot build ${version}: its commit is unresolved`);
    log('info', `building ${version}`, { action: id });
    const started = Date.now();
    const r = await buildRelease({
      paths: this.paths, config: this.config, version, commit, ...this.signal(),
      log: (level, message) => log(level, message, { action: id }),
    }).catch((err: unknown) => {
      opts.onBuild?.(version, Date.now() - started, false);
      throw err;
    });
    // Reused: another process built it while this one waited for the version's build lock.
    if (r.outcome !== 'reused') opts.onBuild?.(version, Date.now() - started, true);
    this.built.set(version, { version, commit, valid: true, ...(r.manifest.image?.id ? { imageId: r.manifest.image.id } : {}) });
    await this.faults.afterAction(action, this.opts.signal);
  }

  /** The release a runtime action names (version and commit from the plan; where it is, from this run or the observation). */
  private releaseOf(action: RuntimeAction, view: InstanceView): ApplyContext['release'] {
    const version = action.version;
    if (!version) return undefined;
    const release = this.built.get(version) ?? view.releases.built[version];
    return {
      version, commit: action.commit ?? 'unresolved', valid: release?.valid ?? true,
      ...(release?.imageId ? { imageId: release.imageId } : {}), dir: join(this.paths.releases, version),
    };
  }

  private async applyRuntime(action: RuntimeAction, view: InstanceView): Promise<void> {
    this.usedRuntimes.add(action.runtime);
    const driver = await this.driverFor(action.runtime);
    const spec = specOf(this.opts.desired, action, view.states);
    const release = this.releaseOf(action, view);
    await driver.apply(action, { config: this.config, paths: this.paths, ...(spec ? { spec } : {}), ...(release ? { release } : {}), ...this.signal() });
  }

  /** The spec a chain action needs (write-config renders it, verify-health checks against it). */
  private needSpec(action: ChainAction, view: InstanceView): InstanceSpec {
    const spec = specOf(this.opts.desired, action, view.states);
    if (!spec) throw new Error(`${action.id}: no spec for ${action.instance} (its desired file is not valid)`);
    return spec;
  }

  /** Carries one action out: one case per kind, and adding a kind without one does not compile. */
  private async runAction(action: Action, view: InstanceView, mark: OutputMark): Promise<void> {
    switch (action.type) {
      case 'build-release':
        return this.build(action);
      case 'orphan':
        return;
      case 'write-config':
        writeInstanceConfig(this.paths, this.config, action.instance, this.needSpec(action, view), action.runtime, action.version);
        return;
      case 'verify-health': {
        const driver = await this.driverFor(action.runtime);
        return verifyHealth(action, this.needSpec(action, view), driver, { config: this.config, paths: this.paths, ...this.signal() }, this.log, mark);
      }
      case 'load-image': case 'write-unit': case 'create-container': case 'create-session':
      case 'start': case 'stop': case 'restart': case 'delete':
        return this.applyRuntime(action, view);
      default: {
        const unknown: never = action;
        throw new Error(`unknown action ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** The instance's plan as this run made it, or made again now that its lock is held (another process may have acted meanwhile). */
  private async viewOf(ip: InstancePlan): Promise<InstanceView> {
    const first: InstanceView = { ip, byId: this.byId, states: this.opts.states, releases: this.opts.releases };
    if (!this.opts.refresh) return first;
    const again = await this.opts.refresh(ip.name);
    const fresh = again.plan.instances.find((i) => i.name === ip.name && i.change !== 'orphan');
    if (!fresh) {
      // Nothing of it left to plan: no action, and none of the records planned for the chain it had.
      const { record: _record, ...rest } = ip;
      return { ...first, ip: { ...rest, change: 'unchanged', actions: [], reason: 'nothing of it is left to act on' } };
    }
    return { ip: fresh, byId: new Map(again.plan.actions.map((a) => [a.id, a])), states: again.states, releases: again.releases };
  }

  /** Waits for what the action needs first (its build) and the planned backoff; records the crash it recovers from. */
  private async before(action: ChainAction, view: InstanceView): Promise<void> {
    for (const dep of action.dependsOn) {
      const first = view.byId.get(dep);
      if (first?.type === 'build-release') await this.build(first);
    }
    this.opts.signal?.throwIfAborted();
    await this.faults.beforeAction?.(action, this.opts.signal);
    if (action.type === 'write-config' || action.type === 'verify-health') return;
    if (action.notBefore) await sleepUntil(Date.parse(action.notBefore), this.opts.signal);
    if (action.crash && view.ip.record) {
      const file = statusPath(this.paths.instances, action.instance);
      const crashes = [...(readStatus(file).status?.crashes ?? []), { at: new Date().toISOString(), ...action.crash }].slice(-10);
      updateStatus(file, { crashes, message: action.reason });
    }
  }

  private async runInstance(planned: InstancePlan): Promise<InstanceOutcome> {
    const name = planned.name;
    return withInstanceLock(this.paths, name, async (lock) => {
      const view = await this.viewOf(planned);
      const { ip } = view;
      const chain = ip.actions.map((id) => view.byId.get(id)!).filter((a): a is ChainAction => a.type !== 'orphan' && a.type !== 'build-release');
      const outcome: InstanceOutcome = {
        name, change: ip.change, result: 'ok', done: [], fromApplied: chain.some((a) => a.from === 'applied'),
        ...(ip.version ? { version: ip.version } : {}), ...(this.opts.refresh ? { plan: ip } : {}),
      };
      if (chain.length === 0) {
        this.log('info', `${name}: nothing left to do once its lock was free (${ip.reason})`, { instance: name });
        if (ip.record?.done) writeRecord(this.records, name, ip.record.done);
        return outcome;
      }
      return this.runChain(view, chain, outcome, lock);
    }, {
      ...this.lockOptions(name),
      // An unhealthy instance stays locked until the caller has carried out its follow-up (the rollback).
      keep: (o) => o.result === 'unhealthy' && this.opts.keepLocks?.has(name) === true,
    });
  }

  /** Carries out one instance's chain, writing the records its plan names as it starts, ends or fails health. */
  private async runChain(view: InstanceView, chain: ChainAction[], outcome: InstanceOutcome, lock: Lock | undefined): Promise<InstanceOutcome> {
    const { ip } = view;
    const name = ip.name;
    if (ip.record?.start) writeRecord(this.records, name, ip.record.start);
    const mark = markOutput(this.paths, name);
    let spec: InstanceSpec | undefined;
    for (const action of chain) {
      await this.before(action, view);
      try {
        if (this.log.debug) this.log('debug', `${name}: ${action.type} starting`, { instance: name, action: action.id });
        if (action.type === 'write-config') spec = this.needSpec(action, view);
        await this.runAction(action, view, mark);
      } catch (err) {
        return this.failed(view, action, err, outcome, lock);
      }
      outcome.done.push(action.type);
      await this.faults.afterAction(action, this.opts.signal);
    }
    const applied = { spec: spec ?? specOf(this.opts.desired, chain[0]!, view.states), envDigest: view.states[name]?.env.digest ?? '' };
    if (ip.record?.done) writeRecord(this.records, name, ip.record.done, applied);
    return outcome;
  }

  /** An action threw: a failed health check writes the plan's failure branch (and keeps the lock); anything else is Failed. */
  private failed(view: InstanceView, action: ChainAction, err: unknown, outcome: InstanceOutcome, lock: Lock | undefined): InstanceOutcome {
    const name = view.ip.name;
    const reason = errorMessage(err);
    if (err instanceof HealthFailure && action.type === 'verify-health') {
      if (action.onUnhealthy) writeRecord(this.records, name, action.onUnhealthy, undefined, reason);
      if (lock) this.opts.keepLocks?.set(name, lock);
      return { ...outcome, result: 'unhealthy', reason };
    }
    if (this.opts.signal?.aborted) throw err;
    this.log('error', `${name}: ${action.type} failed: ${reason}`, { instance: name, action: action.id });
    if (view.ip.record?.failed) writeRecord(this.records, name, view.ip.record.failed, undefined, `${action.type} failed: ${reason}`);
    return { ...outcome, result: 'failed', reason: `${action.type} failed: ${reason}` };
  }
}
