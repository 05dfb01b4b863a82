// Shared by the release commands: the loaded root, and which instances run, want or would roll back to each release.
import { readdirSync } from 'node:fs';
import type { Command } from 'commander';
import type { DesiredState, ObservedItem, Runtime } from '../model/types.js';
import { observeRuntimes } from '../observe/index.js';
import { readInstanceStates } from '../observe/instances.js';
import { readReleaseInfo, type ReleaseInfo } from '../observe/releases.js';
import { resolveVersions } from '../observe/tags.js';
import { releasesInUse } from '../release/in-use.js';
import type { RootPaths } from '../spec/config.js';
import { renderDiagnostics } from '../views/diagnostics.js';
import { loadRoot, type GlobalOptions, type LoadedRoot } from './load.js';

export interface ReleaseUsage {
  releases: ReleaseInfo[];
  inUse: Map<string, string[]>;
  /** Runtimes desired instances use that could not be observed (what runs there counts through status.json only). */
  unobserved: { runtime: Runtime; reason: string }[];
}

function instanceDirs(instancesDir: string): string[] {
  try {
    return readdirSync(instancesDir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch {
    return [];
  }
}

export async function gatherReleaseUsage(desired: DesiredState, paths: RootPaths): Promise<ReleaseUsage> {
  const releases = readReleaseInfo(paths.releases);
  const versions = desired.entries.flatMap((e) => (e.status === 'valid' ? [e.spec.version] : []));
  const [resolutions, observed] = await Promise.all([
    resolveVersions(desired.config.source.repo, paths.root, versions, desired.config.source.prereleases),
    observeRuntimes({ config: desired.config, paths }),
  ]);
  const items: ObservedItem[] = Object.values(observed.runtimes).flatMap((r) => r?.items ?? []);
  const wanted = new Set(desired.entries.flatMap((e) => (e.status === 'valid' ? [e.runtime] : [])));
  const unobserved = Object.entries(observed.runtimes).flatMap(([rt, r]) =>
    r?.status === 'unavailable' && wanted.has(rt as Runtime) ? [{ runtime: rt as Runtime, reason: r.reason }] : []);
  const names = [...desired.entries.map((e) => e.name), ...items.map((i) => i.instance), ...instanceDirs(paths.instances)];
  const states = readInstanceStates(paths.root, paths.instances, names);
  const inUse = releasesInUse({ entries: desired.entries, resolutions, items, states, built: releases.map((r) => r.version) });
  return { releases, inUse, unobserved };
}

/** The root with a usable tend.yaml, or undefined after printing why (exit 1). */
export function requireRoot(cmd: Command): (LoadedRoot & { desired: NonNullable<LoadedRoot['desired']> }) | undefined {
  const root = loadRoot(cmd.optsWithGlobals<GlobalOptions>(), 'plan');
  if (root.desired) return root as LoadedRoot & { desired: NonNullable<LoadedRoot['desired']> };
  process.stderr.write(renderDiagnostics(root.diagnostics));
  process.exitCode = 1;
  return undefined;
}
