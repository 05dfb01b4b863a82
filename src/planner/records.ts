// What status.json and the history should say about an instance, decided with its plan: the record
// written when its chain starts, when it ends, when its health check fails (on the verify-health
// action), or at once for an instance whose status says otherwise than its plan. The executor
// writes these as they are.
import type { DesiredEntry, Hold, HistoryReason, InstanceState } from '../model/types.js';
import type { Action, Change, ChainAction, InstancePlan, StatusRecord, VerifyHealthAction } from '../model/plan.js';

type Valid = Extract<DesiredEntry, { status: 'valid' }>;

/** The history line an attempt of this change ends with (none for starts, restarts and stops). */
const HISTORY_REASON: Partial<Record<Change, HistoryReason>> = {
  create: 'create', update: 'update', replace: 'update', reconfigure: 'update', rollback: 'auto-rollback',
};

/** status.json's message for a held spec that is no longer running (a first start that never turned healthy). */
export function heldFailedMessage(held: Hold): string {
  return held.reason.startsWith('Health check timeout') ? held.reason : `Health check failed: ${held.reason}`;
}

/** An action of the chain failed: `{reason}` is the action and why (`start failed: ...`). */
const FAILED: StatusRecord = { phase: 'Failed', message: '{reason}' };

export interface RecordInput {
  entry: Valid;
  state: InstanceState | undefined;
  /** The commit of the release the plan applies (recorded with the applied spec). */
  commit: string;
  /** A held plan's phase message when it differs from its reason (rollout.autoRollback off). */
  heldMessage?: string;
}

/**
 * Adds the records to a valid instance's plan, and the failure branch to its verify-health actions
 * (`actions` is the builder's list; the instance's own are replaced by copies that carry it).
 */
export function withRecords(ip: InstancePlan, actions: Action[], input: RecordInput): InstancePlan {
  const chain = ip.actions.map((id) => actions.find((a) => a.id === id)).filter((a): a is ChainAction => a !== undefined && a.type !== 'build-release' && a.type !== 'orphan');
  if (chain.length === 0) {
    const done = settleRecord(ip, input);
    return done ? { ...ip, record: { done } } : ip;
  }
  if (ip.change === 'delete') return ip;
  for (const a of chain) {
    if (a.type !== 'verify-health') continue;
    const i = actions.indexOf(a);
    actions[i] = { ...a, onUnhealthy: unhealthyRecord(ip, a) };
  }
  const upkeep = ip.change !== 'rollback' && chain.every((a) => a.from === 'applied');
  const start: StatusRecord = { phase: upkeep ? 'RolledBack' : 'Progressing', message: ip.reason, ...(ip.version ? { desiredVersion: ip.version } : {}) };
  return { ...ip, record: { start, done: doneRecord(ip, chain, input), failed: FAILED } };
}

/** The health check failed: a failed rollback (or restart of the rollback target) is Failed; else the spec is held. */
function unhealthyRecord(ip: InstancePlan, action: VerifyHealthAction): StatusRecord {
  const version = ip.version ?? 'unknown';
  const history = HISTORY_REASON[ip.change];
  const common = { health: false, version, specHash: action.specHash ?? '', ...(history ? { history } : {}) };
  if (ip.change === 'rollback') {
    return {
      ...common, phase: 'Failed', message: `Rollback to ${version} failed: {reason}`,
      log: { level: 'error', text: `${ip.name}: ROLLBACK FAILED: ${version} is not healthy either ({reason}); nothing further is changed on this instance` },
    };
  }
  if (action.from === 'applied') {
    // The rollback target, restarted, is not healthy either: like a failed rollback (the hold stays).
    return {
      ...common, phase: 'Failed', message: `${version} (rolled back to) failed health after a restart: {reason}`,
      log: { level: 'error', text: `${ip.name}: ${version} (rolled back to) failed its health check after a restart: {reason}; nothing further is changed on this instance` },
    };
  }
  return {
    ...common, phase: 'Progressing', message: `${version} failed health: {reason}`, hold: 'set',
    log: { level: 'warn', text: `${ip.name}: ${version} failed its health check: {reason}` },
  };
}

