// Decides, from observed data only, which release an instance needs and whether to build it.
import type { Diagnostic, DesiredEntry, InstanceState, ReleaseCatalog } from '../model/types.js';
import { short } from '../shared/hash.js';

type Valid = Extract<DesiredEntry, { status: 'valid' }>;

export type ReleaseDecision =
  | { kind: 'not-found'; diagnostic: Diagnostic }
  | {
    kind: 'ok';
    /** The tag the version resolves to (the version itself when unresolved). */
    tag: string;
    /** The commit, or `unresolved` when neither the source nor a built release knows it. */
    commit: string;
    /** Present when a build is needed: its reason (`cache miss`, `rebuild: tag moved`, ...). */
    build?: string;
    /** One line for people: `build v1.3.0 (commit 1a2b3c4, cache miss)` or `reuse v1.3.0`. */
    summary: string;
    warning?: Diagnostic;
    imageId?: string;
  };

export function decideRelease(entry: Valid, releases: ReleaseCatalog, state: InstanceState | undefined): ReleaseDecision {
  const { spec, file } = entry;
  const at = { file, ...entry.positions.version!, instance: entry.name };
  const res = releases.resolutions[spec.version] ?? { status: 'unresolved', reason: 'the source repository was not read' };
  if (res.status === 'not-found') {
    return { kind: 'not-found', diagnostic: { severity: 'error', ...at, message: res.reason } };
  }
  if (res.status === 'resolved') {
    const built = releases.built[res.tag];
    // A release that must be (re)built has no image yet: the old one's id must not count as present.
    const base = { kind: 'ok' as const, tag: res.tag, commit: res.commit };
    const label = `${res.tag} (commit ${short(res.commit)}`;
    if (!built) return { ...base, build: 'cache miss', summary: `build ${label}, cache miss)` };
    if (built.commit !== res.commit) {
      return { ...base, build: `rebuild: tag moved (release was built from ${short(built.commit)})`, summary: `build ${label}, rebuild: tag moved)` };
    }
    if (!built.valid) {
      const why = `rebuild: ${built.problem ?? 'release failed validation'}`;
      return { ...base, build: why, summary: `build ${label}, ${why})` };
    }
    return { ...base, imageId: built.imageId, summary: `reuse ${res.tag}` };
  }
  // The source could not be read: fall back to what is known, and say so.
  const tag = spec.version;
  const built = spec.version === 'latest' ? undefined : releases.built[tag];
  if (built?.valid) {
    return {
      kind: 'ok', tag, commit: built.commit, imageId: built.imageId, summary: `reuse ${tag} (source not checked)`,
      warning: { severity: 'warning', ...at, message: `release ${tag} not checked against the source (${res.reason}); using the built release` },
    };
  }
  const known = state?.applied && state.applied.version === tag ? state.applied.commit : 'unresolved';
  return {
    kind: 'ok', tag, commit: known, build: 'unresolved', summary: `build ${tag} (unresolved)`,
    warning: { severity: 'warning', ...at, message: `release ${tag} is unresolved: ${res.reason}` },
  };
}
