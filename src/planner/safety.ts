// Removal rules: orphans are reported; deletes need pruning on, a non-empty desired/, and the breaker's consent.
import type { DesiredState, Diagnostic, ObservedItem } from '../model/types.js';
import type { InstancePlan } from '../model/plan.js';
import { RUNTIME_NOUN } from '../spec/names.js';
import type { ActionBuilder } from './builder.js';

export interface RemovalInput {
  desired: DesiredState;
  /** Owned instance names with no desired file, sorted. */
  removed: string[];
  owned: Map<string, ObservedItem[]>;
  declaredCount: number;
  prune: boolean;
  force: boolean;
  builder: ActionBuilder;
  diagnostics: Diagnostic[];
  /** Removals asked for explicitly (PlanOptions.remove): deleted outside the rules below. */
  remove?: ReadonlySet<string>;
}

export function planRemovals(input: RemovalInput): InstancePlan[] {
  const { desired, owned, builder, diagnostics } = input;
  const asked = (name: string) => input.remove?.has(name) === true;
  if (input.removed.length === 0) return [];
  // The rules (prune, empty desired/, breaker) judge only the removals nobody asked for by name.
  const removed = input.removed.filter((n) => !asked(n));
  const dir = desired.desiredDir;
  const emptyDesired = !desired.dirExists || desired.entries.length === 0;
  const total = new Set([...desired.entries.map((e) => e.name), ...owned.keys()]).size;
  const share = removed.length / Math.max(1, total);
  const maxShare = desired.config.prune.maxShare;
  const breakerTrips = share > maxShare && !input.force;

  let why: string | undefined;
  if (removed.length === 0) {
    // Only removals asked for by name: none of the rules applies.
  } else if (emptyDesired) {
    why = `${dir}/ is ${desired.dirExists ? 'empty' : 'missing'}: nothing is deleted`;
    diagnostics.push({ severity: 'warning', file: dir, message: `${why} (${removed.length} instance${removed.length > 1 ? 's' : ''} found without a desired file)` });
  } else if (!input.prune) {
    why = 'deletion is off (set prune.deleteRemoved in tend.yaml or pass --prune)';
  } else if (breakerTrips) {
    why = `deletion breaker: ${removed.length} of ${total} instances (${Math.round(share * 100)}%) is more than prune.maxShare ${Math.round(maxShare * 100)}%; pass --force to delete`;
    diagnostics.push({ severity: 'error', message: `refusing to delete ${removed.length} of ${total} instances (${removed.join(', ')}): more than prune.maxShare ${Math.round(maxShare * 100)}%; pass --force to allow` });
  }

  return input.removed.map((name): InstancePlan => {
    const items = [...(owned.get(name) ?? [])].sort((a, b) => (a.runtime < b.runtime ? -1 : 1));
    const where = items.map((i) => `${RUNTIME_NOUN[i.runtime]} ${i.id}`).join(', ');
    const version = items.find((i) => i.version)?.version;
    const common = { name, runtime: items[0]?.runtime, fields: [], ...(version ? { version } : {}) };
    if (why !== undefined && !asked(name)) {
      const change = breakerTrips && !emptyDesired && input.prune ? 'blocked' as const : 'orphan' as const;
      const actions = builder.chain(name, change, [{ type: 'orphan', runtime: items[0]?.runtime, target: items[0]?.id, reason: `${dir}/${name}.yaml is gone; ${why}` }]);
      return { ...common, change, disruption: 'none', actions, reason: `${dir}/${name}.yaml is gone (${where}); ${why}` };
    }
    const actions = builder.chain(name, 'delete', items.flatMap((i) => [
      ...(i.state === 'running' ? [{ type: 'stop' as const, runtime: i.runtime, target: i.id, reason: `stop ${i.id}` }] : []),
      { type: 'delete' as const, runtime: i.runtime, target: i.id, reason: `remove ${RUNTIME_NOUN[i.runtime]} ${i.id}`, disruption: 'delete' as const },
    ]));
    const reason = asked(name) ? `deletion of ${name} was asked for (${where})` : `${dir}/${name}.yaml is gone and deletion is on`;
    return { ...common, change: 'delete', disruption: 'delete', actions, reason };
  });
}
