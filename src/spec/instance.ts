// Validates one desired file and produces its merged spec (tend.yaml defaults under it).
import { trustProblems } from './trust-checks.js';
import type { Diagnostic, HealthSpec, InstanceSpec, Runtime, TendConfig } from '../model/types.js';
import { validators } from './schemas.js';
import { schemaDiagnostics } from './schema-errors.js';
import { hasPath, positionOf, type YamlSource } from './yaml-source.js';
import { deepMerge, isPlainObject } from './merge.js';
import { controlCharDiagnostics, systemdTabDiagnostics } from './refusals.js';

export const HEALTH_KINDS = ['http', 'tcp', 'exec'] as const;

export interface CheckedInstance {
  spec?: InstanceSpec;
  runtime?: Runtime;
  diagnostics: Diagnostic[];
}

/**
 * `auto` is `autoRuntime` when the loader detected it for this host (src/spec/auto-runtime.ts:
 * launchd on macOS, systemd where it answers, else tmux); without it, launchd on macOS, else systemd.
 */
export function resolveRuntime(choice: InstanceSpec['runtime'], platform: string, autoRuntime?: Runtime): Runtime {
  if (choice !== 'auto') return choice;
  return autoRuntime ?? (platform === 'darwin' ? 'launchd' : 'systemd');
}

function mergeDefaults(defaults: Record<string, unknown>, own: Record<string, unknown>): Record<string, unknown> {
  // The health check kind is one choice: an instance naming one drops the kinds from defaults.
  const ownHealth = isPlainObject(own.health) ? own.health : {};
  let baseDefaults = defaults;
  if (HEALTH_KINDS.some((k) => k in ownHealth) && isPlainObject(defaults.health)) {
    const health = { ...defaults.health };
    for (const k of HEALTH_KINDS) delete health[k];
    baseDefaults = { ...defaults, health };
  }
  return deepMerge(baseDefaults, own);
}

/** Fill built-in values that neither the file nor tend.yaml defaults gave. */
function withBuiltins(merged: Record<string, unknown>, name: string): InstanceSpec {
  const health = isPlainObject(merged.health) ? { ...merged.health } : {};
  // `tcp: false` chooses no check: the default HTTP GET /health applies, as it always did.
  if (health.tcp === false) delete health.tcp;
  if (!HEALTH_KINDS.some((k) => k in health)) health.http = '/health';
  health.timeout ??= '30s';
  health.interval ??= '1s';
  const env = isPlainObject(merged.env) ? merged.env : {};
  const spec: InstanceSpec = {
    ...(merged as Partial<InstanceSpec>),
    name,
    version: merged.version as string,
    runtime: (merged.runtime as InstanceSpec['runtime'] | undefined) ?? 'auto',
    state: (merged.state as InstanceSpec['state'] | undefined) ?? 'running',
    port: merged.port as number,
    address: (merged.address as string | undefined) ?? '127.0.0.1',
    env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
    secrets: (merged.secrets as string[] | undefined) ?? [],
    // Exactly one kind here unless the file named two, which validation reports.
    health: health as HealthSpec,
    rollout: { autoRollback: true, ...(isPlainObject(merged.rollout) ? merged.rollout : {}) },
  };
  return spec;
}

/** Validate a parsed desired file named `fileName` (its instance name) and merge defaults. */
export function checkInstance(
  source: YamlSource, fileName: string, config: TendConfig, platform: string, launchdWarn: boolean, autoRuntime?: Runtime,
): CheckedInstance {
  const diagnostics: Diagnostic[] = [];
  const validate = validators().instance;
  if (!validate(source.value)) return { diagnostics: schemaDiagnostics(source, validate.errors) };
  const own = source.value as Record<string, unknown>;
  const at = (path: (string | number)[], severity: Diagnostic['severity'], message: string) => {
    diagnostics.push({ severity, file: source.file, ...positionOf(source, path), message });
  };

  if (typeof own.name === 'string' && own.name !== fileName) {
    at(['name'], 'error', `name "${own.name}" differs from the file name (${fileName})`);
  }
  const merged = mergeDefaults(config.defaults as Record<string, unknown>, own);
  for (const key of ['version', 'port'] as const) {
    if (merged[key] === undefined) at([], 'error', `${key} is required (in the file or in tend.yaml defaults)`);
  }
  const spec = withBuiltins(merged, fileName);
  const kinds = HEALTH_KINDS.filter((k) => k in spec.health);
  if (kinds.length > 1) at(['health'], 'error', `health must use one check, not ${kinds.join(' and ')}`);
  if (spec.health.port !== undefined && spec.port !== undefined && spec.health.port !== spec.port) {
    at(['health', 'port'], 'error', `health.port ${spec.health.port} differs from the instance port ${spec.port}`);
  }
  for (const s of spec.secrets) {
    if (s in spec.env) at(['env', s], 'error', `${s} is declared both in env and in secrets; secret values belong in the instance .env only`);
  }
  for (const s of config.source.secrets) {
    if (s in spec.env) at(['env', s], 'error', `${s} is a secret (tend.yaml source.secrets); its value belongs in the instance .env only`);
  }
  if (spec.docker !== undefined && spec.runtime !== 'docker') {
    at(['docker'], 'warning', `docker settings are ignored: runtime is ${spec.runtime}`);
  }
  if (spec.systemd !== undefined && spec.runtime !== 'systemd' && spec.runtime !== 'auto') {
    at(['systemd'], 'warning', `systemd settings are ignored: runtime is ${spec.runtime}`);
  }
  for (const p of trustProblems(spec)) at(hasPath(source, p.path) ? p.path : p.path.slice(0, -1), 'error', p.message);
  for (const k of ['env', 'config'] as const) if (k in own) diagnostics.push(...controlCharDiagnostics(source, [k], own[k]));
  const runtime = resolveRuntime(spec.runtime, platform, autoRuntime);
  if (runtime === 'systemd') diagnostics.push(...systemdTabDiagnostics(source, spec.env, isPlainObject(own.env) ? own.env : {}));
  if (runtime === 'launchd' && platform !== 'darwin' && launchdWarn) {
    const path = hasPath(source, ['runtime']) ? ['runtime'] : [];
    at(path, 'warning', `runtime launchd needs macOS; this host is ${platform} (it will be refused when applied here)`);
  }
  return { spec, runtime, diagnostics };
}
