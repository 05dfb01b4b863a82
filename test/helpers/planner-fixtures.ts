// Small builders of planner inputs (desired, observed, releases, instance state) for table-driven planner tests.
import type {
  AppliedSpec, BuiltRelease, DesiredEntry, DesiredState, Diagnostic, Hold, InstanceSpec, InstanceState, InstanceStates, Observed, ObservedItem, ObservedState, ReleaseCatalog, Runtime, RuntimeObservation, TendConfig, VersionResolution,
} from '../../src/model/types.js';
import type { Plan, PlanSummary } from '../../src/model/plan.js';
import { RUNTIMES } from '../../src/model/types.js';
import type { PlanOptions } from '../../src/planner/plan.js';
import { specHash } from '../../src/shared/hash.js';
import { targetName } from '../../src/spec/names.js';
import { BUILTIN_CONFIG } from '../../src/spec/config.js';
import { deepMerge } from '../../src/spec/merge.js';

export const APP = 'oubliette';
/** Commits: C1 is what v1.3.0 resolves to in most cases, C0 an older one, C2 another. */
export const C0 = '0000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
export const C1 = '1111111bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
export const C2 = '2222222ccccccccccccccccccccccccccccccccc';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends (infer U)[] ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** tend.yaml with built-in defaults and `app: oubliette`; overrides are deep-merged. */
export function config(overrides: DeepPartial<TendConfig> = {}): TendConfig {
  const base: TendConfig = { apiVersion: 'tend/v1', app: APP, ...structuredClone(BUILTIN_CONFIG) };
  return deepMerge<TendConfig>(base, overrides as Record<string, unknown>);
}

/** A merged spec as the loader would produce it (built-in health, rollout, address). */
export function spec(name: string, overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    name,
    version: 'v1.3.0',
    runtime: 'systemd',
    state: 'running',
    port: 8080,
    address: '127.0.0.1',
    env: {},
    secrets: [],
    health: { http: '/health', timeout: '30s', interval: '1s' },
    rollout: { autoRollback: true },
    ...overrides,
  };
}

export type ValidEntry = Extract<DesiredEntry, { status: 'valid' }>;

/** A valid `desired/<name>.yaml`; `version` sits on line 2, `runtime` on line 3, `port` on line 4. */
export function validEntry(name: string, specOverrides: Partial<InstanceSpec> = {}, runtime: Runtime = 'systemd'): ValidEntry {
  return {
    status: 'valid',
    name,
    file: `desired/${name}.yaml`,
    runtime,
    spec: spec(name, { runtime, ...specOverrides }),
    positions: { version: { line: 2, col: 1 }, runtime: { line: 3, col: 1 }, state: { line: 5, col: 1 }, port: { line: 4, col: 1 } },
  };
}

export function invalidEntry(name: string, message = 'port must be <= 65535'): DesiredEntry {
  const file = `desired/${name}.yaml`;
  return { status: 'invalid', name, file, diagnostics: [{ severity: 'error', file, line: 4, col: 7, message, instance: name }] };
}

/** The loaded desired/ folder; by default its diagnostics are those of the invalid entries, like the loader's. */
export function desired(
  entries: DesiredEntry[],
  opts: { config?: TendConfig; dirExists?: boolean; diagnostics?: Diagnostic[] } = {},
): DesiredState {
  return {
    config: opts.config ?? config(),
    desiredDir: 'desired',
    dirExists: opts.dirExists ?? true,
    entries,
    diagnostics: opts.diagnostics ?? entries.flatMap((e) => (e.status === 'invalid' ? e.diagnostics : [])),
  };
}

export interface ItemOptions {
  state?: ObservedState;
  owned?: boolean;
  version?: string;
  specHash?: string;
  startedAt?: string;
  imageId?: string;
  id?: string;
  exitStatus?: number;
  exitSignal?: string;
}

/** One unit / container / session, named as tend names it (`oubliette-web.service`, ...). */
export function observedItem(runtime: Runtime, instance: string, opts: ItemOptions = {}): ObservedItem {
  const { id, owned, state, ...rest } = opts;
  const item: ObservedItem = {
    runtime,
    id: id ?? targetName(runtime, config(), instance),
    instance,
    owned: owned ?? true,
    state: state ?? 'running',
    ...rest,
  };
  return Object.fromEntries(Object.entries(item).filter(([, v]) => v !== undefined)) as unknown as ObservedItem;
}

/** The hash tend would have stamped for this entry's spec, commit and the state's .env digest ('' without state). */
export function hashOf(entry: ValidEntry, commit: string, state?: InstanceState): string {
  return specHash(entry.spec, commit, state?.env.digest ?? '');
}

/** An owned item made from exactly this entry (so it is up to date when the release resolves to `commit`). */
export function upToDateItem(entry: ValidEntry, commit: string, state?: InstanceState, opts: ItemOptions = {}): ObservedItem {
  return observedItem(entry.runtime, entry.name, { version: entry.spec.version, specHash: hashOf(entry, commit, state), ...opts });
}

/**
 * A host snapshot: every runtime `ok` (launchd only on darwin) holding the given items.
 * `unavailable` marks runtimes that could not be observed; `images` lists the Docker engine's image ids.
 */
