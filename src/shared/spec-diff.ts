// Field-level differences between the last applied spec and the desired one, for people.
import type { InstanceSpec } from '../model/types.js';
import type { FieldChange } from '../model/plan.js';
import { canonicalJson } from './hash.js';

const HIDDEN = new Set(['name', 'apiVersion']);

/** Flatten mappings into dotted paths; lists and scalars are leaves. */
export function flatten(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix !== '') out[prefix] = {};
    for (const [k, v] of entries) {
      if (prefix === '' && HIDDEN.has(k)) continue;
      flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
    }
  } else if (value !== undefined) {
    out[prefix] = value;
  }
  return out;
}

function sorted(keys: Iterable<string>): string[] {
  return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every field of a new spec, as `field: to`. */
export function specFields(spec: InstanceSpec): FieldChange[] {
  const flat = flatten(spec);
  return sorted(Object.keys(flat)).map((field) => ({ field, to: flat[field] }));
}

/** Fields that differ between `from` and `to` (version is reported by the caller). */
export function specDiff(from: InstanceSpec, to: InstanceSpec): FieldChange[] {
  const a = flatten({ ...from, version: undefined });
  const b = flatten({ ...to, version: undefined });
  const out: FieldChange[] = [];
  const expanded = (flat: Record<string, unknown>, field: string) => !(field in flat) && Object.keys(flat).some((k) => k.startsWith(`${field}.`));
  for (const field of sorted(new Set([...Object.keys(a), ...Object.keys(b)]))) {
    if (canonicalJson(a[field]) === canonicalJson(b[field])) continue;
    // An empty mapping (`env: {}`) on one side is listed by its children on the other: those lines say it all.
    if (expanded(a, field) || expanded(b, field)) continue;
    const change: FieldChange = { field };
    if (field in a) change.from = a[field];
    if (field in b) change.to = b[field];
    out.push(change);
  }
  return out;
}

/** Fields that only matter to tend itself (not to the running process). */
export const TEND_ONLY_FIELDS = ['health', 'rollout'] as const;

export function onlyTendFields(changes: readonly FieldChange[]): boolean {
  return changes.length > 0 && changes.every((c) => TEND_ONLY_FIELDS.some((f) => c.field === f || c.field.startsWith(`${f}.`)));
}
