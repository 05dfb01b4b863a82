// `--dry-run` of the commands that edit desired files (update, rollback): the edit they would make and
// the plan a reconcile of those instances would carry out after it; nothing is written or changed.
import type { DesiredState } from '../model/types.js';
import type { Plan } from '../model/plan.js';
import { observeAll } from '../observe/index.js';
import { plan, summarize } from '../planner/plan.js';
import { findEntry, type DesiredEdit, type KeyChange, type Project } from './edit.js';

export interface EditPreview {
  /** What would be written (nothing is). */
  edits: DesiredEdit[];
  /** Instances whose file already says so. */
  unchanged: string[];
  /** The plan for these instances once the files say so (only them: other instances are left out). */
  plan: Plan;
}

/** desired/ as it would load after `changes`, without writing: each valid entry's spec with the key set. */
function withChanges(desired: DesiredState, changes: readonly KeyChange[]): DesiredState {
  const copy = structuredClone(desired);
  for (const c of changes) {
    const entry = copy.entries.find((e) => e.name === c.name);
    if (entry?.status !== 'valid') continue;
    if (c.key === 'version') entry.spec.version = c.value;
    else entry.spec.state = c.value as typeof entry.spec.state;
  }
  return copy;
}

/** `p` cut down to `names`: their instance plans, their actions and the shared ones (builds) those depend on, their diagnostics. */
export function planFor(p: Plan, names: ReadonlySet<string>): Plan {
  const instances = p.instances.filter((i) => names.has(i.name) && i.change !== 'orphan');
  const wanted = new Set(instances.flatMap((i) => i.actions));
  const byId = new Map(p.actions.map((a) => [a.id, a]));
  const visit = (id: string) => {
    for (const dep of byId.get(id)?.dependsOn ?? []) {
      if (!wanted.has(dep)) {
        wanted.add(dep);
        visit(dep);
      }
    }
  };
  for (const id of [...wanted]) visit(id);
  return {
    ...p,
    summary: summarize(instances),
    instances,
    actions: p.actions.filter((a) => wanted.has(a.id)),
    diagnostics: p.diagnostics.filter((d) => d.instance === undefined || names.has(d.instance)),
  };
}

/**
 * The edits `changes` would make and the plan for their instances afterwards: observed now, planned
 * as `tend reconcile --dry-run` would plan once the files say so. Nothing is written.
 */
export async function previewEdits(project: Project, desired: DesiredState, changes: readonly KeyChange[]): Promise<EditPreview> {
  const edits: DesiredEdit[] = [];
  const unchanged: string[] = [];
  for (const c of changes) {
    const entry = findEntry(desired, c.name);
    const now = entry.status === 'valid' ? entry.spec[c.key] : undefined;
    if (now === c.value) unchanged.push(c.name);
    else edits.push({ instance: c.name, file: entry.file, key: c.key, from: now, to: c.value });
  }
  const after = withChanges(desired, changes);
  const obs = await observeAll(after, project.paths);
  const full = plan(after, obs.observed, obs.releases, obs.instances, {});
  return { edits, unchanged, plan: planFor(full, new Set(changes.map((c) => c.name))) };
}
