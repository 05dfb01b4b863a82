// Pure: which releases instances run, want, have applied or would roll back to (prune never deletes them).
import type { DesiredEntry, InstanceStates, ObservedItem, VersionResolution } from '../model/types.js';
import { latestTag } from '../shared/semver.js';

export interface InUseInput {
  entries: readonly DesiredEntry[];
  resolutions: Readonly<Record<string, VersionResolution>>;
  items: readonly ObservedItem[];
  states: InstanceStates;
  /** Versions in releases/, to protect the newest when `latest` cannot be resolved. */
  built: readonly string[];
}

/** Version -> sorted `instance (why)` labels. */
export function releasesInUse(input: InUseInput): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  const add = (version: string | undefined, who: string) => {
    if (!version) return;
    if (!out.has(version)) out.set(version, new Set());
    out.get(version)!.add(who);
  };
  for (const e of input.entries) {
    if (e.status !== 'valid') continue;
    const res = input.resolutions[e.spec.version];
    if (res?.status === 'resolved') add(res.tag, `${e.name} (wants)`);
    else if (e.spec.version === 'latest') add(latestTag(input.built), `${e.name} (wants latest, unresolved)`);
    else add(e.spec.version, `${e.name} (wants)`);
  }
  for (const item of input.items) add(item.version, `${item.instance} (runs)`);
  for (const [name, state] of Object.entries(input.states)) {
    add(state.applied?.version, `${name} (applied)`);
    // The rollback target: the last healthy version, and the one before it when that is the current one.
    const healthy = state.history.filter((h) => h.outcome === 'healthy').map((h) => h.version);
    const last = healthy.at(-1);
    add(last, `${name} (rollback)`);
    const previous = [...healthy].reverse().find((v) => v !== last);
    if (last !== undefined && last === state.applied?.version) add(previous, `${name} (rollback)`);
  }
  return new Map([...out].map(([v, who]) => [v, [...who].sort()]));
}
