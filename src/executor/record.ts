// Writes the records the planner put in the plan: status.json (phase, message, health, hold, applied
// spec) and one history line where an attempt ends. Nothing here is chosen: the only values filled
// in are the ones a plan cannot know (the time, why a health check failed, the history line's id).
import type { DesiredState, HistoryReason, InstanceSpec, InstanceStates, StatusFile } from '../model/types.js';
import type { ChainAction, StatusRecord } from '../model/plan.js';
import type { RootPaths } from '../spec/config.js';
import { appendHistory, historyPath } from '../state/history.js';
import { readStatus, statusPath, updateStatus } from '../state/status.js';
import type { Log } from '../shared/log.js';

export interface RecordContext {
  paths: RootPaths;
  updatedBy: string;
  log: Log;
  /** The history reason per instance when the caller names the attempt (`tend rollback`: rollback). */
  historyReason?: Readonly<Record<string, HistoryReason>>;
}

/** The spec an action applies: the last healthy one on record (`from: applied`) or the desired file's. */
export function specOf(desired: DesiredState, action: ChainAction, states: InstanceStates): InstanceSpec | undefined {
  const name = action.instance;
  if (action.from === 'applied') {
    const applied = states[name]?.applied;
    if (!applied) throw new Error(`${action.id}: a rollback action but ${name} has no applied spec on record`);
    return applied.spec;
  }
  const entry = desired.entries.find((e) => e.name === name);
  return entry?.status === 'valid' ? entry.spec : undefined;
}

/**
 * Writes one planned record for instance `name`. `applied`: the spec the chain applied and the .env
 * digest observed (kept with the applied spec; never in a plan); `reason`: why its health check failed.
 */
export function writeRecord(c: RecordContext, name: string, rec: StatusRecord, applied?: { spec?: InstanceSpec; envDigest: string }, reason?: string): void {
  const file = statusPath(c.paths.instances, name);
  const at = new Date().toISOString();
  // Functions as replacements: a reason is inserted as it is (`$$`, `$&` and `{at}` in it stay literal).
  const fill = (text: string) => text.replace(/\{(reason|at)\}/g, (_m, key: string) => (key === 'at' ? at : reason ?? ''));
  const previous = rec.history || rec.generation ? readStatus(file).status : undefined;
  const version = rec.version ?? 'unknown';
  const specHash = rec.specHash ?? '';
  if (rec.history) {
    const outcome = rec.health === false ? 'failed' : 'healthy';
    appendHistory(historyPath(c.paths.instances, name), {
      version, updatedAt: at, updatedBy: c.updatedBy, reason: c.historyReason?.[name] ?? rec.history, outcome,
      ...(outcome === 'failed' && reason !== undefined ? { detail: reason } : {}),
      // The attempt's id: the spec, the outcome and the generation it starts from (a re-run never writes it twice).
      id: `${specHash.slice(0, 16)}:${outcome}:g${previous?.generation ?? 0}`,
    });
  }
  if (rec.log) c.log(rec.log.level, fill(rec.log.text), { instance: name });
  const patch: Partial<StatusFile> = { phase: rec.phase, message: rec.message === undefined ? undefined : fill(rec.message) };
  if (rec.health !== undefined) patch.health = { healthy: rec.health, at, ...(rec.health || reason === undefined ? {} : { reason }) };
  if (rec.hold === 'set') patch.held = { version, specHash, at, reason: reason ?? 'health check failed' };
  if (rec.hold === 'clear') patch.held = undefined;
  if (rec.desiredVersion !== undefined) patch.desiredVersion = rec.desiredVersion;
  if (rec.observedVersion !== undefined) patch.observedVersion = rec.observedVersion;
  if (rec.port !== undefined) patch.port = rec.port;
  if (rec.generation) patch.generation = (previous?.generation ?? 0) + 1;
  if (rec.applied && applied?.spec) {
    patch.applied = { specHash, version, commit: rec.applied.commit, runtime: rec.applied.runtime, spec: applied.spec, envDigest: applied.envDigest };
  }
  updateStatus(file, patch);
}
