// Shared by the release commands: the loaded root (usage of each release lives in src/ops/release-usage.ts).
import type { Command } from 'commander';
import { renderDiagnostics } from '../shared/diagnostic-text.js';
import { loadRoot, type GlobalOptions, type LoadedRoot } from './load.js';

export { gatherReleaseUsage, type ReleaseUsage } from '../ops/release-usage.js';

/** The root with a usable tend.yaml, or undefined after printing why (exit 1). */
export function requireRoot(cmd: Command): (LoadedRoot & { desired: NonNullable<LoadedRoot['desired']> }) | undefined {
  const root = loadRoot(cmd.optsWithGlobals<GlobalOptions>(), 'plan');
  if (root.desired) return root as LoadedRoot & { desired: NonNullable<LoadedRoot['desired']> };
  process.stderr.write(renderDiagnostics(root.diagnostics));
  process.exitCode = 1;
  return undefined;
}