export function observed(
  items: ObservedItem[],
  opts: { unavailable?: Partial<Record<Runtime, string>>; platform?: string; images?: string[] } = {},
): Observed {
  const platform = opts.platform ?? 'linux';
  const unavailable: Partial<Record<Runtime, string>> = {
    ...(platform === 'darwin' ? {} : { launchd: 'launchd exists only on macOS' }),
    ...opts.unavailable,
  };
  const runtimes: Observed['runtimes'] = {};
  for (const rt of RUNTIMES) {
    const reason = unavailable[rt];
    const mine = items.filter((i) => i.runtime === rt);
    if (reason !== undefined) {
      if (mine.length > 0) throw new Error(`fixture: items given for unavailable runtime ${rt}`);
      runtimes[rt] = { status: 'unavailable', reason, items: [] };
      continue;
    }
    const obs: RuntimeObservation = rt === 'docker'
      ? { status: 'ok', items: mine, images: opts.images ?? [] }
      : { status: 'ok', items: mine };
    runtimes[rt] = obs;
  }
  return { host: { platform }, runtimes };
}

export function resolved(tag: string, commit: string): VersionResolution {
  return { status: 'resolved', tag, commit };
}

export function built(version: string, commit: string, opts: { valid?: boolean; problem?: string; imageId?: string } = {}): BuiltRelease {
  return { version, commit, valid: opts.valid ?? true, ...(opts.problem ? { problem: opts.problem } : {}), ...(opts.imageId ? { imageId: opts.imageId } : {}) };
}

/** The release catalog: `resolutions` keyed by requested version, `built` (a list) keyed by version. */
export function releases(opts: { resolutions?: Record<string, VersionResolution>; built?: BuiltRelease[] } = {}): ReleaseCatalog {
  return {
    resolutions: opts.resolutions ?? {},
    built: Object.fromEntries((opts.built ?? []).map((b) => [b.version, b])),
  };
}

/** v1.2.0 -> C0 and v1.3.0 -> C1 resolved and built (no image ids). */
export function standardReleases(extra: { resolutions?: Record<string, VersionResolution>; built?: BuiltRelease[] } = {}): ReleaseCatalog {
  return releases({
    resolutions: { 'v1.2.0': resolved('v1.2.0', C0), 'v1.3.0': resolved('v1.3.0', C1), ...extra.resolutions },
    built: [built('v1.2.0', C0), built('v1.3.0', C1), ...(extra.built ?? [])],
  });
}

export interface StateOptions {
  keys?: string[];
  digest?: string;
  held?: Hold;
  applied?: AppliedSpec;
  restartRequestedAt?: string;
  phase?: InstanceState['phase'];
}

/** `instances/<name>/` as observed: .env key names and digest, status and requests. */
export function instanceState(name: string, opts: StateOptions = {}): InstanceState {
  return {
    history: [],
    ...(opts.phase ? { phase: opts.phase } : {}),
    ...(opts.held ? { held: opts.held } : {}),
    ...(opts.applied ? { applied: opts.applied } : {}),
    ...(opts.restartRequestedAt ? { restartRequestedAt: opts.restartRequestedAt } : {}),
    env: { file: `instances/${name}/.env`, keys: opts.keys ?? [], digest: opts.digest ?? 'digest-empty' },
  };
}

/** What status.json records as applied for an entry (spec, release commit, .env digest). */
export function appliedSpec(entry: ValidEntry, commit: string, envDigest: string): AppliedSpec {
  return {
    specHash: specHash(entry.spec, commit, envDigest),
    version: entry.spec.version,
    commit,
    runtime: entry.runtime,
    spec: entry.spec,
    envDigest,
  };
}

export interface PlanInput {
  desired: DesiredState;
  observed: Observed;
  releases: ReleaseCatalog;
  states: InstanceStates;
  options?: PlanOptions;
}

/** A summary with every count 0 except those given. */
export function counts(partial: Partial<PlanSummary> = {}): PlanSummary {
  return { create: 0, update: 0, replace: 0, delete: 0, change: 0, held: 0, invalid: 0, blocked: 0, orphan: 0, unchanged: 0, ...partial };
}

/** Freeze a value and everything reachable from it, so any mutation throws (ESM code is strict). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/** The types of the actions an instance plan lists, in order. */
export function actionTypesOf(p: Plan, ids: readonly string[]): string[] {
  return ids.map((id) => {
    const a = p.actions.find((x) => x.id === id);
    if (!a) throw new Error(`plan lists unknown action ${id}`);
    return a.type;
  });
}

/** Any action with every field optional, for tests that read plans across action kinds. */
export type LooseAction = import('../../src/model/plan.js').Action & Partial<{
  instance: string; runtime: import('../../src/model/types.js').Runtime; target: string; version: string; commit: string;
  specHash: string; from: 'applied'; notBefore: string; crash: Omit<import('../../src/model/types.js').Crash, 'at'>;
  change: import('../../src/model/plan.js').Change; onUnhealthy: import('../../src/model/plan.js').StatusRecord;
}>;

/** A plan's actions, read as LooseAction. */
export function loose(actions: readonly import('../../src/model/plan.js').Action[]): LooseAction[] {
  return actions as LooseAction[];
}
