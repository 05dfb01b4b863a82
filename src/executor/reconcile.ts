// One reconcile: observe, plan (pure), execute; when a health check failed, observe and plan again
// for those instances (the planner now holds the failed spec and plans the rollback, or the stop of
// a first start) and execute that. Never more than these two rounds: a bad version does not loop.
import { hostname, userInfo } from 'node:os';
import type { DesiredState, HistoryReason, InstancePlan, Plan } from '../model/types.js';
import { observeAll } from '../observe/index.js';
import { plan as makePlan } from '../planner/plan.js';
import type { RootPaths } from '../spec/config.js';
import { execute, type InstanceOutcome, type Log } from './execute.js';
import { faultSwitch, type FaultSwitch } from './faults.js';

export interface ReconcileOptions {
  prune?: boolean;
  force?: boolean;
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
    return `uid${process.getuid?.() ?? '?'}@${hostname()}`;
  }
}

export async function reconcile(desired: DesiredState, paths: RootPaths, opts: ReconcileOptions = {}): Promise<ReconcileResult> {
  const planOpts = { prune: opts.prune ?? false, force: opts.force ?? false };
  const common = {
    desired, paths, updatedBy: opts.updatedBy ?? defaultUpdatedBy(),
    ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.log ? { log: opts.log } : {}),
    ...(opts.historyReason ? { historyReason: opts.historyReason } : {}),
    ...(opts.onBuild ? { onBuild: opts.onBuild } : {}),
    // One switch for both rounds: crash-after:<id>:<n> counts the follow-up's actions after the first round's.
    faults: opts.faults ?? faultSwitch(),
  };
  const o1 = await observeAll(desired, paths);
  const p1 = makePlan(desired, o1.observed, o1.releases, o1.instances, planOpts);
  const r1 = await execute(p1, { ...common, states: o1.instances, releases: o1.releases, ...(opts.only ? { only: opts.only } : {}) });
  const plans = [p1];
  const last = new Map(r1.instances.map((o) => [o.name, o]));
  const again = new Set(r1.instances.filter((o) => o.result === 'unhealthy').map((o) => o.name));
  let finalPlan = p1;
  /** Actions of an instance put back the last healthy spec (a rollback, or upkeep of the rollback target). */
  const fromApplied = (p: Plan, name: string) => p.actions.some((a) => a.instance === name && a.from === 'applied');
  /**
   * Unhealthy, then held by the follow-up with nothing to do, and not a rollback (target) that failed:
   * the failed version stays as it is by choice (rollout.autoRollback off), held like a rollback.
   */
  const settled = new Set<string>();
  if (again.size > 0) {
    const o2 = await observeAll(desired, paths);
    // --force must not override the hold just recorded: the follow-up always respects it.
    const p2 = makePlan(desired, o2.observed, o2.releases, o2.instances, { ...planOpts, force: false });
    plans.push(p2);
    finalPlan = p2;
    const r2 = await execute(p2, { ...common, states: o2.instances, releases: o2.releases, only: again });
    for (const o of r2.instances) last.set(o.name, o);
    for (const ip of p2.instances) {
      if (again.has(ip.name) && ip.change === 'held' && ip.actions.length === 0 && !fromApplied(p1, ip.name)) settled.add(ip.name);
    }
  }
  const outcomes = [...last.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const inScope = (ip: InstancePlan) => !opts.only || opts.only.has(ip.name);
  const held = [...new Set([
    ...finalPlan.instances.filter((ip) => inScope(ip) && ip.change === 'held').map((ip) => ip.name),
    // Rolled back (or stopped) in the follow-up, or a rollback planned up front: the hold was recorded by an
    // earlier run that did not finish it (killed mid-rollback).
    ...outcomes.filter((o) => o.result === 'ok' && (again.has(o.name) || o.change === 'rollback')).map((o) => o.name),
    // Upkeep of a rollback target (restarted after it died): still rolled back, the failed version held.
    ...finalPlan.instances.filter((ip) => inScope(ip) && fromApplied(finalPlan, ip.name)).map((ip) => ip.name),
  ])].sort();
  // Still unhealthy after the follow-up: a rollback that failed too.
  const failed = outcomes.some((o) => o.result !== 'ok' && !settled.has(o.name))
    || p1.diagnostics.some((d) => d.severity === 'error' && (!opts.only || (d.instance !== undefined && opts.only.has(d.instance))))
    || finalPlan.instances.some((ip) => inScope(ip) && (ip.change === 'blocked' || ip.change === 'invalid'));
  return { plans, outcomes, held, exitCode: failed ? 1 : held.length > 0 ? 3 : 0 };
}