/** The chain ended: stopped, rolled back, or Ready with the spec recorded as the last healthy one. */
function doneRecord(ip: InstancePlan, chain: ChainAction[], input: RecordInput): StatusRecord {
  const { entry, state } = input;
  // The action that names the version and spec (write-config/materialize; a verify-only chain has neither).
  const last = chain.find((a) => a.specHash && 'version' in a && a.version) ?? chain.find((a) => a.specHash) ?? chain[0]!;
  const spec = last.from === 'applied' ? state?.applied?.spec : entry.spec;
  const held = state?.held;
  if (!chain.some((a) => a.type === 'verify-health')) {
    // Nothing checks health: a stop (or a state: stopped instance written but not started).
    if (held && held.specHash === last.specHash) return { phase: 'Failed', message: heldFailedMessage(held) };
    return { phase: 'Stopped', ...(spec ? { port: spec.port } : {}) };
  }
  const version = ('version' in last ? last.version : undefined) ?? ip.version ?? spec?.version ?? 'unknown';
  const history = HISTORY_REASON[ip.change];
  const verified = { health: true, generation: true, version, specHash: last.specHash ?? '', ...(history ? { history } : {}) };
  if (ip.change === 'rollback') {
    const from = held?.version ?? ip.fromVersion ?? 'the new version';
    return {
      ...verified, phase: 'RolledBack', observedVersion: version,
      message: `Update failed, rolled back to ${version} (${from}: ${held?.reason ?? 'health check failed'})`,
      log: { level: 'warn', text: `${ip.name}: Update failed, rolled back to ${version}` },
    };
  }
  if (last.from === 'applied') {
    // Upkeep of the rollback target (restarted after it died): still rolled back, the hold stays.
    return {
      ...verified, phase: 'RolledBack', observedVersion: version,
      message: `Update failed, rolled back to ${version} (${held?.version ?? 'the new version'}: ${held?.reason ?? 'health check failed'}); restarted at {at}`,
    };
  }
  return {
    ...verified, phase: 'Ready', desiredVersion: version, observedVersion: version, hold: 'clear', port: entry.spec.port,
    applied: { commit: input.commit, runtime: entry.runtime },
  };
}

/**
 * An instance without actions whose status.json says otherwise than its plan: a crash loop the
 * planner stopped restarting, a held first start already stopped by a run that crashed before
 * recording it, a failed update left running (rollout.autoRollback off), or an instance up to date
 * while status.json still names a hold or another phase.
 */
function settleRecord(ip: InstancePlan, input: RecordInput): StatusRecord | undefined {
  const { state, entry } = input;
  const held = state?.held;
  if (ip.change === 'held') {
    if (!(ip.phase === 'Degraded' || (ip.phase === 'Failed' && held)) || state?.phase === ip.phase) return undefined;
    const message = input.heldMessage ?? (ip.phase === 'Failed' && held ? heldFailedMessage(held) : ip.reason);
    return { phase: ip.phase, message, log: { level: 'error', text: `${ip.name}: ${ip.reason}` } };
  }
  if (ip.change !== 'unchanged' || !state?.applied) return undefined;
  const want = entry.spec.state === 'running' ? 'Ready' : 'Stopped';
  if (held === undefined && state.phase === want) return undefined;
  return { phase: want, hold: 'clear', ...(ip.version ? { desiredVersion: ip.version, observedVersion: ip.version } : {}) };
}

/**
 * The records of an invalid file's instance put back to its last healthy spec: InvalidSpec throughout
 * (the applied spec and the history stay as they are); Failed when that spec is not healthy either.
 */
export function invalidRecords(ip: InstancePlan, actions: Action[], port: number): InstancePlan {
  const file = ip.file ?? 'the desired file';
  const version = ip.version ?? 'unknown';
  const chain = ip.actions.map((id) => actions.find((a) => a.id === id)).filter((a): a is ChainAction => a !== undefined && a.type !== 'build-release' && a.type !== 'orphan');
  const verifies = chain.some((a) => a.type === 'verify-health');
  for (const a of chain) {
    if (a.type !== 'verify-health') continue;
    actions[actions.indexOf(a)] = {
      ...a, onUnhealthy: {
        phase: 'Failed', health: false, message: `${file} has errors; restoring ${version}, the last healthy spec, failed: {reason}`,
        log: { level: 'error', text: `${ip.name}: restoring ${version} (the last healthy spec, ${file} has errors) failed its health check: {reason}` },
      },
    };
  }
  const what = verifies ? `${version} (the last healthy spec) restored and healthy` : `${version} (the last healthy spec) restored`;
  return {
    ...ip, record: {
      start: { phase: 'InvalidSpec', message: ip.reason, desiredVersion: version },
      failed: FAILED,
      done: {
        phase: 'InvalidSpec', observedVersion: version, message: `${file} has errors; ${what}`,
        log: { level: 'warn', text: `${ip.name}: ${file} has errors; ${what}` },
        port, ...(verifies ? { health: true, generation: true } : {}),
      },
    },
  };
}
