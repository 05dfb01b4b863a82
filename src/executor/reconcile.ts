// One reconcile: observe, plan (pure), execute; when a health check failed, observe and plan again
// for those instances (the planner now holds the failed spec and plans the rollback, or the stop of
// a first start) and execute that. Never more than these two rounds: a bad version does not loop.
// Each instance is planned again once its lock is taken (another process may have acted first), and
// an instance whose health check failed stays locked until its follow-up is done.
import { hostname, userInfo } from 'node:os';
import type { DesiredState, HistoryReason } from '../model/types.js';
import type { InstancePlan, Plan } from '../model/plan.js';
import { observeAll, observeInstance, type Observation } from '../observe/index.js';
import { plan as makePlan, type PlanOptions } from '../planner/plan.js';
import type { Lock } from '../fs/lock.js';
import type { RootPaths } from '../spec/config.js';
import { withLocksHeld } from '../state/lock.js';
import { execute, type InstanceOutcome, type Log, type Refreshed } from './execute.js';
import { faultSwitch, type FaultSwitch } from './faults.js';

/** What a plan is made with: the planner's options, and a saved observation instead of this host's (`--observed`). */
export interface PreviewOptions extends PlanOptions {
  snapshot?: string;
}

/** Observes and plans: the first half of every reconcile, and all of a dry run or the agent's resync. */
export async function preview(desired: DesiredState, paths: RootPaths, opts: PreviewOptions = {}): Promise<{ observation: Observation; plan: Plan }> {
  const observation = await observeAll(desired, paths, opts.snapshot);
  const { snapshot: _snapshot, ...planOpts } = opts;
  return { observation, plan: makePlan(desired, observation.observed, observation.releases, observation.instances, planOpts) };
}

export interface ReconcileOptions {
  prune?: boolean;
  force?: boolean;
  /** Instances whose removal was asked for (`tend delete`): see PlanOptions.remove. */
  remove?: ReadonlySet<string>;
  /** Told the first plan and what it was made from before anything is done; throwing stops the reconcile. */
  onPlan?: (plan: Plan, observation: Observation) => void | Promise<void>;
  signal?: AbortSignal;
  log?: Log;
  /** Default `user@host`. */
  updatedBy?: string;
  /** Reconcile only these instances (others are planned but not touched). */
  only?: ReadonlySet<string>;
  historyReason?: Readonly<Record<string, HistoryReason>>;
  faults?: FaultSwitch;
  /** Told when a build ends (the agent's metrics). */
  onBuild?: (version: string, durationMs: number, ok: boolean) => void;
}

/** 0 converged, 1 errors (a failed action, a failed rollback, error diagnostics), 3 converged except held or rolled-back instances. */
export type ReconcileExit = 0 | 1 | 3;

export interface ReconcileResult {
  /** The plan carried out first, then the follow-up plan when there was one. */
  plans: Plan[];
  /**
   * Each instance's plan in the last round, as carried out: where an instance was planned again under
   * its lock (another process may have acted first), that plan.
   */
  final: InstancePlan[];
  /** The last outcome of every instance that had work. */
  outcomes: InstanceOutcome[];
  /** Instances held (quarantined) or rolled back after this reconcile. */
  held: string[];
  exitCode: ReconcileExit;
}

export function defaultUpdatedBy(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    // no passwd entry for this uid (containers): fall back to the uid
    return `uid${process.getuid?.() ?? '?'}@${hostname()}`;
  }
}

