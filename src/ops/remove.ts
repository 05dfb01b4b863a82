// Deleting what tend owns of one instance, the way the loop would: the planner plans the removal
// (asked for by name, so prune settings, an empty desired/ and the breaker do not apply) and the
// executor carries it out. Used by tend delete and by a failed tend create; never reaches around them.
import type { Runtime } from '../model/types.js';
import type { Log } from '../executor/execute.js';
import { defaultUpdatedBy, reconcile } from '../executor/reconcile.js';
import { RUNTIME_NOUN } from '../spec/names.js';
import { reloadDesired, type Project } from './edit.js';
import { OpsError } from './guard.js';

export interface RemoveOptions {
  /** Runtimes the instance is known to use: when one of them cannot be observed, nothing is done (an error). */
  runtimes?: readonly Runtime[];
  signal?: AbortSignal;
  log?: Log;
  /** Default `user@host`. */
  updatedBy?: string;
}

export interface RemoveResult {
  /** What was deleted: `tmux session oubliette-web`, `systemd unit oubliette-web.service`, ... */
  deleted: string[];
  /** Runtimes that could not be observed (anything of the instance there was not seen). */
  unobserved: { runtime: Runtime; reason: string }[];
}

/**
 * Deletes everything tend owns of `name` on every runtime (stop, then delete), through the planner
 * and the executor. Its desired file must be gone already. Things of that name tend does not own are
 * never touched.
 * @throws OpsError when the desired file is still there, a runtime in `runtimes` cannot be observed, or a delete fails.
 */
export async function removeFromRuntimes(project: Project, name: string, opts: RemoveOptions = {}): Promise<RemoveResult> {
  const desired = reloadDesired(project);
  if (desired.entries.some((e) => e.name === name)) throw new OpsError(`${name} still has a desired file; remove it first`, 'invalid');
  let unobserved: RemoveResult['unobserved'] = [];
  const result = await reconcile(desired, project.paths, {
    remove: new Set([name]), only: new Set([name]), updatedBy: opts.updatedBy ?? defaultUpdatedBy(),
    ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.log ? { log: opts.log } : {}),
    onPlan: (_plan, observation) => {
      unobserved = Object.entries(observation.observed.runtimes).flatMap(([rt, r]) =>
        (r?.status === 'unavailable' ? [{ runtime: rt as Runtime, reason: r.reason }] : []));
      const blocking = unobserved.filter((u) => opts.runtimes?.includes(u.runtime));
      if (blocking.length > 0) {
        throw new OpsError(`cannot observe ${blocking.map((u) => `${u.runtime} (${u.reason})`).join(', ')}, so ${name} could not be removed there`, 'failed');
      }
    },
  });
  const outcome = result.outcomes.find((o) => o.name === name && o.change === 'delete');
  if (outcome && outcome.result !== 'ok') throw new OpsError(`removing ${name} failed: ${outcome.reason ?? 'unknown error'}`, 'failed');
  const p = result.plans[0]!;
  const ip = result.final.find((i) => i.name === name && i.change === 'delete');
  if (!ip) return { deleted: [], unobserved };
  const byId = new Map(p.actions.map((a) => [a.id, a]));
  const deleted = ip.actions.map((id) => byId.get(id)!).flatMap((a) => (a.type === 'delete' ? [`${RUNTIME_NOUN[a.runtime]} ${a.target}`] : []));
  return { deleted, unobserved };
}
