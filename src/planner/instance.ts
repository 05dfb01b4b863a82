// Plans one valid desired instance against what runs: create, update, replace, restart, start, stop.
import type { Diagnostic, Hold, ObservedItem, Runtime } from '../model/types.js';
import type { Change, Disruption, FieldChange, InstancePlan, RuntimeVerbs } from '../model/plan.js';
import { compares } from '../drivers/compare.js';
import { INSTANCE_LAYOUT } from '../drivers/compare-rules.js';
import { RUNTIME_NOUN, targetName } from '../spec/names.js';
import type { StepInput } from './builder.js';
import { specFields } from '../shared/spec-diff.js';
import { short, specHash } from '../shared/hash.js';
import { decideRelease, type ReleaseDecision } from './release.js';
import { withRecords } from './records.js';
import type { InstanceContext, Valid } from './context.js';
import { blockedBy } from './blocked.js';
import { changedFields, healthLabel, restartDue } from './fields.js';

export type { InstanceContext } from './context.js';
export { restartDue } from './fields.js';

/** A crash loop: this many exits of one spec within the window; restarts back off up to the cap. */
export const CRASH_LOOP = { exits: 5, windowMs: 60_000, maxBackoffMs: 30_000 } as const;

/** The verb that makes each runtime's thing (a new runtime without one does not compile). */
const MATERIALIZE: { [R in Runtime]: Exclude<RuntimeVerbs[R], 'load-image'> } = {
  systemd: 'write-unit', launchd: 'write-unit', docker: 'create-container', tmux: 'create-session',
};

/** Plans one valid instance, with what status.json should say when its chain starts, ends or fails health. */
export function planInstance(entry: Valid, ctx: InstanceContext): InstancePlan {
  const out: NonNullable<InstanceContext['out']> = {};
  const ip = planChange(entry, { ...ctx, out });
  return withRecords(ip, ctx.builder.actions, { entry, state: ctx.state, commit: out.commit ?? 'unresolved', ...(out.heldMessage ? { heldMessage: out.heldMessage } : {}) });
}

function planChange(entry: Valid, ctx: InstanceContext): InstancePlan {
  const { spec, runtime, name } = entry;
  const base = { name, runtime, file: entry.file, fields: [] as FieldChange[], actions: [] as string[], phase: ctx.state?.phase };
  const blocked = (diagnostic: Diagnostic, reason: string): InstancePlan => {
    ctx.diagnostics.push(diagnostic);
    return { ...base, change: 'blocked', disruption: 'none', reason };
  };
  const stop = blockedBy(entry, ctx);
  if (stop) return blocked(stop.diagnostic, stop.reason);
  const release = ctx.rollback?.release ?? ctx.restore?.release ?? decideRelease(entry, ctx.releases, ctx.state);
  if (release.kind === 'not-found') return blocked(release.diagnostic, release.diagnostic.message);
  if (release.warning) ctx.diagnostics.push(release.warning);
  if (ctx.out) ctx.out.commit = release.commit;

  const envDigest = ctx.state?.env.digest ?? '';
  const hash = specHash(spec, release.commit, envDigest);
  const held = ctx.state?.held;
  if (held && held.specHash === hash && !ctx.force) return planHeld(entry, held, release.tag, base, ctx);

  const s = scopeOf(entry, ctx, release, hash, base);
  const { current, others, write, startSteps, removeOthers, target } = s;
  if (others.length > 0 && !current) {
    const from = others.map((o) => o.runtime).join(', ');
    return chainPlan(s, 'replace', 'replace', `runtime changes from ${from} to ${runtime}`, [...removeOthers, ...write, ...startSteps], {
      fields: [{ field: 'runtime', from, to: runtime }], fromVersion: others[0]!.version,
    });
  }
  if (!current) {
    const reason = ctx.state?.applied
      ? `${RUNTIME_NOUN[runtime]} ${target} is missing (removed outside tend?)`
      : `new instance: no ${RUNTIME_NOUN[runtime]} ${target} exists`;
    return chainPlan(s, 'create', 'none', reason, [...removeOthers, ...write, ...startSteps], { fields: specFields(spec) });
  }
  return current.specHash === hash ? planSameSpec(s, current) : planChangedSpec(s, current, envDigest);
}

