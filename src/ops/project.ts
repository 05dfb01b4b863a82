// Opening a deployment root for the operator functions without the CLI (the Project type is
// src/ops/edit.ts's, OpsError src/ops/guard.ts's), and what those functions share: the instance name
// check, the desired file and instance directory of a name, paths for messages.
import { join, relative, sep } from 'node:path';
import { instanceNameProblem } from '../spec/names.js';
import { autoRuntime } from '../spec/auto-runtime.js';
import { loadConfig } from '../spec/config.js';
import { loadDesired } from '../state/desired.js';
import { formatDiagnostic } from '../shared/diagnostic-text.js';
import type { Project } from './edit.js';
import { OpsError } from './guard.js';

export interface OpenProjectOptions {
  /** The deployment root (`-C DIR`); default: `cwd` or its nearest parent holding tend.yaml. */
  dir?: string;
  /** Default `process.cwd()`. */
  cwd?: string;
  /** Default `process.env` (TEND_*_DIR overrides, XDG_RUNTIME_DIR for `runtime: auto`). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Loads a deployment root (tend.yaml, then desired/) as the CLI does, for the operator functions
 * (createInstance, deleteInstance, setSecret, startInstance, ...).
 * @throws OpsError (`invalid`) listing tend.yaml's errors, or when no tend.yaml is found.
 */
export function openProject(opts: OpenProjectOptions = {}): Project {
  const env = opts.env ?? process.env;
  const loaded = loadConfig({ cwd: opts.cwd ?? process.cwd(), env, ...(opts.dir !== undefined ? { dir: opts.dir } : {}) });
  if (!loaded.config) {
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    throw new OpsError(errors.map(formatDiagnostic).join('\n') || 'tend.yaml is not usable', 'invalid', loaded.diagnostics);
  }
  const desired = loadDesired({
    root: loaded.root, desiredDir: loaded.paths.desired, instancesDir: loaded.paths.instances, config: loaded.config, platform: process.platform, launchdWarn: false,
    autoRuntime: autoRuntime(loaded.config, { platform: process.platform, env }),
  });
  desired.diagnostics = [...loaded.diagnostics, ...desired.diagnostics];
  return { desired, paths: loaded.paths };
}

/**
 * Checks an instance name (a lowercase DNS label of at most 63 characters, not a reserved word).
 * @throws OpsError (`invalid`) saying what is wrong with it.
 */
export function assertInstanceName(name: string): void {
  const problem = instanceNameProblem(name);
  if (problem) throw new OpsError(`invalid instance name "${name}": it ${problem}`, 'invalid');
}

/** `desired/<name>.yaml` (absolute). */
export function desiredFileOf(project: Project, name: string): string {
  return join(project.paths.desired, `${name}.yaml`);
}

/** `instances/<name>/` (absolute). */
export function instanceDirOf(project: Project, name: string): string {
  return join(project.paths.instances, name);
}

/** A path for messages: relative to the deployment root when inside it. */
export function displayPath(project: Project, path: string): string {
  const rel = relative(project.paths.root, path);
  return rel === '' || rel.startsWith('..') ? path : rel.split(sep).join('/');
}
