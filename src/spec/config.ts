// Finds the deployment root, loads and validates tend.yaml, and fills in built-in defaults.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Diagnostic, TendConfig } from '../model/types.js';
import { validators } from './schemas.js';
import { schemaDiagnostics } from './schema-errors.js';
import { parseYamlSource, positionOf, type YamlSource } from './yaml-source.js';
import { deepMerge, isPlainObject } from './merge.js';
import { buildCommandDiagnostics, controlCharDiagnostics } from './refusals.js';

export const CONFIG_FILE = 'tend.yaml';
export const PLACEHOLDERS = ['port', 'address', 'name', 'version', 'instanceDir', 'configPath'] as const;

export const BUILTIN_CONFIG: Omit<TendConfig, 'apiVersion' | 'app'> = {
  source: { repo: '.', build: './build.sh', buildTimeout: '10m', artifacts: [], run: { artifact: '', args: [] }, secrets: [], prereleases: false },
  paths: { desired: 'desired', releases: 'releases', instances: 'instances' },
  releases: { keep: 5 },
  prune: { deleteRemoved: false, maxShare: 0.5 },
  defaults: {},
  agent: {
    resync: '*/5 * * * *', prune: '0 3 * * *', concurrency: 2, debounce: '100ms',
    git: { pull: false, interval: '30s' }, listen: '127.0.0.1:9464', shutdownTimeout: '30s',
    logs: { maxSize: '10MB', keep: 5, interval: '30s' },
  },
  systemd: { scope: 'system', output: 'files', restartSec: '2s', stopTimeout: '30s' },
  launchd: { labelPrefix: 'dev.tend', scope: 'user' },
  // No label and no pattern: discovery looks for nothing unless the root says what its containers carry
  // (see discoveryDefaults; `label: cc-bridge.instance` was the built-in default before).
  docker: { discovery: { enabled: false, label: '', imagePatterns: [] } },
  tmux: {},
  metrics: {},
};

export interface RootPaths {
  root: string;
  desired: string;
  releases: string;
  instances: string;
}

export interface LoadedConfig {
  /** Absolute deployment root (the folder holding tend.yaml). */
  root: string;
  config?: TendConfig;
  paths: RootPaths;
  diagnostics: Diagnostic[];
}

/** The folder holding tend.yaml: `explicit` itself, or the working dir and its parents. */
export function findRoot(cwd: string, explicit?: string): string | undefined {
  if (explicit !== undefined) {
    const dir = resolve(cwd, explicit);
    return existsSync(join(dir, CONFIG_FILE)) ? dir : undefined;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, CONFIG_FILE))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Paths from tend.yaml (relative to the root), overridden by TEND_*_DIR (relative to the working dir). */
export function rootPaths(root: string, config: Pick<TendConfig, 'paths'> | undefined, env: NodeJS.ProcessEnv, cwd: string): RootPaths {
  const p = config?.paths ?? BUILTIN_CONFIG.paths;
  const pick = (envName: string, value: string) => {
    const fromEnv = env[envName];
    if (fromEnv) return resolve(cwd, fromEnv);
    return isAbsolute(value) ? value : join(root, value);
  };
  return {
    root,
    desired: pick('TEND_DESIRED_DIR', p.desired),
    releases: pick('TEND_RELEASES_DIR', p.releases),
    instances: pick('TEND_INSTANCES_DIR', p.instances),
  };
}

export interface LoadConfigOptions {
  cwd: string;
  dir?: string;
  env: NodeJS.ProcessEnv;
}