type Base = Omit<InstancePlan, 'change' | 'disruption' | 'reason'>;

/** What the steps of planning one instance share once its release and spec hash are known. */
interface Scope {
  entry: Valid;
  ctx: InstanceContext;
  release: ReleaseDecision & { kind: 'ok' };
  hash: string;
  base: Base;
  target: string;
  images: readonly string[];
  current: ObservedItem | undefined;
  /** Owned things of the instance in other runtimes (removed once it runs here). */
  others: ObservedItem[];
  running: boolean;
  /** Rolled back and verified on the applied spec: a start or restart is upkeep of the rollback target, not another rollback. */
  upkeep: boolean;
  write: StepInput[];
  startSteps: StepInput[];
  removeOthers: StepInput[];
}

function scopeOf(entry: Valid, ctx: InstanceContext, release: ReleaseDecision & { kind: 'ok' }, hash: string, base: Base): Scope {
  const { spec, runtime } = entry;
  const target = targetName(runtime, ctx.config, entry.name);
  const obs = ctx.observed.runtimes[runtime];
  const current = ctx.items.find((i) => i.runtime === runtime);
  const others = ctx.items.filter((i) => i.runtime !== runtime);
  const running = spec.state === 'running';
  const commit = release.commit !== 'unresolved' ? { commit: release.commit } : {};
  return {
    entry, ctx, release, hash, base, target, images: obs?.status === 'ok' ? obs.images ?? [] : [], current, others, running,
    upkeep: ctx.rollback !== undefined && current?.specHash === hash && ctx.state?.phase !== 'Progressing',
    write: [
      { type: 'write-config', runtime, version: release.tag, ...commit, reason: 'render config.yaml' },
      { type: MATERIALIZE[runtime], runtime, target, version: release.tag, ...commit, reason: `${RUNTIME_NOUN[runtime]} ${target} from spec ${short(hash)}` },
    ],
    startSteps: running
      ? [{ type: 'start', runtime, target, reason: `start ${target}` }, { type: 'verify-health', runtime, target, reason: healthLabel(spec.health) }]
      : [],
    removeOthers: others.flatMap((o) => [
      ...(o.state === 'running' ? [{ type: 'stop' as const, runtime: o.runtime, target: o.id, reason: `stop ${o.id} (moving to ${runtime})` }] : []),
      { type: 'delete' as const, runtime: o.runtime, target: o.id, reason: `remove ${RUNTIME_NOUN[o.runtime]} ${o.id}`, disruption: 'delete' as const },
    ]),
  };
}

