// `tend discover --cleanup-stopped`: an adopted instance whose container is gone is a stopped instance
// nothing runs; it is removed for good (desired/<name>.yaml, instances/<name>/ and whatever else tend
// owns of it), as the original instance manager's "remove stopped instances" did. The removal is
// `deleteInstance`'s, so it runs under the instance lock and looks again there: when something tend owns
// of the instance runs (tend replaced the adopted container with its own), the instance is kept and only
// its adoption record is dropped (the container it names is gone).
import type { Log } from '../executor/execute.js';
import { deleteInstance, InstanceRunsError, previewDelete } from './delete.js';
import type { Project } from './edit.js';
import { OpsError } from './guard.js';
import { removeAdoptionRecord } from '../state/adopted.js';
import type { Discovery, FoundContainer } from '../discover/scan.js';
import { errorMessage } from '../shared/errors.js';

/** An adopted instance whose container is gone, and what removing it would remove. */
export interface StoppedInstance {
  /** The adopted container's name and id (gone). */
  container: string;
  id: string;
  instance: string;
  /** What would be removed: owned things (`docker container …`), `instances/<name>/`, `desired/<name>.yaml`. */
  removes: string[];
  /** What tend owns of the instance that runs now: such an instance is kept (its record is dropped). */
  running: string[];
}

export interface RemovedInstance {
  container: string;
  id: string;
  instance: string;
  /** Desired files removed, relative to the root. */
  files: string[];
  /** `instances/<name>/`, relative to the root, when it existed. */
  instanceDir?: string;
  /** What tend owned of it on a runtime and deleted (`docker container oubliette-web`, …). */
  deleted: string[];
  /** The desired files were in a git work tree (commit their removal). */
  inGit: boolean;
}

export interface KeptInstance {
  container: string;
  id: string;
  instance: string;
  /** What runs (so the instance is not stopped); the adoption record was dropped. */
  running: string[];
}

export interface CleanupResult {
  removed: RemovedInstance[];
  kept: KeptInstance[];
  /** Instances that could not be removed, and why (nothing of them was removed). */
  failures: string[];
}

export interface CleanupOptions {
  /** Remove desired files although agent.git.pull is on (`--local`). */
  local?: boolean;
  log?: Log;
  signal?: AbortSignal;
}

/** Adopted containers that no longer exist (each names the instance it became). */
export function goneAdoptions(discovery: Discovery): (FoundContainer & { instance: string })[] {
  return discovery.containers.filter((c): c is FoundContainer & { instance: string } => c.gone && c.record !== undefined && c.instance !== undefined);
}

/** What `cleanupStopped` would do, for the confirmation question (read only). */
export async function previewCleanup(project: Project, discovery: Discovery): Promise<StoppedInstance[]> {
  const out: StoppedInstance[] = [];
  for (const c of goneAdoptions(discovery)) {
    const p = await previewDelete(project, c.instance).catch((err: unknown) => {
      if (err instanceof OpsError && err.code === 'not-found') return undefined;
      throw err;
    });
    out.push({
      container: c.name, id: c.id, instance: c.instance,
      removes: p ? [...p.owned, ...(p.instanceDir ? [p.instanceDir] : []), ...p.files] : [],
      running: p?.running ?? [],
    });
  }
  return out;
}

/**
 * Removes each adopted instance whose container is gone (see the top of this file); an instance found
 * running under its lock is kept and its adoption record dropped. Check `desiredEditRefusal` first, as
 * the CLI does (a refusal is reported per instance otherwise).
 */
export async function cleanupStopped(project: Project, discovery: Discovery, opts: CleanupOptions = {}): Promise<CleanupResult> {
  const result: CleanupResult = { removed: [], kept: [], failures: [] };
  for (const c of goneAdoptions(discovery)) {
    const who = { container: c.name, id: c.id, instance: c.instance };
    try {
      const r = await deleteInstance(project, {
        name: c.instance, onlyIfStopped: true, updatedBy: 'tend discover --cleanup-stopped',
        ...(opts.local !== undefined ? { local: opts.local } : {}), ...(opts.log ? { log: opts.log } : {}), ...(opts.signal ? { signal: opts.signal } : {}),
      });
      result.removed.push({ ...who, files: r.files, ...(r.instanceDir ? { instanceDir: r.instanceDir } : {}), deleted: r.deleted, inGit: r.inGit });
    } catch (err) {
      if (err instanceof InstanceRunsError) {
        removeAdoptionRecord(project.paths.instances, c.instance);
        result.kept.push({ ...who, running: err.running });
        continue;
      }
      result.failures.push(`cannot remove instance ${c.instance} (its adopted container ${c.name} is gone): ${errorMessage(err)}`);
    }
  }
  return result;
}
