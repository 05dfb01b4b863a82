// What the executor writes when an instance's chain ends: status.json (phase, hold, applied spec) and
// one history line. Every choice comes from the plan (its change, `from: applied`, the phase it names).
import type {
  Action, AppliedSpec, BuiltRelease, Change, DesiredState, HistoryReason, Hold, InstancePlan, InstanceSpec, InstanceStates, ReleaseCatalog,
} from '../model/types.js';
import type { RootPaths } from '../spec/config.js';
import { appendHistory, historyPath } from '../state/history.js';
import { readStatus, statusPath, updateStatus } from '../state/status.js';
import type { Log } from '../shared/log.js';

/** One instance's plan and what it was planned from: the run's plan, or the one made again under its lock. */
export interface InstanceView {
  ip: InstancePlan;
  byId: ReadonlyMap<string, Action>;
  states: InstanceStates;
  releases: ReleaseCatalog;
}

export interface RecordContext {
  desired: DesiredState;
  paths: RootPaths;
  updatedBy: string;
  log: Log;
  historyReason?: Readonly<Record<string, HistoryReason>>;
  /** Releases built by this run (not yet in an observation made before the build). */
  built: ReadonlyMap<string, BuiltRelease>;
}

const HISTORY_REASON: Partial<Record<Change, HistoryReason>> = {
  create: 'create', update: 'update', replace: 'update', reconfigure: 'update', rollback: 'auto-rollback',
};

function now(): string {
  return new Date().toISOString();
}

/** status.json's message for a held spec that is no longer running (a first start that never turned healthy). */
export function heldFailedMessage(held: Hold): string {
  return held.reason.startsWith('Health check timeout') ? held.reason : `Health check failed: ${held.reason}`;
}

/** The spec an action applies: the last healthy one on record (`from: applied`) or the desired file's. */
export function specOf(desired: DesiredState, action: Action, states: InstanceStates): InstanceSpec | undefined {
  const name = action.instance!;
  if (action.from === 'applied') {
    const applied = states[name]?.applied;
    if (!applied) throw new Error(`${action.id}: a rollback action but ${name} has no applied spec on record`);
    return applied.spec;
  }
  const entry = desired.entries.find((e) => e.name === name);
  return entry?.status === 'valid' ? entry.spec : undefined;
}

