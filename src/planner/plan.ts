// The pure planner: (desired, observed, releases, instance state) -> Plan. No I/O here.
import type { DesiredState, Diagnostic, InstanceStates, Observed, ObservedItem, ReleaseCatalog } from '../model/types.js';
import type { InstancePlan, Plan, PlanSummary } from '../model/plan.js';
import { RUNTIMES } from '../model/types.js';
import { RUNTIME_NOUN } from '../spec/names.js';
import { ActionBuilder } from './builder.js';
import { planInstance } from './instance.js';
import { planInvalid } from './invalid.js';
import { planRemovals } from './safety.js';
import { sortDiagnostics } from '../shared/diagnostics.js';

export interface PlanOptions {
  /** `--prune`: delete instances whose desired file is gone (like `prune.deleteRemoved`). */
  prune?: boolean;
  /** `--force`: override the deletion breaker and held versions. */
  force?: boolean;
  /**
   * Instances whose removal was asked for explicitly (`tend delete`, a failed `tend create`): when their
   * desired file is gone, what tend owns of them is deleted whatever prune, an empty desired/ or the breaker say.
   */
  remove?: ReadonlySet<string>;
}

export function plan(desired: DesiredState, observed: Observed, releases: ReleaseCatalog, instanceStates: InstanceStates, options: PlanOptions = {}): Plan {
  const config = desired.config;
  const builder = new ActionBuilder();
  const diagnostics: Diagnostic[] = [...desired.diagnostics];
  const instances: InstancePlan[] = [];

  const items = RUNTIMES.flatMap((rt) => observed.runtimes[rt]?.items ?? []);
  const owned = new Map<string, ObservedItem[]>();
  for (const item of items.filter((i) => i.owned)) owned.set(item.instance, [...(owned.get(item.instance) ?? []), item]);

  const entries = [...desired.entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const found = owned.get(entry.name) ?? [];
    const ctx = { config, observed, releases, state: instanceStates[entry.name], items: found, force: options.force ?? false, builder, diagnostics };
    instances.push(entry.status === 'invalid' ? planInvalid(entry, ctx) : planInstance(entry, ctx));
  }

  // Runtime notes (systemd linger off, ...) matter where an instance uses that runtime.
  for (const rt of RUNTIMES) {
    const obs = observed.runtimes[rt];
    if (obs?.status !== 'ok' || !entries.some((e) => e.status === 'valid' && e.runtime === rt)) continue;
    for (const message of obs.warnings ?? []) diagnostics.push({ severity: 'warning', message });
  }

  const declared = new Set(entries.map((e) => e.name));
  const removed = [...owned.keys()].filter((n) => !declared.has(n)).sort();
  instances.push(...planRemovals({
    desired, removed, owned, declaredCount: declared.size, builder, diagnostics,
    prune: options.prune === true || config.prune.deleteRemoved, force: options.force ?? false,
    ...(options.remove ? { remove: options.remove } : {}),
  }));

  for (const item of items.filter((i) => !i.owned).sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const id = builder.chain(`${item.runtime}:${item.id}`, 'orphan', [{
      type: 'orphan', runtime: item.runtime, target: item.id, reason: `${RUNTIME_NOUN[item.runtime]} ${item.id} is not owned by tend; reported, never touched`,
    }]);
    instances.push({
      name: item.instance, change: 'orphan', runtime: item.runtime, disruption: 'none', fields: [], actions: id,
      reason: `found ${RUNTIME_NOUN[item.runtime]} ${item.id}, not owned by tend (never touched unless adopted)`,
      ...(item.version ? { version: item.version } : {}),
    });
  }

  return {
    formatVersion: 2,
    app: config.app,
    summary: summarize(instances),
    instances,
    actions: builder.actions,
    diagnostics: sortDiagnostics(diagnostics),
  };
}

export function summarize(instances: InstancePlan[]): PlanSummary {
  const s: PlanSummary = { create: 0, update: 0, replace: 0, delete: 0, change: 0, held: 0, invalid: 0, blocked: 0, orphan: 0, unchanged: 0 };
  for (const i of instances) {
    switch (i.change) {
      case 'create': case 'update': case 'replace': case 'delete': case 'held': case 'invalid': case 'blocked': case 'orphan': case 'unchanged':
        s[i.change]++;
        break;
      case 'rollback':
        s.update++;
        break;
      case 'reconfigure': case 'restart': case 'start': case 'stop':
        s.change++;
        break;
      default: {
        const never: never = i.change;
        throw new Error(`unknown change ${String(never)}`);
      }
    }
  }
  return s;
}