export function loadConfig(opts: LoadConfigOptions): LoadedConfig {
  const root = findRoot(opts.cwd, opts.dir);
  if (root === undefined) {
    // Say how to get one: make a root here (`tend init`), or name the one meant (`-C DIR`).
    const message = opts.dir !== undefined
      ? `${CONFIG_FILE} not found in ${resolve(opts.cwd, opts.dir)}: check -C DIR names the deployment root, or make one there with tend init -C ${opts.dir}`
      : `${CONFIG_FILE} not found in ${resolve(opts.cwd)} or any parent folder: run tend in the deployment root or name it with -C DIR, or make one here with tend init`;
    const diag: Diagnostic = { severity: 'error', message };
    const fallback = resolve(opts.cwd, opts.dir ?? '.');
    return { root: fallback, paths: rootPaths(fallback, undefined, opts.env, opts.cwd), diagnostics: [diag] };
  }
  const source = parseYamlSource(CONFIG_FILE, readFileSync(join(root, CONFIG_FILE), 'utf8'));
  const diagnostics = [...source.diagnostics];
  let config: TendConfig | undefined;
  if (diagnostics.length === 0) {
    const validate = validators().tend;
    if (!validate(source.value)) {
      diagnostics.push(...schemaDiagnostics(source, validate.errors));
    } else {
      const raw = source.value as Record<string, unknown>;
      diagnostics.push(...placeholderDiagnostics(raw, (path) => positionOf(source, path)));
      diagnostics.push(...refusedValues(source, raw));
      config = deepMerge<TendConfig>(BUILTIN_CONFIG, raw);
      diagnostics.push(...discoveryDefaults(config, raw, (path) => positionOf(source, path)));
    }
  }
  for (const d of diagnostics) d.file ??= CONFIG_FILE;
  const ok = diagnostics.every((d) => d.severity !== 'error');
  return { root, config: ok ? config : undefined, paths: rootPaths(root, ok ? config : undefined, opts.env, opts.cwd), diagnostics };
}

/** The label containers of the original instance manager carried; an example, no longer a default. */
export const FORMER_DISCOVERY_LABEL = 'cc-bridge.instance';

/**
 * Discovery is on when tend.yaml names what to look for (`docker.discovery.label` or `imagePatterns`)
 * and `enabled` is not false; `enabled: true` with neither finds nothing, which is said (a warning,
 * so a root that relied on the former default label keeps reconciling) with the line to add.
 */
function discoveryDefaults(
  config: TendConfig,
  raw: Record<string, unknown>,
  at: (path: (string | number)[]) => { line: number; col: number },
): Diagnostic[] {
  const docker = isPlainObject(raw.docker) ? raw.docker : {};
  const given = isPlainObject(docker.discovery) ? docker.discovery : {};
  const d = config.docker.discovery;
  const rules = d.label !== '' || d.imagePatterns.length > 0;
  if (typeof given.enabled !== 'boolean') d.enabled = rules;
  if (!d.enabled || rules) return [];
  return [{
    severity: 'warning', file: CONFIG_FILE, ...at(['docker', 'discovery', 'enabled']),
    message: `docker.discovery.enabled is true but names no label or imagePatterns, so discovery finds nothing (${FORMER_DISCOVERY_LABEL} is no longer a built-in default: add \`label: ${FORMER_DISCOVERY_LABEL}\` under docker.discovery to keep finding those containers)`,
  }];
}

/** What build and apply would refuse later: source.build they cannot run, control characters in defaults' env and config. */
function refusedValues(source: YamlSource, raw: Record<string, unknown>): Diagnostic[] {
  const src = isPlainObject(raw.source) ? raw.source : {};
  const defaults = isPlainObject(raw.defaults) ? raw.defaults : {};
  return [
    ...buildCommandDiagnostics(source, src.build),
    ...(['env', 'config'] as const).flatMap((k) => (k in defaults ? controlCharDiagnostics(source, ['defaults', k], defaults[k]) : [])),
  ];
}

function placeholderDiagnostics(
  raw: Record<string, unknown>,
  at: (path: (string | number)[]) => { line: number; col: number },
): Diagnostic[] {
  const source = isPlainObject(raw.source) ? raw.source : {};
  const run = isPlainObject(source.run) ? source.run : {};
  const args = Array.isArray(run.args) ? (run.args as string[]) : [];
  const out: Diagnostic[] = [];
  args.forEach((arg, i) => {
    for (const m of arg.matchAll(/\$\{([^}]*)\}/g)) {
      if ((PLACEHOLDERS as readonly string[]).includes(m[1]!)) continue;
      const pos = at(['source', 'run', 'args', i]);
      out.push({
        severity: 'error', file: CONFIG_FILE, ...pos,
        message: `source.run.args[${i}] uses unknown placeholder \${${m[1]}} (known: ${PLACEHOLDERS.map((p) => `\${${p}}`).join(' ')})`,
      });
    }
  });
  return out;
}