/** A plan with a chain of actions: the build it needs first, the image it loads, and each step's spec hash. */
function chainPlan(s: Scope, planned: Change, disruption: Disruption, why: string, steps: StepInput[], extra: Partial<InstancePlan> = {}): InstancePlan {
  const { ctx, release, entry: { runtime, name } } = s;
  let reason = why;
  const change: Change = ctx.rollback && !(s.upkeep && (planned === 'start' || planned === 'restart')) ? 'rollback' : planned;
  const writes = steps.some((st) => st.type === 'write-config');
  // A start or restart of what is there needs its release too (it runs releases/<version>/): a missing or
  // invalid one is rebuilt first, like for an update. Not when the source cannot be read (nothing to build from).
  const rebuildFirst = !writes && release.build !== undefined && release.build !== 'unresolved'
    && steps.some((st) => st.type === 'start' || st.type === 'restart');
  const needsBuild = (writes && release.build !== undefined) || rebuildFirst;
  let after: string[] = [];
  const summary = writes || rebuildFirst ? release.summary : undefined;
  if (rebuildFirst) reason = `${reason}; release ${release.tag} is rebuilt first (${release.build === 'cache miss' ? 'it is missing' : release.build!.replace(/^rebuild: /, '')})`;
  if (needsBuild) {
    after = [ctx.builder.shared(`build/${release.tag}`, {
      type: 'build-release', version: release.tag, reason: `${release.summary}`,
      ...(release.commit !== 'unresolved' ? { commit: release.commit } : {}),
    })];
  }
  if (runtime === 'docker' && ctx.config.source.image && steps.some((st) => st.type === 'create-container')) {
    const present = release.imageId !== undefined && s.images.includes(release.imageId);
    if (!present) {
      const idx = steps.findIndex((st) => st.type === 'stop' || st.type === 'write-config');
      const commit = release.commit !== 'unresolved' ? { commit: release.commit } : {};
      steps.splice(Math.max(0, idx), 0, { type: 'load-image', runtime, target: s.target, version: release.tag, ...commit, reason: `image for ${release.tag} is not in the engine` });
    }
  }
  const from = ctx.rollback || ctx.restore ? { from: 'applied' as const } : {};
  const actions = ctx.builder.chain(name, change, steps.map((st) => ({ specHash: s.hash, ...st, ...from })), after);
  return {
    ...s.base, change, version: release.tag, disruption: needsBuild && disruption === 'restart' ? 'rebuild+restart' : disruption,
    reason, actions, ...(summary ? { release: summary } : {}), ...extra,
  };
}

/** What runs was made from the desired spec: made again by an older layout, stopped, restarted, verified, or nothing. */
function planSameSpec(s: Scope, current: ObservedItem): InstancePlan {
  const { ctx, release, hash, target, running, others, removeOthers, write, startSteps, entry: { runtime, spec } } = s;
  if (current.layout !== undefined && current.layout < INSTANCE_LAYOUT && current.state !== 'absent') {
    // Made by an older tend whose app could write the whole instance directory: made again, once.
    const live = current.state === 'running';
    return chainPlan(s, 'reconfigure', !live ? 'none' : runtime === 'docker' ? 'replace' : 'restart',
      `made by an older tend (instance layout ${current.layout}): made again so that the app can write only data/ and projects/`, [
        ...(live ? [{ type: 'stop' as const, runtime, target: current.id, reason: `stop ${current.id}` }] : []), ...write,
        ...(running ? startSteps : []), ...removeOthers,
      ], { fields: [{ field: 'layout', from: current.layout, to: INSTANCE_LAYOUT }], fromVersion: current.version });
  }
  const alsoElsewhere = () => chainPlan(s, 'reconfigure', 'delete', `also found in ${others.map((o) => o.runtime).join(', ')}`, removeOthers);
  if (!running) {
    if (current.state === 'running') return chainPlan(s, 'stop', 'stop', 'state: stopped', [{ type: 'stop', runtime, target, reason: `stop ${target}` }, ...removeOthers]);
    if (others.length > 0) return alsoElsewhere();
    return { ...s.base, change: 'unchanged', version: release.tag, disruption: 'none', reason: 'stopped, as desired' };
  }
  const applied = ctx.state?.applied;
  // Made from the desired spec but never seen healthy (first sight, or a crash before the health check):
  // still part of that create/update, so its history line is recorded as such when it turns healthy.
  // A rollback still `Progressing` was cut short (the run crashed) before it was recorded RolledBack.
  // A restore (planInvalid) cut short the same way is checked again before it counts as restored.
  const unverified: Change | undefined = ctx.rollback || ctx.restore ? (ctx.state?.phase === 'Progressing' ? 'rollback' : undefined)
    : applied?.specHash === hash ? undefined : !applied ? 'create' : applied.version !== release.tag ? 'update' : 'reconfigure';
  if (current.state !== 'running') {
    if (current.state !== 'failed' || unverified) {
      return chainPlan(s, unverified ?? 'start', 'none', `${target} is ${current.state}`, [...startSteps, ...removeOthers]);
    }
    return planCrashRestart(s, current);
  }
  const requested = ctx.state?.restartRequestedAt;
  if (requested && restartDue(requested, current.startedAt)) {
    return chainPlan(s, 'restart', 'restart', `restart requested at ${requested}`, [
      { type: 'restart', runtime, target, reason: `restart ${target}` },
      { type: 'verify-health', runtime, target, reason: healthLabel(spec.health) },
      ...removeOthers,
    ]);
  }
  if (others.length > 0) return alsoElsewhere();
  if (unverified) {
    return chainPlan(s, unverified, 'none', `running the ${ctx.restore ? 'last healthy' : 'desired'} spec, not yet verified healthy`, [
      { type: 'verify-health', runtime, target, reason: healthLabel(spec.health) },
    ]);
  }
  return { ...s.base, change: 'unchanged', version: release.tag, disruption: 'none', reason: 'up to date' };
}

