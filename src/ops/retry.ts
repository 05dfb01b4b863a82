// `tend retry <name>`: lift the hold on a version that failed its health check, or clear a crash loop,
// so that the next reconcile tries it again; with `apply`, that reconcile is run for the instance.
import { reconcile, type ReconcileResult } from '../executor/reconcile.js';
import type { Log } from '../shared/log.js';
import { withInstanceLock } from '../state/lock.js';
import { readStatus, statusPath, updateStatus } from '../state/status.js';
import { reloadDesired, type Project } from './edit.js';
import { OpsError } from './guard.js';

export interface RetryOptions {
  /** Reconcile the instance afterwards (default true). */
  apply?: boolean;
  signal?: AbortSignal;
  log?: Log;
  updatedBy?: string;
}

export interface RetryResult {
  /** What was lifted: a crash loop (its exits forgotten), a hold (on `version`), or nothing. */
  cleared: 'crash-loop' | 'hold' | 'nothing';
  version?: string;
  reconcile?: ReconcileResult;
}

/**
 * Lifts what keeps instance `name` from being tried again: a crash loop (Degraded: its exits are
 * forgotten; a rolled-back instance stays RolledBack, so its process is restarted, not rolled back
 * again; a hold on a failed version stays: retry again to lift it) or else a hold. Then reconciles it.
 * @throws OpsError `not-found` when no desired file declares it.
 */
export async function retryInstance(project: Project, name: string, opts: RetryOptions = {}): Promise<RetryResult> {
  const desired = reloadDesired(project);
  if (!desired.entries.some((e) => e.name === name)) throw new OpsError(`no instance ${name} in ${desired.desiredDir}/`, 'not-found');
  const file = statusPath(project.paths.instances, name);
  const lockOpts = { ...(opts.signal ? { signal: opts.signal } : {}), purpose: `tend retry ${name}` };
  const result = await withInstanceLock(project.paths, name, async (): Promise<RetryResult> => {
    const st = readStatus(file).status;
    const held = st?.held;
    if (st?.phase === 'Degraded') {
      updateStatus(file, { crashes: [], phase: held ? 'RolledBack' : 'Progressing', message: 'retry after a crash loop requested' });
      return { cleared: 'crash-loop' };
    }
    if (held) {
      updateStatus(file, { held: undefined, phase: 'Progressing', message: `retry of ${held.version} requested` });
      return { cleared: 'hold', version: held.version };
    }
    return { cleared: 'nothing' };
  }, lockOpts);
  if (opts.apply === false) return result;
  const reconciled = await reconcile(reloadDesired(project), project.paths, {
    only: new Set([name]),
    ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.log ? { log: opts.log } : {}), ...(opts.updatedBy ? { updatedBy: opts.updatedBy } : {}),
  });
  return { ...result, reconcile: reconciled };
}
