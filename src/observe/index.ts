// Observation in one place: runtimes (one batched call per driver), releases and instance state.
import { readFileSync } from 'node:fs';
import type { DesiredState, Observed, ReleaseCatalog, Runtime, RuntimeObservation, InstanceStates } from '../model/types.js';
import { RUNTIMES } from '../model/types.js';
import { drivers } from '../drivers/registry.js';
import type { ObserveContext } from '../drivers/types.js';
import type { RootPaths } from '../spec/config.js';
import { validators } from '../spec/schemas.js';
import { resolveVersions } from '../release/tags.js';
import { readBuiltReleases } from './releases.js';
import { readInstanceState, readInstanceStates } from './instances.js';
import { errorMessage } from '../shared/errors.js';

export interface Observation {
  observed: Observed;
  releases: ReleaseCatalog;
  instances: InstanceStates;
}

async function observeRuntime(runtime: Runtime, ctx: ObserveContext): Promise<RuntimeObservation> {
  try {
    return await (await drivers[runtime]()).observe(ctx);
  } catch (err) {
    return { status: 'unavailable', reason: errorMessage(err), items: [] };
  }
}

/** Observe every runtime in parallel. */
export async function observeRuntimes(ctx: ObserveContext): Promise<Observed> {
  const results = await Promise.all(RUNTIMES.map(async (rt) => [rt, await observeRuntime(rt, ctx)] as const));
  return { host: { platform: process.platform }, runtimes: Object.fromEntries(results) };
}

/** A saved snapshot of runtimes (`--observed FILE`): plan against another host, or a fixed state in tests. */
export function readObservedSnapshot(file: string): Observed {
  const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const validate = validators().observed;
  if (!validate(value)) {
    const first = validate.errors?.[0];
    throw new Error(`${file}: not an observed snapshot: ${first?.instancePath || '(root)'} ${first?.message ?? ''}`.trim());
  }
  return value as Observed;
}

export async function observeAll(desired: DesiredState, paths: RootPaths, snapshot?: string): Promise<Observation> {
  const ctx: ObserveContext = { config: desired.config, paths };
  const versions = desired.entries.flatMap((e) => (e.status === 'valid' ? [e.spec.version] : []));
  const [observed, resolutions] = await Promise.all([
    snapshot !== undefined ? Promise.resolve(readObservedSnapshot(snapshot)) : observeRuntimes(ctx),
    resolveVersions(desired.config.source.repo, paths.root, versions, desired.config.source.prereleases),
  ]);
  const names = [
    ...desired.entries.map((e) => e.name),
    ...Object.values(observed.runtimes).flatMap((r) => r?.items.map((i) => i.instance) ?? []),
  ];
  return {
    observed,
    releases: { resolutions, built: readBuiltReleases(paths.releases) },
    instances: readInstanceStates(paths.root, paths.instances, names),
  };
}

/**
 * `base` brought up to date for one instance, for a process that has just taken its lock: the
 * runtimes it is desired on, found on or was applied to are observed again (one batched call each),
 * with releases/ and its state files; the rest of `base` (other runtimes, tag resolutions) is reused.
 */
export async function observeInstance(desired: DesiredState, paths: RootPaths, name: string, base: Observation): Promise<Observation> {
  const entry = desired.entries.find((e) => e.name === name);
  const runtimes = new Set<Runtime>([
    ...(entry?.status === 'valid' ? [entry.runtime] : []),
    ...(base.instances[name]?.applied ? [base.instances[name]!.applied!.runtime] : []),
    ...RUNTIMES.filter((rt) => base.observed.runtimes[rt]?.items.some((i) => i.instance === name)),
  ]);
  const ctx: ObserveContext = { config: desired.config, paths };
  const fresh = await Promise.all([...runtimes].map(async (rt) => [rt, await observeRuntime(rt, ctx)] as const));
  return {
    observed: { ...base.observed, runtimes: { ...base.observed.runtimes, ...Object.fromEntries(fresh) } },
    releases: { resolutions: base.releases.resolutions, built: readBuiltReleases(paths.releases) },
    instances: { ...base.instances, [name]: readInstanceState(paths.root, paths.instances, name) },
  };
}