/** It died: restart with backoff, unless it keeps dying (a crash loop waits for a file change). */
function planCrashRestart(s: Scope, current: ObservedItem): InstancePlan {
  const { ctx, hash, target, release, entry: { name } } = s;
  const crashes = (ctx.state?.crashes ?? []).filter((c) => c.specHash === hash);
  const exit = current.exitSignal ? `killed by ${current.exitSignal}` : current.exitStatus !== undefined ? `exit status ${current.exitStatus}` : 'failed';
  const recent = crashes.slice(-(CRASH_LOOP.exits - 1));
  if (recent.length === CRASH_LOOP.exits - 1 && Date.parse(recent.at(-1)!.at) - Date.parse(recent[0]!.at) <= CRASH_LOOP.windowMs) {
    return {
      ...s.base, change: 'held', version: release.tag, disruption: 'none', phase: 'Degraded',
      reason: `crash loop: ${CRASH_LOOP.exits} exits within ${CRASH_LOOP.windowMs / 1000}s (last: ${exit}); not restarted until desired/${name}.yaml changes`,
    };
  }
  const last = crashes.at(-1);
  const streak = last ? crashes.filter((c) => Date.parse(last.at) - Date.parse(c.at) <= CRASH_LOOP.windowMs).length : 0;
  const delayMs = last ? Math.min(CRASH_LOOP.maxBackoffMs, 1000 * 2 ** (streak - 1)) : 0;
  const crash = { specHash: hash, ...(current.exitStatus !== undefined ? { exitStatus: current.exitStatus } : {}), ...(current.exitSignal ? { exitSignal: current.exitSignal } : {}) };
  const steps = s.startSteps.map((st) => (st.type === 'start'
    ? { ...st, crash, ...(last ? { notBefore: new Date(Date.parse(last.at) + delayMs).toISOString() } : {}), reason: `restart ${target} (${exit})${last ? `, backoff ${delayMs / 1000}s` : ''}` }
    : st));
  return chainPlan(s, 'start', 'none', `${target} died (${exit})`, [...steps, ...s.removeOthers]);
}

/** What runs was made from another spec: an update, a reconfigure, or a start/stop when only `state` changed. */
function planChangedSpec(s: Scope, current: ObservedItem, envDigest: string): InstancePlan {
  const { ctx, release, hash, target, running, write, startSteps, removeOthers, entry: { runtime, spec } } = s;
  const fields = changedFields(current, release.tag, release.commit, ctx.state, spec, envDigest);
  const versionChanged = current.version !== release.tag || (ctx.state?.applied !== undefined && ctx.state.applied.commit !== release.commit);
  const live = current.state === 'running';
  // Going to state: stopped stops the process (nothing restarts); an edit of `state` alone is a stop or a start.
  const disruption = !live ? 'none' : !running ? 'stop' : compares[runtime]({ versionChanged, fields });
  const onlyState = !versionChanged && fields.length > 0 && fields.every((f) => f.field === 'state');
  const change: Change = versionChanged ? 'update' : onlyState && live !== running ? (running ? 'start' : 'stop') : 'reconfigure';
  const reason = versionChanged ? `version ${current.version ?? 'unknown'} -> ${release.tag}` : `spec changed (${short(current.specHash ?? '')} -> ${short(hash)})`;
  let steps: StepInput[];
  // A reload restamps in place; the health settings may have changed, so check them once.
  if (disruption === 'reload') steps = [...write, ...(running ? [{ type: 'verify-health' as const, runtime, target, reason: healthLabel(spec.health) }] : [])];
  // Stop what runs under its own name (an adopted container keeps the name it was found with).
  else steps = [...(live ? [{ type: 'stop' as const, runtime, target: current.id, reason: `stop ${current.id}` }] : []), ...write, ...startSteps];
  return chainPlan(s, change, disruption, reason, [...steps, ...removeOthers], { fields, fromVersion: current.version });
}

