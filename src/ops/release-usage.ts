// Which instances run, want or would roll back to each release (shared by prune-releases, releases and the agent's prune).
import { readdirSync } from 'node:fs';
import type { DesiredState, ObservedItem, Runtime } from '../model/types.js';
import { observeAll } from '../observe/index.js';
import { readInstanceStates } from '../observe/instances.js';
import { readReleaseInfo, type ReleaseInfo } from '../observe/releases.js';
import type { RootPaths } from '../spec/config.js';
import { releasesInUse } from '../release/in-use.js';
import { isNotFound } from '../shared/errors.js';

export interface ReleaseUsage {
  releases: ReleaseInfo[];
  inUse: Map<string, string[]>;
  /** Runtimes desired instances use that could not be observed (what runs there counts through status.json only). */
  unobserved: { runtime: Runtime; reason: string }[];
}

function instanceDirs(instancesDir: string): string[] {
  try {
    return readdirSync(instancesDir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch (err) {
    // An unreadable instances/ must not look empty: prune would then delete the releases its instances roll back to.
    if (isNotFound(err)) return [];
    throw err;
  }
}

export async function gatherReleaseUsage(desired: DesiredState, paths: RootPaths): Promise<ReleaseUsage> {
  const releases = readReleaseInfo(paths.releases);
  const obs = await observeAll(desired, paths);
  const items: ObservedItem[] = Object.values(obs.observed.runtimes).flatMap((r) => r?.items ?? []);
  const wanted = new Set(desired.entries.flatMap((e) => (e.status === 'valid' ? [e.runtime] : [])));
  const unobserved = Object.entries(obs.observed.runtimes).flatMap(([rt, r]) =>
    r?.status === 'unavailable' && wanted.has(rt as Runtime) ? [{ runtime: rt as Runtime, reason: r.reason }] : []);
  // Instances whose desired file is gone still protect the releases they ran or would roll back to.
  const gone = instanceDirs(paths.instances).filter((n) => !(n in obs.instances));
  const states = { ...obs.instances, ...readInstanceStates(paths.root, paths.instances, gone) };
  const inUse = releasesInUse({ entries: desired.entries, resolutions: obs.releases.resolutions, items, states, built: releases.map((r) => r.version) });
  return { releases, inUse, unobserved };
}
