// The executor: carries out a plan's actions and records what happened. It decides nothing — the
// order (dependsOn), which spec an action uses (`from: applied` for rollbacks) and what to do after a
// failed health check (the planner's next plan) all come from the plan.
//
// - Instances run at most `agent.concurrency` at once, one action at a time each, under the instance
//   lock every tend process shares; builds run in their own queue (one at a time by default), once
//   per release however many instances wait for it.
// - A chain that ends healthy records the applied spec in status.json and one history line; a failed
//   health check records the hold (quarantine) and a `failed` history line, and the instance is
//   reported `unhealthy` so the caller re-plans it (rollback, or stop after a first start).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import PQueue from 'p-queue';
import { stringify } from 'yaml';
import type {
  Action, AppliedSpec, Change, DesiredState, HistoryReason, Hold, InstancePlan, InstanceSpec, InstanceStates, Plan, ReleaseCatalog, Runtime,
} from '../model/types.js';
import { drivers } from '../drivers/registry.js';
import type { ApplyContext, Driver } from '../drivers/types.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { healthTarget, livenessOf, waitHealthy } from '../health/index.js';
import { buildRelease } from '../release/build.js';
import type { RootPaths } from '../spec/config.js';
import { appendHistory, historyPath } from '../state/history.js';
import { describeOwner } from '../release/lock.js';
import { withInstanceLock } from '../state/lock.js';
import { readStatus, statusPath, updateStatus } from '../state/status.js';
import { faultSwitch, type FaultSwitch } from './faults.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** `debug` lines (each action as it starts) go only to a Log that asks for them with `debug: true`. */
export type Log = ((level: LogLevel, message: string, fields?: Record<string, unknown>) => void) & { debug?: boolean };

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
}

export interface ExecuteReport {
  instances: InstanceOutcome[];
}

const HISTORY_REASON: Partial<Record<Change, HistoryReason>> = {
  create: 'create', update: 'update', replace: 'update', reconfigure: 'update', rollback: 'auto-rollback',
};

function now(): string {
  return new Date().toISOString();
}

class HealthFailure extends Error {}

/** status.json's message for a held spec that is no longer running (a first start that never turned healthy). */
function heldFailedMessage(held: Hold): string {
  return held.reason.startsWith('Health check timeout') ? held.reason : `Health check failed: ${held.reason}`;
}

