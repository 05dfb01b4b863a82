// Plans an instance whose desired file does not validate: what runs keeps running when it is the last
// healthy spec on record; anything else (stopped by an update cut short, an update's version not yet
// verified, a runtime changed half-way) is put back to that spec, `from: applied`.
import type { AppliedSpec, DesiredEntry, ReleaseCatalog } from '../model/types.js';
import type { InstancePlan } from '../model/plan.js';
import { short } from '../shared/hash.js';
import { invalidRecords } from './records.js';
import { planInstance, type InstanceContext } from './instance.js';
import type { ReleaseDecision } from './release.js';

type Invalid = Extract<DesiredEntry, { status: 'invalid' }>;

/** The release of the last applied spec: the built one when it is still valid, else built again from its commit. */
export function appliedRelease(applied: AppliedSpec, releases: ReleaseCatalog, why: string): ReleaseDecision & { kind: 'ok' } {
  const built = releases.built[applied.version];
  const reuse = built?.valid === true && built.commit === applied.commit;
  return {
    kind: 'ok', tag: applied.version, commit: applied.commit,
    summary: reuse ? `reuse ${applied.version}` : `build ${applied.version} (commit ${short(applied.commit)}, ${why})`,
    ...(reuse ? (built.imageId ? { imageId: built.imageId } : {}) : { build: `${why}: release missing or invalid` }),
  };
}

/**
 * An invalid desired file puts the instance in InvalidSpec and applies nothing of the file. With a last
 * healthy spec on record (status.json `applied`), the instance converges to it: nothing to do while it
 * runs (and was verified); started, or rolled back to, when what runs is not it. Without one, nothing.
 */
export function planInvalid(entry: Invalid, ctx: Omit<InstanceContext, 'rollback' | 'restore'>): InstancePlan {
  const runningNow = ctx.items.filter((i) => i.state === 'running').map((i) => `${i.id}${i.version ? ` (${i.version})` : ''}`);
  const invalid: InstancePlan = {
    name: entry.name, change: 'invalid', file: entry.file, disruption: 'none', fields: [], actions: [], phase: 'InvalidSpec',
    reason: `${entry.file} has errors; ${runningNow.length > 0 ? `${runningNow.join(', ')} keeps running` : 'nothing is changed'}`,
  };
  const applied = ctx.state?.applied;
  if (!applied) return invalid;
  // Diagnostics of the way back (a runtime not observable, a secret missing) would only repeat that nothing is done.
  const back = planInstance(
    { status: 'valid', name: entry.name, file: entry.file, runtime: applied.runtime, spec: applied.spec, positions: {} },
    { ...ctx, diagnostics: [], restore: { release: appliedRelease(applied, ctx.releases, 'to restore it') } },
  );
  if (back.actions.length === 0) {
    if (back.change === 'unchanged' || back.change === 'blocked') return invalid;
    // A crash loop of the last healthy spec: nothing restarts it until the file changes.
    return { ...invalid, reason: `${invalid.reason}; ${back.reason}` };
  }
  return invalidRecords({
    ...invalid, runtime: applied.runtime, version: applied.version, disruption: back.disruption, actions: back.actions, fields: back.fields,
    ...(back.fromVersion !== undefined ? { fromVersion: back.fromVersion } : {}), ...(back.release ? { release: back.release } : {}),
    reason: `${entry.file} has errors; restore ${applied.version}, the last healthy spec: ${back.reason}`,
  }, ctx.builder.actions, applied.spec.port);
}
