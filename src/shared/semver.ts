// Just enough semver to pick `latest`: vMAJOR.MINOR.PATCH[-pre], pre-releases sorted below releases.

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  pre: string[];
}

const RE = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export function parseSemver(tag: string): SemVer | undefined {
  const m = RE.exec(tag);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split('.') : [] };
}

export function compareSemver(a: SemVer, b: SemVer): number {
  for (const k of ['major', 'minor', 'patch'] as const) if (a[k] !== b[k]) return a[k] - b[k];
  if (a.pre.length === 0 || b.pre.length === 0) return b.pre.length - a.pre.length;
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) { if (nx !== ny) return nx - ny; continue; }
    if (!Number.isNaN(nx)) return -1;
    if (!Number.isNaN(ny)) return 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The highest semver tag; pre-releases only when `pre` is set. Ties break on the tag text. */
export function latestTag(tags: readonly string[], pre = false): string | undefined {
  let best: { tag: string; v: SemVer } | undefined;
  for (const tag of tags) {
    const v = parseSemver(tag);
    if (!v || (!pre && v.pre.length > 0)) continue;
    if (!best || compareSemver(v, best.v) > 0 || (compareSemver(v, best.v) === 0 && tag < best.tag)) best = { tag, v };
  }
  return best?.tag;
}
