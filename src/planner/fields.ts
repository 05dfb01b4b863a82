// Pure helpers of the instance planner: the fields a change touches, when a restart request is due, the health step's label.
import type { FieldChange } from '../model/plan.js';
import type { InstanceState, ObservedItem } from '../model/types.js';
import { specDiff } from '../shared/spec-diff.js';
import { short } from '../shared/hash.js';
import { describeHealth } from '../shared/health-check.js';
import type { Valid } from './context.js';

export function changedFields(current: ObservedItem, tag: string, commit: string, state: InstanceState | undefined, spec: Valid['spec'], envDigest: string): FieldChange[] {
  const out: FieldChange[] = [];
  if (current.version !== tag) out.push({ field: 'version', from: current.version, to: tag });
  const applied = state?.applied;
  if (!applied) {
    out.push({ field: 'spec-hash', from: short(current.specHash ?? 'unknown'), to: 'new' });
    return out;
  }
  if (applied.version === tag && applied.commit !== commit) out.push({ field: 'commit', from: short(applied.commit), to: short(commit) });
  out.push(...specDiff(applied.spec, spec));
  if (applied.envDigest !== envDigest) out.push({ field: '.env', sensitive: true });
  return out;
}

/**
 * A restart request (`tend restart`, requests.json) is due while the running process started before it
 * (compared as times: `...00Z` and `...00.000Z` are the same instant). An unreadable request is ignored;
 * an unknown start time counts as before it.
 */
export function restartDue(requestedAt: string, startedAt: string | undefined): boolean {
  const requested = Date.parse(requestedAt);
  if (Number.isNaN(requested)) return false;
  const started = startedAt === undefined ? NaN : Date.parse(startedAt);
  return Number.isNaN(started) || requested > started;
}

export function healthLabel(h: Valid['spec']['health']): string {
  return `health: ${describeHealth(h)} within ${h.timeout}`;
}