export async function reconcile(desired: DesiredState, paths: RootPaths, opts: ReconcileOptions = {}): Promise<ReconcileResult> {
  const planOpts: PlanOptions = { prune: opts.prune ?? false, force: opts.force ?? false, ...(opts.remove ? { remove: opts.remove } : {}) };
  const common = {
    desired, paths, updatedBy: opts.updatedBy ?? defaultUpdatedBy(),
    ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.log ? { log: opts.log } : {}),
    ...(opts.historyReason ? { historyReason: opts.historyReason } : {}),
    ...(opts.onBuild ? { onBuild: opts.onBuild } : {}),
    // One switch for both rounds: crash-after:<id>:<n> counts the follow-up's actions after the first round's.
    faults: opts.faults ?? faultSwitch(),
  };
  const kept = new Map<string, Lock>();
  try {
    const { observation: o1, plan: p1 } = await preview(desired, paths, planOpts);
    await opts.onPlan?.(p1, o1);
    const r1 = await execute(p1, {
      ...common, states: o1.instances, releases: o1.releases, refresh: refresher(desired, paths, o1, planOpts), keepLocks: kept,
      ...(opts.only ? { only: opts.only } : {}),
    });
    const plans = [p1];
    const last = new Map(r1.instances.map((o) => [o.name, o]));
    const again = new Set(r1.instances.filter((o) => o.result === 'unhealthy').map((o) => o.name));
    /** Each instance's plan in the last round: as made again under its lock where it was, else the round's plan. */
    let final = effective(p1, r1.instances);
    /** Actions of an instance put back the last healthy spec (a rollback, or upkeep of the rollback target). */
    const fromApplied = (p: Plan, outcomes: readonly InstanceOutcome[], name: string) =>
      outcomes.find((o) => o.name === name)?.fromApplied ?? p.actions.some((a) => a.type !== 'build-release' && a.type !== 'orphan' && a.instance === name && a.from === 'applied');
    /**
     * Unhealthy, then held by the follow-up with nothing to do, and not a rollback (target) that failed:
     * the failed version stays as it is by choice (rollout.autoRollback off), held like a rollback.
     */
    const settled = new Set<string>();
    let lastOutcomes = r1.instances;
    let lastPlan = p1;
    if (again.size > 0) {
      // The unhealthy instances are still locked (kept): nobody acts on them between the two rounds.
      await withLocksHeld([...kept.values()], async () => {
        const o2 = await observeAll(desired, paths);
        // --force must not override the hold just recorded: the follow-up always respects it.
        const followOpts = { ...planOpts, force: false };
        const p2 = makePlan(desired, o2.observed, o2.releases, o2.instances, followOpts);
        plans.push(p2);
        const r2 = await execute(p2, { ...common, states: o2.instances, releases: o2.releases, only: again, refresh: refresher(desired, paths, o2, followOpts) });
        for (const o of r2.instances) last.set(o.name, o);
        final = effective(p2, r2.instances);
        for (const ip of final) {
          if (again.has(ip.name) && ip.change === 'held' && ip.actions.length === 0 && !fromApplied(p1, r1.instances, ip.name)) settled.add(ip.name);
        }
        lastOutcomes = r2.instances;
        lastPlan = p2;
      });
    }
    const outcomes = [...last.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const inScope = (ip: InstancePlan) => !opts.only || opts.only.has(ip.name);
    const held = [...new Set([
      ...final.filter((ip) => inScope(ip) && ip.change === 'held').map((ip) => ip.name),
      // Rolled back (or stopped) in the follow-up, or a rollback planned up front: the hold was recorded by an
      // earlier run that did not finish it (killed mid-rollback).
      ...outcomes.filter((o) => o.result === 'ok' && (again.has(o.name) || o.change === 'rollback')).map((o) => o.name),
      // Upkeep of a rollback target (restarted after it died): still rolled back, the failed version held.
      ...final.filter((ip) => inScope(ip) && fromApplied(lastPlan, lastOutcomes, ip.name)).map((ip) => ip.name),
    ])].sort();
    // Still unhealthy after the follow-up: a rollback that failed too.
    const failed = outcomes.some((o) => o.result !== 'ok' && !settled.has(o.name))
      || p1.diagnostics.some((d) => d.severity === 'error' && (!opts.only || (d.instance !== undefined && opts.only.has(d.instance))))
      || final.some((ip) => inScope(ip) && (ip.change === 'blocked' || ip.change === 'invalid'));
    return { plans, final, outcomes, held, exitCode: failed ? 1 : held.length > 0 ? 3 : 0 };
  } finally {
    for (const lock of kept.values()) lock.release();
  }
}

/** The plan's instances, each replaced by its plan as made again under its lock where there was one. */
function effective(p: Plan, outcomes: readonly InstanceOutcome[]): InstancePlan[] {
  const again = new Map(outcomes.flatMap((o) => (o.plan ? [[o.name, o.plan] as const] : [])));
  return p.instances.map((ip) => (ip.change === 'orphan' ? ip : again.get(ip.name) ?? ip));
}

/** Observes and plans one instance again (its runtimes, releases, state files; the rest reused from `base`). */
function refresher(desired: DesiredState, paths: RootPaths, base: Observation, planOpts: PlanOptions) {
  return async (name: string): Promise<Refreshed> => {
    const o = await observeInstance(desired, paths, name, base);
    return { plan: makePlan(desired, o.observed, o.releases, o.instances, planOpts), states: o.instances, releases: o.releases };
  };
}
