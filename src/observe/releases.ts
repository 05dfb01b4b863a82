// Observation: what releases/ holds, each release validated (manifest, artifacts, checksums, image archive).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BuiltRelease } from '../model/types.js';
import { readManifest } from '../release/manifest.js';
import { validateRelease } from '../release/validate.js';
import { isNotFound } from '../shared/errors.js';

/** Release folders in releases/ (dot entries are locks, staging folders and the source mirror). */
export function listReleaseDirs(releasesDir: string): string[] {
  try {
    return readdirSync(releasesDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name)
      .sort();
  } catch (err) {
    // No releases/ yet is no release; an unreadable one must not look empty (everything would be rebuilt).
    if (isNotFound(err)) return [];
    throw err;
  }
}

export function readBuiltReleases(releasesDir: string): Record<string, BuiltRelease> {
  const out: Record<string, BuiltRelease> = {};
  for (const version of listReleaseDirs(releasesDir)) {
    const v = validateRelease(join(releasesDir, version));
    out[version] = {
      version, commit: v.commit, valid: v.valid,
      ...(v.problem ? { problem: v.problem } : {}),
      ...(v.manifest?.image?.id ? { imageId: v.manifest.image.id } : {}),
    };
  }
  return out;
}

export interface ReleaseInfo extends BuiltRelease {
  builtAt?: string;
  /** Bytes of every file in the release folder. */
  size: number;
}

function folderSize(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += folderSize(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

/** Built releases with their build time and size, for `tend releases` and pruning. */
export function readReleaseInfo(releasesDir: string): ReleaseInfo[] {
  return Object.values(readBuiltReleases(releasesDir)).map((r) => {
    const m = readManifest(join(releasesDir, r.version));
    const builtAt = m.raw?.builtAt;
    return { ...r, ...(typeof builtAt === 'string' ? { builtAt } : {}), size: folderSize(join(releasesDir, r.version)) };
  });
}