/**
 * The desired spec failed its health check and is held. With a last healthy spec on record, plan the
 * way back to it (a rollback; once it runs again, only upkeep: restarts after it dies, the
 * crash-loop rule, with the hold kept). Without one (a first start that never
 * turned healthy), stop what runs the held spec; once nothing runs it, it is held with phase Failed
 * (the executor records that when a crash kept the stop from doing so). After a failed rollback
 * (phase Failed) nothing. With `rollout.autoRollback: false`, nothing either: the failed spec keeps
 * running, phase Failed.
 */
function planHeld(entry: Valid, held: Hold, tag: string, base: Base, ctx: InstanceContext): InstancePlan {
  const { name, runtime } = entry;
  const why = `held: ${held.version} failed health at ${held.at} (${held.reason}); edit the file or run tend retry ${name}`;
  const heldPlan: InstancePlan = { ...base, change: 'held', version: tag, disruption: 'none', reason: why };
  if (ctx.rollback) return heldPlan;
  // rollout.autoRollback off: the failed spec keeps running as it is, held; the update has failed.
  if (!entry.spec.rollout.autoRollback) {
    const off = 'rollout.autoRollback is off: not rolled back';
    if (ctx.out) ctx.out.heldMessage = `${held.version} failed health: ${held.reason} (${off})`;
    return { ...heldPlan, phase: 'Failed', reason: `${why}; ${off}` };
  }
  if (ctx.state?.phase === 'Failed') return heldPlan;
  const applied = ctx.state?.applied;
  if (applied && applied.specHash !== held.specHash && applied.runtime === runtime) {
    const built = ctx.releases.built[applied.version];
    const reuse = built?.valid === true && built.commit === applied.commit;
    const release: ReleaseDecision & { kind: 'ok' } = {
      kind: 'ok', tag: applied.version, commit: applied.commit,
      summary: reuse ? `reuse ${applied.version}` : `build ${applied.version} (commit ${short(applied.commit)}, for the rollback)`,
      ...(reuse ? (built.imageId ? { imageId: built.imageId } : {}) : { build: 'rollback target missing' }),
    };
    const back = planChange({ ...entry, spec: applied.spec }, { ...ctx, out: {}, rollback: { held, release } });
    if (back.change === 'unchanged') return { ...heldPlan, reason: `${why}; running ${applied.version}` };
    if (back.change === 'blocked') return back;
    // Upkeep of the rollback target (restarted after it died, or a crash loop): the hold stays.
    if (back.change !== 'rollback') return { ...back, reason: `${back.reason}; rolled back to ${applied.version}, ${held.version} stays held` };
    return { ...back, reason: `roll back to ${applied.version}: ${held.version} failed health (${held.reason})`, fromVersion: held.version };
  }
  const current = ctx.items.find((i) => i.runtime === runtime);
  if (current?.specHash === held.specHash && current.state === 'running') {
    const target = current.id;
    const ids = ctx.builder.chain(name, 'stop', [{ type: 'stop', runtime, target, specHash: held.specHash, reason: `stop ${target}: it never turned healthy` }]);
    return { ...base, change: 'stop', version: tag, disruption: 'stop', reason: `${why}; stopping it`, actions: ids };
  }
  // Nothing runs it any more (stopped by a run that crashed before recording it, or gone): it is Failed.
  if (current?.state !== 'running') return { ...heldPlan, phase: 'Failed', reason: `${why}; not running` };
  return heldPlan;
}
