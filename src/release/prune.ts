// Pure retention: which releases to delete, keeping the N newest and everything in use.
import { compareSemver, parseSemver } from '../shared/semver.js';

export interface PruneCandidate {
  version: string;
  builtAt?: string;
}

export interface PruneInput {
  releases: readonly PruneCandidate[];
  /** Version -> who needs it (`web (runs)`, `api (rollback)`); such releases are never deleted. */
  inUse: ReadonlyMap<string, readonly string[]>;
  keep: number;
}

export interface KeptRelease {
  version: string;
  /** Why it stays: among the newest, and/or who uses it. */
  newest: boolean;
  usedBy: string[];
}

export interface PrunePlan {
  /** Oldest first. */
  delete: string[];
  /** Oldest first. */
  keep: KeptRelease[];
}

/** Newer first: semver when both versions are semver, otherwise build time, then the name. */
export function compareNewestFirst(a: PruneCandidate, b: PruneCandidate): number {
  const sa = parseSemver(a.version);
  const sb = parseSemver(b.version);
  if (sa && sb) {
    const c = compareSemver(sb, sa);
    if (c !== 0) return c;
  }
  const ta = a.builtAt ?? '';
  const tb = b.builtAt ?? '';
  if (ta !== tb) return ta < tb ? 1 : -1;
  return a.version < b.version ? 1 : a.version > b.version ? -1 : 0;
}

export function planPrune(input: PruneInput): PrunePlan {
  if (!Number.isInteger(input.keep) || input.keep < 0) throw new Error(`keep must be a whole number >= 0, not ${input.keep}`);
  const ordered = [...input.releases].sort(compareNewestFirst);
  const keep: KeptRelease[] = [];
  const del: string[] = [];
  ordered.forEach((r, i) => {
    const usedBy = [...(input.inUse.get(r.version) ?? [])];
    const newest = i < input.keep;
    if (newest || usedBy.length > 0) keep.push({ version: r.version, newest, usedBy });
    else del.push(r.version);
  });
  return { delete: del.reverse(), keep: keep.reverse() };
}
