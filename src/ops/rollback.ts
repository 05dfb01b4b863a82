// `tend rollback <name> [--to V]`: which version the desired file should name instead of the one it
// names now, then the edit and a reconcile of that instance (history reason `rollback`).
import { historyPath, readHistory } from '../state/history.js';
import { assertEditable, editAndApply, findEntry, reloadDesired, type EditOptions, type EditResult, type Project } from './edit.js';
import { OpsError } from './guard.js';
import { previewEdits, type EditPreview } from './preview.js';
import { assertTagExists } from './update.js';

/**
 * Why `to` was chosen: `to` named by the operator; `earlier` the last healthy version before the one
 * the file names (which ran healthy); `pin` the version that runs, because the one the file names never
 * ran healthy (an automatic rollback went back to `to` already, or the edit was never applied): the
 * file is made to name what runs, so it stops asking for the failed version.
 */
export type RollbackKind = 'to' | 'earlier' | 'pin';

export interface RollbackChoice {
  name: string;
  /** The version the desired file names now (undefined when it does not validate). */
  from?: string;
  to: string;
  kind: RollbackKind;
  /** With `pin`: `to` runs because tend rolled back to it by itself (an `auto-rollback` history line). */
  automatic: boolean;
  /** One line for people saying what is done and why. */
  why: string;
}

/**
 * The version `tend rollback` goes to. Without `to`: the last version that ran healthy, when that is
 * not the one the file names (after an automatic rollback it is the version running: the file is
 * pinned to it); otherwise the last healthy one before it. Throws OpsError when there is none, or
 * when `to` is not a tag.
 */
export async function chooseRollback(project: Project, name: string, to?: string): Promise<RollbackChoice> {
  const desired = reloadDesired(project);
  const entry = findEntry(desired, name);
  const from = entry.status === 'valid' ? entry.spec.version : undefined;
  if (to !== undefined) {
    await assertTagExists(project, to);
    return { name, ...(from ? { from } : {}), to, kind: 'to', automatic: false, why: `${name}: back to ${to} as asked` };
  }
  const history = readHistory(historyPath(project.paths.instances, name));
  const healthy = history.filter((h) => h.outcome === 'healthy');
  const last = healthy.at(-1);
  if (last && last.version !== from) {
    const automatic = last.reason === 'auto-rollback';
    const why = automatic
      ? `${name}: ${from ?? 'the version the file names'} failed and tend already rolled back to ${last.version}, which runs; the file is pinned to ${last.version} so it stops asking for ${from ?? 'it'}`
      : `${name}: ${from ?? 'the version the file names'} has not run healthy; ${last.version}, the last version that did, runs: the file is pinned to it`;
    return { name, ...(from ? { from } : {}), to: last.version, kind: 'pin', automatic, why };
  }
  const earlier = healthy.filter((h) => h.version !== from).at(-1);
  if (!earlier) {
    throw new OpsError(`${name} has no healthy version in its history other than ${from ?? 'the current one'}; use --to <version>`, 'not-found');
  }
  return { name, ...(from ? { from } : {}), to: earlier.version, kind: 'earlier', automatic: false, why: `${name}: back to ${earlier.version}, the last healthy version before ${from ?? 'the current one'}` };
}

export interface RollbackResult extends EditResult {
  choice: RollbackChoice;
}

/** Writes the chosen version into the desired file and reconciles that instance (history reason `rollback`). */
export async function rollbackInstance(project: Project, name: string, to?: string, opts: EditOptions = {}): Promise<RollbackResult> {
  findEntry(reloadDesired(project), name);
  assertEditable(project, opts.local, `roll ${name} back`);
  const choice = await chooseRollback(project, name, to);
  const reconcile = { ...opts.reconcile, historyReason: { ...opts.reconcile?.historyReason, [name]: 'rollback' as const } };
  const result = await editAndApply(project, reloadDesired(project), [{ name, key: 'version', value: choice.to }], { ...opts, reconcile });
  return { ...result, choice };
}

/** `tend rollback --dry-run`: the choice, the edit and the plan, with the same refusals; nothing is written or changed. */
export async function previewRollback(project: Project, name: string, to?: string, opts: { local?: boolean } = {}): Promise<EditPreview & { choice: RollbackChoice }> {
  findEntry(reloadDesired(project), name);
  assertEditable(project, opts.local, `roll ${name} back`);
  const choice = await chooseRollback(project, name, to);
  return { ...(await previewEdits(project, reloadDesired(project), [{ name, key: 'version', value: choice.to }])), choice };
}
