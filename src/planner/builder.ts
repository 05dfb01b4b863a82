// Collects actions with stable ids and dependency chains while the planner walks instances.
import type { Action, ActionType, Change, Disruption, Runtime } from '../model/types.js';

export interface StepInput {
  type: ActionType;
  runtime?: Runtime;
  target?: string;
  version?: string;
  commit?: string;
  specHash?: string;
  reason: string;
  disruption?: Disruption;
  dependsOn?: string[];
  from?: 'applied';
  notBefore?: string;
  crash?: Omit<import('../model/types.js').Crash, 'at'>;
}

export class ActionBuilder {
  readonly actions: Action[] = [];
  private readonly byId = new Map<string, Action>();

  /** Add (or reuse) a shared action such as a build; returns its id. */
  shared(id: string, step: StepInput): string {
    if (!this.byId.has(id)) this.push({ id, ...step, disruption: step.disruption ?? 'none', dependsOn: step.dependsOn ?? [] });
    return id;
  }

  /** A chain of steps for one instance: each depends on the previous one (and on `after`). */
  chain(instance: string, change: Change, steps: StepInput[], after: string[] = []): string[] {
    const ids: string[] = [];
    let prev = after;
    for (const step of steps) {
      let id = `${instance}/${step.type}${step.runtime ? `@${step.runtime}` : ''}`;
      for (let n = 2; this.byId.has(id); n++) id = `${instance}/${step.type}#${n}`;
      this.push({
        id, ...step, instance, change,
        disruption: step.disruption ?? 'none',
        dependsOn: [...prev, ...(step.dependsOn ?? [])],
      });
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
