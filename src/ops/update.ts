// `tend update <name>|--all --version V`: the version written into desired files (the tag must exist),
// then a reconcile of those instances (a failing version is rolled back and held, as in reconcile).
import type { DesiredState } from '../model/types.js';
import { resolveVersions } from '../release/tags.js';
import { assertEditable, editAndApply, findEntry, type EditOptions, type EditResult, reloadDesired, type Project } from './edit.js';
import { OpsError } from './guard.js';
import { previewEdits, type EditPreview } from './preview.js';

export type UpdateTarget = { names: readonly string[] } | { all: true };

export interface UpdateResult extends EditResult {
  /** With `all`: instances whose desired file does not validate, left as they are. */
  skipped: { name: string; why: string }[];
}

/** Throws OpsError (`Git tag v9.9.9 not found`) unless `version` names a tag of the source repository (or `latest` resolves). */
export async function assertTagExists(project: Project, version: string): Promise<void> {
  const source = project.desired.config.source;
  const r = (await resolveVersions(source.repo, project.paths.root, [version], source.prereleases))[version];
  if (r?.status === 'resolved') return;
  if (r?.status === 'not-found') throw new OpsError(r.reason, 'not-found');
  throw new OpsError(`cannot check tag ${version}: ${r?.reason ?? 'source repository not readable'}`, 'failed');
}

/** The instances `target` names (all must exist) or, with `all`, every valid one; the others skipped. */
function targetsOf(project: Project, target: UpdateTarget): { desired: DesiredState; names: string[]; skipped: UpdateResult['skipped'] } {
  const desired = reloadDesired(project);
  const skipped: UpdateResult['skipped'] = [];
  let names: string[];
  if ('all' in target) {
    names = [];
    for (const e of desired.entries) {
      if (e.status === 'valid') names.push(e.name);
      else skipped.push({ name: e.name, why: `${e.file} has errors` });
    }
    if (names.length === 0) throw new OpsError(`no valid instance in ${desired.desiredDir}/ to update`, 'not-found');
  } else {
    names = [...new Set(target.names)];
    if (names.length === 0) throw new OpsError('name an instance, or pass --all', 'invalid');
    for (const n of names) findEntry(desired, n);
  }
  return { desired, names, skipped };
}

/**
 * Writes `version` into the desired files of the named instances (or of every valid one with
 * `{ all: true }`) and reconciles them. Nothing is edited when the tag does not exist.
 */
export async function updateInstances(project: Project, target: UpdateTarget, version: string, opts: EditOptions = {}): Promise<UpdateResult> {
  const { desired, names, skipped } = targetsOf(project, target);
  assertEditable(project, opts.local);
  await assertTagExists(project, version);
  const result = await editAndApply(project, desired, names.map((name) => ({ name, key: 'version' as const, value: version })), opts);
  return { ...result, skipped };
}

/**
 * `tend update --dry-run`: what updateInstances would write and the plan it would carry out, with the
 * same refusals (unknown instance or tag, `agent.git.pull` without `local`); nothing is written or changed.
 */
export async function previewUpdate(project: Project, target: UpdateTarget, version: string, opts: { local?: boolean } = {}): Promise<EditPreview & { skipped: UpdateResult['skipped'] }> {
  const { desired, names, skipped } = targetsOf(project, target);
  assertEditable(project, opts.local);
  await assertTagExists(project, version);
  const preview = await previewEdits(project, desired, names.map((name) => ({ name, key: 'version' as const, value: version })));
  return { ...preview, skipped };
}