export function recorder(c: RecordContext) {
  const historyFor = (ip: InstancePlan): HistoryReason | undefined => c.historyReason?.[ip.name] ?? HISTORY_REASON[ip.change];

  /** The history id of this attempt: the spec, the outcome and the status generation it starts from. */
  const attemptId = (name: string, specHash: string, outcome: string): string => {
    const generation = readStatus(statusPath(c.paths.instances, name)).status?.generation ?? 0;
    return `${specHash.slice(0, 16)}:${outcome}:g${generation}`;
  };

  const commitOf = (version: string, action: Action, view: InstanceView): string => {
    const res = view.releases.resolutions[version];
    return action.commit ?? c.built.get(version)?.commit ?? view.releases.built[version]?.commit ?? (res?.status === 'resolved' ? res.commit : undefined)
      ?? view.states[action.instance!]?.applied?.commit ?? 'unresolved';
  };

  const unhealthy = (ip: InstancePlan, action: Action, reason: string): void => {
    const file = statusPath(c.paths.instances, ip.name);
    const version = action.version ?? ip.version ?? 'unknown';
    const specHash = action.specHash ?? '';
    const at = now();
    const why = historyFor(ip);
    if (why) {
      appendHistory(historyPath(c.paths.instances, ip.name), {
        version, updatedAt: at, updatedBy: c.updatedBy, reason: why, outcome: 'failed', detail: reason, id: attemptId(ip.name, specHash, 'failed'),
      });
    }
    const health = { healthy: false, at, reason };
    if (ip.change === 'rollback') {
      c.log('error', `${ip.name}: ROLLBACK FAILED: ${version} is not healthy either (${reason}); nothing further is changed on this instance`, { instance: ip.name });
      updateStatus(file, { phase: 'Failed', health, message: `Rollback to ${version} failed: ${reason}` });
      return;
    }
    if (action.from === 'applied') {
      // The rollback target, restarted, is not healthy either: like a failed rollback (the hold stays).
      c.log('error', `${ip.name}: ${version} (rolled back to) failed its health check after a restart: ${reason}; nothing further is changed on this instance`, { instance: ip.name });
      updateStatus(file, { phase: 'Failed', health, message: `${version} (rolled back to) failed health after a restart: ${reason}` });
      return;
    }
    c.log('warn', `${ip.name}: ${version} failed its health check: ${reason}`, { instance: ip.name });
    updateStatus(file, {
      phase: 'Progressing', health, message: `${version} failed health: ${reason}`,
      held: { version, specHash, at, reason },
    });
  };

  const done = (view: InstanceView, chain: Action[], verified: boolean): void => {
    const { ip } = view;
    const file = statusPath(c.paths.instances, ip.name);
    // The action that names the version and spec (write-config/materialize; a verify-only chain has neither).
    const last = chain.find((a) => a.specHash && a.version) ?? chain.find((a) => a.specHash) ?? chain[0]!;
    const spec = specOf(c.desired, last, view.states);
    const previous = readStatus(file).status;
    if (ip.change === 'delete') return;
    if (!verified) {
      // Nothing checked health: a stop (or a state: stopped instance written but not started).
      const held = previous?.held;
      const stoppedHeld = held && held.specHash === last.specHash;
      updateStatus(file, stoppedHeld
        ? { phase: 'Failed', message: heldFailedMessage(held) }
        : { phase: 'Stopped', message: undefined, ...(spec ? { port: spec.port } : {}) });
      return;
    }
    const version = last.version ?? ip.version ?? spec?.version ?? 'unknown';
    const at = now();
    const why = historyFor(ip);
    const specHash = last.specHash ?? '';
    if (why) {
      appendHistory(historyPath(c.paths.instances, ip.name), {
        version, updatedAt: at, updatedBy: c.updatedBy, reason: why, outcome: 'healthy', id: attemptId(ip.name, specHash, 'healthy'),
      });
    }
    const health = { healthy: true, at };
    const generation = (previous?.generation ?? 0) + 1;
    if (ip.change === 'rollback') {
      const from = previous?.held?.version ?? ip.fromVersion ?? 'the new version';
      c.log('warn', `${ip.name}: Update failed, rolled back to ${version}`, { instance: ip.name });
      updateStatus(file, {
        phase: 'RolledBack', observedVersion: version, health, generation,
        message: `Update failed, rolled back to ${version} (${from}: ${previous?.held?.reason ?? 'health check failed'})`,
      });
      return;
    }
    if (last.from === 'applied') {
      // Upkeep of the rollback target (restarted after it died): still rolled back, the hold stays, no history line.
      const held = previous?.held;
      updateStatus(file, {
        phase: 'RolledBack', observedVersion: version, health, generation,
        message: `Update failed, rolled back to ${version} (${held?.version ?? 'the new version'}: ${held?.reason ?? 'health check failed'}); restarted at ${at}`,
      });
      return;
    }
    const entry = c.desired.entries.find((e) => e.name === ip.name);
    const applied: AppliedSpec | undefined = spec && entry?.status === 'valid' && last.from !== 'applied' ? {
      specHash, version, commit: commitOf(version, last, view), runtime: entry.runtime, spec,
      envDigest: view.states[ip.name]?.env.digest ?? '',
    } : undefined;
    updateStatus(file, {
      phase: 'Ready', desiredVersion: version, observedVersion: version, health, message: undefined, held: undefined, generation,
      ...(spec ? { port: spec.port } : {}), ...(applied ? { applied } : {}),
    });
  };

  /**
   * An instance without actions whose status.json says otherwise than its plan: a crash loop the
   * planner stopped restarting, a held first start already stopped by a run that crashed before
   * recording it, a failed update left running (rollout.autoRollback off), or an instance up to date
   * while status.json still names a hold or another phase. Records the plan's phase; the caller holds the lock.
   */
  const settle = (ip: InstancePlan, states: InstanceStates): void => {
    const state = states[ip.name];
    const held = state?.held;
    const file = statusPath(c.paths.instances, ip.name);
    if (ip.change === 'held' && (ip.phase === 'Degraded' || (ip.phase === 'Failed' && held)) && state?.phase !== ip.phase) {
      const message = ip.message ?? (ip.phase === 'Failed' && held ? heldFailedMessage(held) : ip.reason);
      c.log('error', `${ip.name}: ${ip.reason}`, { instance: ip.name });
      updateStatus(file, { phase: ip.phase!, message });
      return;
    }
    if (ip.change !== 'unchanged') return;
    const entry = c.desired.entries.find((e) => e.name === ip.name);
    if (!state || entry?.status !== 'valid' || !state.applied) return;
    const want = entry.spec.state === 'running' ? 'Ready' : 'Stopped';
    if (state.held === undefined && state.phase === want) return;
    updateStatus(file, {
      phase: want, held: undefined, message: undefined, ...(ip.version ? { desiredVersion: ip.version, observedVersion: ip.version } : {}),
    });
  };

  /** Whether `settle` has something to record for this plan (so the caller takes the lock only then). */
  const unsettled = (ip: InstancePlan, states: InstanceStates): boolean => {
    const state = states[ip.name];
    if (ip.change === 'held') return (ip.phase === 'Degraded' || (ip.phase === 'Failed' && state?.held !== undefined)) && state?.phase !== ip.phase;
    if (ip.change !== 'unchanged' || !state?.applied) return false;
    const entry = c.desired.entries.find((e) => e.name === ip.name);
    if (entry?.status !== 'valid') return false;
    return state.held !== undefined || state.phase !== (entry.spec.state === 'running' ? 'Ready' : 'Stopped');
  };

  return { unhealthy, done, settle, unsettled };
}
