// Collects actions with stable ids and dependency chains while the planner walks instances.
import type { Action, BuildAction, Change, Disruption, InstanceAction } from '../model/plan.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One step of an instance's chain: an action without its id, instance and change (the chain adds them). */
export type StepInput = DistributiveOmit<InstanceAction, 'id' | 'instance' | 'change' | 'disruption' | 'dependsOn'> & {
  disruption?: Disruption;
  dependsOn?: string[];
};

export class ActionBuilder {
  readonly actions: Action[] = [];
  private readonly byId = new Map<string, Action>();

  /** Add (or reuse) a build, shared by every instance that needs it; returns its id. */
  shared(id: string, step: Omit<BuildAction, 'id' | 'disruption' | 'dependsOn'>): string {
    if (!this.byId.has(id)) this.push({ id, ...step, disruption: 'none', dependsOn: [] });
    return id;
  }

  /** A chain of steps for one instance: each depends on the previous one (and on `after`). */
  chain(instance: string, change: Change, steps: StepInput[], after: string[] = []): string[] {
    const ids: string[] = [];
    let prev = after;
    for (const step of steps) {
      // write-config is the instance's own (one per chain whatever the runtime); runtime work is named by its runtime.
      const on = step.type !== 'write-config' && step.runtime ? `@${step.runtime}` : '';
      let id = `${instance}/${step.type}${on}`;
      for (let n = 2; this.byId.has(id); n++) id = `${instance}/${step.type}#${n}`;
      this.push({
        id, ...step, instance, change,
        disruption: step.disruption ?? 'none',
        dependsOn: [...prev, ...(step.dependsOn ?? [])],
      } as InstanceAction);
      ids.push(id);
      prev = [id];
    }
    return ids;
  }

  private push(action: Action): void {
    // Drop undefined fields so JSON output stays minimal and stable.
    const clean = Object.fromEntries(Object.entries(action).filter(([, v]) => v !== undefined)) as unknown as Action;
    this.actions.push(clean);
    this.byId.set(clean.id, clean);
  }
}
