// `tend delete`: removes an instance for good — what tend owns of it on its runtime (through the
// planner and executor), instances/<name>/ and desired/<name>.yaml. Not-owned look-alikes are never touched.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Log } from '../shared/log.js';
import type { Runtime } from '../model/types.js';
import { observeRuntimes } from '../observe/index.js';
import { RUNTIME_NOUN } from '../spec/names.js';
import { withInstanceLock } from '../state/lock.js';
import { readStatus, statusPath } from '../state/status.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { removeFromRuntimes } from './remove.js';
import { inGitRepo } from './desired-edit.js';
import { reloadDesired, type Project } from './edit.js';
import { desiredEditRefusal, OpsError } from './guard.js';
import { assertInstanceName, displayPath, instanceDirOf } from './project.js';
import { errorMessage } from '../shared/errors.js';

export interface DeletePreview {
  name: string;
  /** Desired files of the instance, relative to the root (`desired/web.yaml`). */
  files: string[];
  /** instances/<name>/, relative to the root, when it exists. */
  instanceDir?: string;
  /** What tend owns of it on the host: `tmux session oubliette-web`, ... */
  owned: string[];
  /** Those of `owned` that run now. */
  running: string[];
  /** Runtimes it is known to use (desired file, last applied spec). */
  runtimes: Runtime[];
  /** Runtimes that could not be observed: anything of the instance there is not seen. */
  unobserved: { runtime: Runtime; reason: string }[];
}

/**
 * What `deleteInstance` would remove (for a confirmation question).
 * @throws OpsError `not-found` when there is no desired file, instance directory or owned thing of that name.
 */
export async function previewDelete(project: Project, name: string): Promise<DeletePreview> {
  assertInstanceName(name);
  const files = [`${name}.yaml`, `${name}.yml`].map((f) => join(project.paths.desired, f)).filter((f) => existsSync(f));
  const dir = instanceDirOf(project, name);
  const entry = reloadDesired(project).entries.find((e) => e.name === name);
  const runtimes = new Set<Runtime>();
  if (entry?.status === 'valid') runtimes.add(entry.runtime);
  const applied = readStatus(statusPath(project.paths.instances, name)).status?.applied;
  if (applied) runtimes.add(applied.runtime);
  const observed = await observeRuntimes({ config: project.desired.config, paths: project.paths });
  const items = Object.values(observed.runtimes).flatMap((r) => r?.items ?? []).filter((i) => i.owned && i.instance === name);
  for (const i of items) runtimes.add(i.runtime);
  const unobserved = Object.entries(observed.runtimes).flatMap(([rt, r]) =>
    (r?.status === 'unavailable' && runtimes.has(rt as Runtime) ? [{ runtime: rt as Runtime, reason: r.reason }] : []));
  const preview: DeletePreview = {
    name, files: files.map((f) => displayPath(project, f)), owned: items.map((i) => `${RUNTIME_NOUN[i.runtime]} ${i.id}`),
    running: items.filter((i) => i.state === 'running').map((i) => `${RUNTIME_NOUN[i.runtime]} ${i.id}`),
    runtimes: [...runtimes].sort(), unobserved,
    ...(existsSync(dir) ? { instanceDir: `${displayPath(project, dir)}/` } : {}),
  };
  if (files.length === 0 && !preview.instanceDir && items.length === 0) {
    throw new OpsError(`no instance ${name}: no ${displayPath(project, join(project.paths.desired, `${name}.yaml`))}, no ${displayPath(project, dir)}/ and nothing tend owns of that name`, 'not-found');
  }
  return preview;
}

export interface DeleteOptions {
  name: string;
  /** Edit although agent.git.pull is on (`--local`). */
  local?: boolean;
  signal?: AbortSignal;
  log?: Log;
  updatedBy?: string;
  /**
   * Delete only a stopped instance: when, under the instance lock, something tend owns of it runs,
   * nothing is removed and `InstanceRunsError` is thrown (`tend discover --cleanup-stopped`).
   */
  onlyIfStopped?: boolean;
}

/** `deleteInstance` with `onlyIfStopped` found the instance running: nothing was removed. */
export class InstanceRunsError extends OpsError {
  constructor(readonly instance: string, readonly running: string[]) {
    super(`instance ${instance} is not stopped (${running.join(', ')} runs); nothing removed`, 'refused');
  }
}

export interface DeleteResult extends DeletePreview {
  /** What was deleted on the runtimes (`tmux session oubliette-web`, ...). */
  deleted: string[];
  /** The desired files lie in a git work tree (commit their removal). */
  inGit: boolean;
}

/**
 * Deletes an instance: its desired file goes first (so nothing recreates it), then the planner plans
 * the deletion of what tend owns of it (asked for by name: no prune setting or breaker needed) and the
 * executor carries it out, then instances/<name>/ is removed. When a runtime it uses cannot be
 * observed or a delete fails, the desired file is put back and nothing else is removed.
 * @throws OpsError `not-found`, `refused` (agent.git.pull without local), `failed`.
 */
export async function deleteInstance(project: Project, opts: DeleteOptions): Promise<DeleteResult> {
  const { name } = opts;
  assertInstanceName(name);
  const refusal = desiredEditRefusal(project.desired.config, opts.local, `delete ${name}`);
  if (refusal) throw new OpsError(refusal, 'refused');
  const { paths } = project;
  return withInstanceLock(paths, name, async () => {
    const preview = await previewDelete(project, name);
    if (opts.onlyIfStopped && preview.running.length > 0) throw new InstanceRunsError(name, preview.running);
    const files = [`${name}.yaml`, `${name}.yml`].map((f) => join(paths.desired, f)).filter((f) => existsSync(f));
    const saved = files.map((f) => ({ file: f, text: readFileSync(f, 'utf8') }));
    for (const f of files) rmSync(f, { force: true });
    let deleted: string[];
    try {
      deleted = (await removeFromRuntimes(project, name, {
        runtimes: preview.runtimes,
        ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.log ? { log: opts.log } : {}), ...(opts.updatedBy ? { updatedBy: opts.updatedBy } : {}),
      })).deleted;
    } catch (err) {
      for (const s of saved) writeFileAtomic(s.file, s.text);
      const why = errorMessage(err);
      throw new OpsError(`${why}; ${saved.length > 0 ? `${preview.files.join(', ')} put back, ` : ''}nothing else removed`, err instanceof OpsError ? err.code : 'failed', [], err);
    }
    rmSync(instanceDirOf(project, name), { recursive: true, force: true });
    return { ...preview, deleted, inGit: saved.length > 0 && inGitRepo(paths.desired) };
  }, { ...(opts.signal ? { signal: opts.signal } : {}), purpose: `tend delete ${name}` });
}
