// Loads a deployment root for a command: tend.yaml, then desired/ (diagnostics collected, never thrown).
import type { DesiredState, Diagnostic } from '../model/types.js';
import { autoRuntime } from '../spec/auto-runtime.js';
import { loadConfig, type RootPaths } from '../spec/config.js';
import { loadDesired } from '../state/desired.js';

export interface GlobalOptions {
  dir?: string;
}

export interface LoadedRoot {
  paths: RootPaths;
  desired?: DesiredState;
  /** tend.yaml diagnostics (when tend.yaml is broken nothing else is loaded). */
  diagnostics: Diagnostic[];
}

export function loadRoot(opts: GlobalOptions, purpose: 'validate' | 'plan'): LoadedRoot {
  const loaded = loadConfig({ cwd: process.cwd(), dir: opts.dir, env: process.env });
  if (!loaded.config) return { paths: loaded.paths, diagnostics: loaded.diagnostics };
  const desired = loadDesired({
    root: loaded.root, desiredDir: loaded.paths.desired, instancesDir: loaded.paths.instances, config: loaded.config,
    platform: process.platform, launchdWarn: purpose === 'validate',
    autoRuntime: autoRuntime(loaded.config, { platform: process.platform, env: process.env }),
  });
  desired.diagnostics = [...loaded.diagnostics, ...desired.diagnostics];
  return { paths: loaded.paths, desired, diagnostics: desired.diagnostics };
}
