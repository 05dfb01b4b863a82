// Tag ordering through the `semver` package: vMAJOR.MINOR.PATCH[-pre][+build], pre-releases below releases.
import semver from 'semver';

export type SemVer = semver.SemVer;

/** `v1.2.3` / `1.2.3-rc.1` parsed, or undefined for a tag that is not a version. */
export function parseSemver(tag: string): SemVer | undefined {
  return semver.parse(tag) ?? undefined;
}

export function compareSemver(a: SemVer, b: SemVer): number {
  return semver.compare(a, b);
}

/** The highest semver tag; pre-releases only when `pre` is set. Ties (v1.0.0 and 1.0.0) break on the tag text. */
export function latestTag(tags: readonly string[], pre = false): string | undefined {
  let best: { tag: string; v: SemVer } | undefined;
  for (const tag of tags) {
    const v = parseSemver(tag);
    if (!v || (!pre && v.prerelease.length > 0)) continue;
    const c = best ? semver.compare(v, best.v) : 1;
    if (c > 0 || (c === 0 && tag < best!.tag)) best = { tag, v };
  }
  return best?.tag;
}
