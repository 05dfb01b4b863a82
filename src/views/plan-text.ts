// The human rendering of a plan, in the spirit of `terraform plan`. Same plan, same bytes.
import type { Action, Change, FieldChange, InstancePlan, Plan } from '../model/plan.js';
import { formatDiagnostic } from '../shared/diagnostic-text.js';

const SYMBOL: Record<Change, string> = {
  create: '+', update: '~', rollback: '<', reconfigure: '~', restart: '~', start: '~', stop: '~', replace: '-/+', delete: '-',
  held: '!', blocked: '!', invalid: 'x', orphan: '?', unchanged: '=',
};

function value(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? 'null';
}

function fieldLine(f: FieldChange): string {
  if (f.sensitive) return `${f.field}: (sensitive)`;
  if (!('from' in f)) return `${f.field}: ${value(f.to)}`;
  if (!('to' in f)) return `${f.field}: ${value(f.from)} -> (removed)`;
  return `${f.field}: ${value(f.from)} -> ${value(f.to)}`;
}

function heading(i: InstancePlan): string {
  const facts = [i.runtime, i.fromVersion && i.version && i.fromVersion !== i.version ? `${i.fromVersion} -> ${i.version}` : i.version]
    .filter((x): x is string => Boolean(x));
  const disruption = i.disruption !== 'none' ? ` [${i.disruption}]` : '';
  return `${SYMBOL[i.change]} ${i.change} ${i.name}${facts.length ? ` (${facts.join(', ')})` : ''}${disruption}`;
}

export function summaryLine(plan: Plan): string {
  const s = plan.summary;
  const update = s.update + s.replace + s.change;
  const extra = [
    [s.replace, 'replaced'], [s.invalid, 'invalid'], [s.blocked, 'blocked'], [s.orphan, s.orphan === 1 ? 'orphan' : 'orphans'], [s.unchanged, 'unchanged'],
  ].filter(([n]) => (n as number) > 0).map(([n, w]) => `${n} ${w}`);
  return `Plan: ${s.create} to create, ${update} to update, ${s.delete} to delete, ${s.held} held${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

function actionLine(a: Action, n: number): string {
  const disruption = a.disruption !== 'none' ? ` [${a.disruption}]` : '';
  const after = a.dependsOn.length > 0 ? ` (after ${a.dependsOn.join(', ')})` : '';
  return `  ${String(n).padStart(2)}. ${a.id}: ${a.reason}${disruption}${after}`;
}

export function renderPlanText(plan: Plan): string {
  const out: string[] = [summaryLine(plan), ''];
  const shown = plan.instances.filter((i) => i.change !== 'unchanged');
  for (const i of shown) {
    out.push(heading(i));
    out.push(`    reason: ${i.reason}`);
    if (i.release) out.push(`    release: ${i.release}`);
    for (const f of i.fields) out.push(`    ${fieldLine(f)}`);
    out.push('');
  }
  const unchanged = plan.instances.filter((i) => i.change === 'unchanged').map((i) => i.name);
  if (unchanged.length > 0) out.push(`= unchanged: ${unchanged.join(', ')}`, '');
  const work = plan.actions.filter((a) => a.type !== 'orphan');
  if (work.length > 0) {
    out.push(`Actions (${work.length}, in order):`);
    work.forEach((a, n) => out.push(actionLine(a, n + 1)));
    out.push('');
  } else {
    out.push('No changes. Nothing to do.', '');
  }
  if (plan.diagnostics.length > 0) {
    out.push('Diagnostics:');
    for (const d of plan.diagnostics) out.push(`  ${formatDiagnostic(d)}`);
    out.push('');
  }
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

export function renderPlanJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}