/** Waits until `at` (epoch ms), at most 5 minutes; an abort ends the wait with the signal's reason. */
function sleepUntil(at: number, signal?: AbortSignal): Promise<void> {
  const ms = Math.min(300_000, at - Date.now());
  if (!(ms > 0)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
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

  const build = (id: string): Promise<void> => {
    let run = buildRuns.get(id);
    if (!run) {
      const action = byId.get(id)!;
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
        opts.releases.built[action.version] = {
          version: action.version, commit: action.commit, valid: true, ...(r.manifest.image?.id ? { imageId: r.manifest.image.id } : {}),
        };
        faults.afterAction(action);
      }, { throwOnTimeout: true });
      buildRuns.set(id, run);
    }
    return run;
  };

  const specOf = (action: Action): InstanceSpec | undefined => {
    const name = action.instance!;
    if (action.from === 'applied') {
      const applied = opts.states[name]?.applied;
      if (!applied) throw new Error(`${action.id}: a rollback action but ${name} has no applied spec on record`);
      return applied.spec;
    }
    const entry = opts.desired.entries.find((e) => e.name === name);
    return entry?.status === 'valid' ? entry.spec : undefined;
  };

  const releaseOf = (action: Action): ApplyContext['release'] => {
    const version = action.version;
    if (!version) return undefined;
    const built = opts.releases.built[version];
    const commit = action.commit ?? built?.commit ?? (action.from === 'applied' ? opts.states[action.instance!]?.applied?.commit : undefined);
    return {
      version, commit: commit ?? 'unresolved', valid: built?.valid ?? true,
      ...(built?.imageId ? { imageId: built.imageId } : {}),
      dir: join(paths.releases, version),
    };
  };

  /** Carries one action out. verify-health failures throw HealthFailure. */
  const runAction = async (action: Action): Promise<void> => {
    const spec = specOf(action);
    const name = action.instance!;
    switch (action.type) {
      case 'build-release':
        return build(action.id);
      case 'orphan':
        return;
      case 'write-config': {
        if (!spec) throw new Error(`${action.id}: no spec to render config.yaml from`);
        const dir = join(paths.instances, name);
        mkdirSync(join(dir, 'logs'), { recursive: true });
        writeFileAtomic(join(dir, 'config.yaml'), spec.config === undefined ? '{}\n' : stringify(spec.config));
        return;
      }
      case 'verify-health': {
        if (!spec) throw new Error(`${action.id}: no spec to check health against`);
        const driver = await driverFor(action.runtime!);
        const ctx = { config, paths, ...(opts.signal ? { signal: opts.signal } : {}) };
        const find = async () => {
          const obs = await driver.observe(ctx);
          return obs.status === 'ok' ? obs.items.find((i) => i.owned && i.instance === name && i.runtime === action.runtime) : undefined;
        };
        const baseline = await find();
        const result = await waitHealthy(healthTarget(spec), {
          ...(opts.signal ? { signal: opts.signal } : {}),
          alive: async () => livenessOf(await find(), baseline),
          cwd: join(paths.instances, name),
        });
        if (!result.healthy) throw new HealthFailure(result.reason);
        log('info', `${name} healthy after ${result.tries} ${result.tries === 1 ? 'try' : 'tries'}`, { instance: name, tries: result.tries });
        return;
      }
      default: {
        const runtime = action.runtime!;
        usedRuntimes.add(runtime);
        const driver = await driverFor(runtime);
        const release = releaseOf(action);
        await driver.apply(action, {
          config, paths, ...(spec ? { spec } : {}), ...(release ? { release } : {}), ...(opts.signal ? { signal: opts.signal } : {}),
        });
      }
    }
  };

  const runInstance = async (ip: InstancePlan): Promise<InstanceOutcome> => {
    const chain = ip.actions.map((id) => byId.get(id)!).filter((a) => a.type !== 'orphan');
    const outcome: InstanceOutcome = { name: ip.name, change: ip.change, result: 'ok', done: [], ...(ip.version ? { version: ip.version } : {}) };
    if (chain.length === 0) return outcome;
    const file = statusPath(paths.instances, ip.name);
    const declared = opts.desired.entries.some((e) => e.name === ip.name);
    return withInstanceLock(paths, ip.name, async () => {
      // Upkeep of a rollback target (`from: applied` but no rollback: a restart after it died) stays RolledBack meanwhile.
      const upkeep = ip.change !== 'rollback' && chain.every((a) => a.from === 'applied');
      if (declared) updateStatus(file, { phase: upkeep ? 'RolledBack' : 'Progressing', message: ip.reason, ...(ip.version ? { desiredVersion: ip.version } : {}) });
      let verified = false;
      for (const action of chain) {
        for (const dep of action.dependsOn) if (byId.get(dep)?.type === 'build-release') await build(dep);
        opts.signal?.throwIfAborted();
        if (action.notBefore) await sleepUntil(Date.parse(action.notBefore), opts.signal);
        if (action.crash && declared) {
          const crashes = [...(readStatus(file).status?.crashes ?? []), { at: now(), ...action.crash }].slice(-10);
          updateStatus(file, { crashes, message: action.reason });
        }
        try {
          if (log.debug) log('debug', `${ip.name}: ${action.type} starting`, { instance: ip.name, action: action.id });
          await runAction(action);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          if (err instanceof HealthFailure) {
            recordUnhealthy(ip, action, reason);
            return { ...outcome, result: 'unhealthy' as const, reason };
          }
          if (opts.signal?.aborted) throw err;
          log('error', `${ip.name}: ${action.type} failed: ${reason}`, { instance: ip.name, action: action.id });
          if (declared) updateStatus(file, { phase: 'Failed', message: `${action.type} failed: ${reason}` });
          return { ...outcome, result: 'failed' as const, reason: `${action.type} failed: ${reason}` };
        }
        outcome.done.push(action.type);
        if (action.type === 'verify-health') verified = true;
        faults.afterAction(action);
      }
      if (declared) recordDone(ip, chain, verified);
      return outcome;
    }, {
      ...(opts.signal ? { signal: opts.signal } : {}), purpose: `tend reconcile ${ip.name}`,
      onWait: (owner) => log('info', `${ip.name}: waiting for ${describeOwner(owner)}`, { instance: ip.name }),
      onStale: (owner) => log('warn', `${ip.name}: took over the lock left by ${describeOwner(owner)}`, { instance: ip.name }),
    });
  };

  const historyFor = (ip: InstancePlan): HistoryReason | undefined => opts.historyReason?.[ip.name] ?? HISTORY_REASON[ip.change];

  /** The history id of this attempt: the spec, the outcome and the status generation it starts from. */
  const attemptId = (name: string, specHash: string, outcome: string): string => {
    const generation = readStatus(statusPath(paths.instances, name)).status?.generation ?? 0;
    return `${specHash.slice(0, 16)}:${outcome}:g${generation}`;
  };

  const recordUnhealthy = (ip: InstancePlan, action: Action, reason: string): void => {
    const file = statusPath(paths.instances, ip.name);
    const version = action.version ?? ip.version ?? 'unknown';
    const specHash = action.specHash ?? '';
    const at = now();
    const why = historyFor(ip);
    if (why) {
      appendHistory(historyPath(paths.instances, ip.name), {
        version, updatedAt: at, updatedBy: opts.updatedBy, reason: why, outcome: 'failed', detail: reason, id: attemptId(ip.name, specHash, 'failed'),
      });
    }
    const health = { healthy: false, at, reason };
    if (ip.change === 'rollback') {
      log('error', `${ip.name}: ROLLBACK FAILED: ${version} is not healthy either (${reason}); nothing further is changed on this instance`, { instance: ip.name });
      updateStatus(file, { phase: 'Failed', health, message: `Rollback to ${version} failed: ${reason}` });
      return;
    }
    if (action.from === 'applied') {
      // The rollback target, restarted, is not healthy either: like a failed rollback (the hold stays).
      log('error', `${ip.name}: ${version} (rolled back to) failed its health check after a restart: ${reason}; nothing further is changed on this instance`, { instance: ip.name });
      updateStatus(file, { phase: 'Failed', health, message: `${version} (rolled back to) failed health after a restart: ${reason}` });
      return;
    }
    log('warn', `${ip.name}: ${version} failed its health check: ${reason}`, { instance: ip.name });
    updateStatus(file, {
      phase: 'Progressing', health, message: `${version} failed health: ${reason}`,
      held: { version, specHash, at, reason },
    });
  };

  const commitOf = (version: string, action: Action): string => {
    const res = opts.releases.resolutions[version];
    return action.commit ?? opts.releases.built[version]?.commit ?? (res?.status === 'resolved' ? res.commit : undefined)
      ?? opts.states[action.instance!]?.applied?.commit ?? 'unresolved';
  };

  const recordDone = (ip: InstancePlan, chain: Action[], verified: boolean): void => {
    const file = statusPath(paths.instances, ip.name);
    // The action that names the version and spec (write-config/materialize; a verify-only chain has neither).
    const last = chain.find((a) => a.specHash && a.version) ?? chain.find((a) => a.specHash) ?? chain[0]!;
    const spec = specOf(last);
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
      appendHistory(historyPath(paths.instances, ip.name), {
        version, updatedAt: at, updatedBy: opts.updatedBy, reason: why, outcome: 'healthy', id: attemptId(ip.name, specHash, 'healthy'),
      });
    }
    const health = { healthy: true, at };
    const generation = (previous?.generation ?? 0) + 1;
    if (ip.change === 'rollback') {
      const from = previous?.held?.version ?? ip.fromVersion ?? 'the new version';
      log('warn', `${ip.name}: Update failed, rolled back to ${version}`, { instance: ip.name });
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
    const entry = opts.desired.entries.find((e) => e.name === ip.name);
    const applied: AppliedSpec | undefined = spec && entry?.status === 'valid' && last.from !== 'applied' ? {
      specHash, version, commit: commitOf(version, last), runtime: entry.runtime, spec,
      envDigest: opts.states[ip.name]?.env.digest ?? '',
    } : undefined;
    updateStatus(file, {
      phase: 'Ready', desiredVersion: version, observedVersion: version, health, message: undefined, held: undefined, generation,
      ...(spec ? { port: spec.port } : {}), ...(applied ? { applied } : {}),
    });
  };

  // Up to date while status.json still names a hold or another phase (the file was edited back to a
  // healthy spec, or the work was done by a run that crashed before recording): record it Ready.
  for (const ip of plan.instances) {
    if (opts.only && !opts.only.has(ip.name)) continue;
    const held = opts.states[ip.name]?.held;
    if (ip.change === 'held' && (ip.phase === 'Degraded' || (ip.phase === 'Failed' && held)) && opts.states[ip.name]?.phase !== ip.phase) {
      // A crash loop the planner stopped restarting, or a held first start already stopped by a run that
      // crashed before recording it, or a failed update left running (rollout.autoRollback off): say so
      // where status is read.
      const message = ip.message ?? (ip.phase === 'Failed' && held ? heldFailedMessage(held) : ip.reason);
      log('error', `${ip.name}: ${ip.reason}`, { instance: ip.name });
      await withInstanceLock(paths, ip.name, () => updateStatus(statusPath(paths.instances, ip.name), { phase: ip.phase!, message }),
        { ...(opts.signal ? { signal: opts.signal } : {}) });
      continue;
    }
    if (ip.change !== 'unchanged') continue;
    const state = opts.states[ip.name];
    const entry = opts.desired.entries.find((e) => e.name === ip.name);
    if (!state || entry?.status !== 'valid' || !state.applied) continue;
    const want = entry.spec.state === 'running' ? 'Ready' : 'Stopped';
    if (state.held === undefined && state.phase === want) continue;
    await withInstanceLock(paths, ip.name, () => updateStatus(statusPath(paths.instances, ip.name), {
      phase: want, held: undefined, message: undefined, ...(ip.version ? { desiredVersion: ip.version, observedVersion: ip.version } : {}),
    }), { ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  const selected = plan.instances.filter((ip) => ip.actions.length > 0 && (!opts.only || opts.only.has(ip.name)));
  const outcomes = await Promise.all(selected.map((ip) => instancesQueue.add(() => runInstance(ip), { throwOnTimeout: true })));
  for (const rt of usedRuntimes) {
    const driver = await driverFor(rt);
    await driver.flush?.({ config, paths, ...(opts.signal ? { signal: opts.signal } : {}) });
  }
  return { instances: outcomes };
}
