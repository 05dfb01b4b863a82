// Imperative commands as edits: change keys of desired files (comments kept), then reconcile only the
// instances edited, so the files stay the single source of truth.
import { join } from 'node:path';
import type { DesiredEntry, DesiredState, Phase } from '../model/types.js';
import { reconcile, type ReconcileOptions, type ReconcileResult } from '../executor/reconcile.js';
import { autoRuntime } from '../spec/auto-runtime.js';
import type { RootPaths } from '../spec/config.js';
import { loadDesired } from '../state/desired.js';
import { readStatus, statusPath } from '../state/status.js';
import { inGitRepo, setDesiredKey } from './desired-edit.js';
import { desiredEditRefusal, OpsError } from './guard.js';

/** A loaded deployment root: tend.yaml with desired/ (see openProject) and its paths. */
export interface Project {
  desired: DesiredState;
  paths: RootPaths;
}

/** Options of every command that edits desired files and then reconciles. */
export interface EditOptions {
  /** Reconcile the edited instances afterwards (default true; false is `--no-apply`). */
  apply?: boolean;
  /** Edit even though `agent.git.pull` is on (`--local`). */
  local?: boolean;
  /** Passed to the reconcile (log, signal, updatedBy, force); `only` is set to the edited instances. */
  reconcile?: Omit<ReconcileOptions, 'only'>;
}

/** One key changed in one desired file. */
export interface DesiredEdit {
  instance: string;
  /** Relative to the deployment root, e.g. `desired/web.yaml`. */
  file: string;
  key: string;
  /** The value before (the merged spec's when the file did not set the key). */
  from: unknown;
  to: string;
}

/** How an instance stands after a reconcile, from its status.json. */
export interface InstanceOutcomeSummary {
  name: string;
  phase?: Phase;
  version?: string;
  message?: string;
}

export interface EditResult {
  /** The instances the command is about, sorted. */
  instances: string[];
  edits: DesiredEdit[];
  /** Instances whose file already said so (nothing written). */
  unchanged: string[];
  /** `desired/` is inside a git work tree: the edits should be committed to stay the source of truth. */
  commitHint: boolean;
  /** The reconcile of `instances` (absent with `apply: false`). */
  reconcile?: ReconcileResult;
  /** Each instance's phase and version after the reconcile. */
  outcomes: InstanceOutcomeSummary[];
}

/** The desired entry of `name`; throws OpsError (`not-found`) when there is no such file. */
export function findEntry(desired: DesiredState, name: string): DesiredEntry {
  const entry = desired.entries.find((e) => e.name === name);
  if (!entry) throw new OpsError(`no instance ${name} in ${desired.desiredDir}/`, 'not-found');
  return entry;
}

/** Throws OpsError (`refused`) when `agent.git.pull` forbids editing desired files here. */
export function assertEditable(project: Project, local: boolean | undefined, what?: string): void {
  const why = desiredEditRefusal(project.desired.config, local, what);
  if (why) throw new OpsError(why, 'refused');
}

/** desired/ loaded again (after an edit), the way the CLI loads it; tend.yaml's diagnostics kept from the first load. */
export function reloadDesired(project: Project): DesiredState {
  const config = project.desired.config;
  const again = loadDesired({
    root: project.paths.root, desiredDir: project.paths.desired, instancesDir: project.paths.instances, config, platform: process.platform, launchdWarn: false,
    autoRuntime: autoRuntime(config, { platform: process.platform, env: process.env }),
  });
  const fromDesired = (d: { file?: string; instance?: string }) => d.instance !== undefined || (d.file ?? '').startsWith(`${project.desired.desiredDir}/`);
  again.diagnostics = [...project.desired.diagnostics.filter((d) => !fromDesired(d)), ...again.diagnostics];
  return again;
}

/** Reconciles only `names` (everything is observed and planned; nothing else is touched). */
export async function reconcileInstances(project: Project, names: readonly string[], opts: EditOptions['reconcile'] = {}): Promise<{ result: ReconcileResult; outcomes: InstanceOutcomeSummary[] }> {
  const desired = reloadDesired(project);
  const result = await reconcile(desired, project.paths, { ...opts, only: new Set(names) });
  return { result, outcomes: summarize(project.paths, names) };
}

/** Phase, version and message of each instance from status.json. */
export function summarize(paths: RootPaths, names: readonly string[]): InstanceOutcomeSummary[] {
  return [...names].sort().map((name) => {
    const st = readStatus(statusPath(paths.instances, name)).status;
    return {
      name,
      ...(st?.phase ? { phase: st.phase } : {}),
      ...(st?.observedVersion ? { version: st.observedVersion } : {}),
      ...(st?.message ? { message: st.message } : {}),
    };
  });
}

export interface KeyChange {
  name: string;
  key: 'state' | 'version';
  value: string;
}

/** The value `key` has for an entry now: the merged spec's when valid. */
function currentValue(entry: DesiredEntry, key: KeyChange['key']): unknown {
  return entry.status === 'valid' ? entry.spec[key] : undefined;
}

/**
 * Writes each change into its desired file (comments and layout kept; a file that already says so is
 * left alone), then, unless `apply: false`, reconciles those instances. `desired` is desired/ as loaded
 * before the edit; the entries must exist in it (see findEntry).
 */
export async function editAndApply(project: Project, desired: DesiredState, changes: readonly KeyChange[], opts: EditOptions = {}): Promise<EditResult> {
  const edits: DesiredEdit[] = [];
  const unchanged: string[] = [];
  for (const c of changes) {
    const entry = findEntry(desired, c.name);
    const file = join(project.paths.root, entry.file);
    const now = currentValue(entry, c.key);
    if (now === c.value) {
      unchanged.push(c.name);
      continue;
    }
    const previous = setDesiredKey(file, c.key, c.value);
    edits.push({ instance: c.name, file: entry.file, key: c.key, from: previous ?? now, to: c.value });
  }
  const instances = [...new Set(changes.map((c) => c.name))].sort();
  const commitHint = edits.length > 0 && inGitRepo(project.paths.desired);
  if (opts.apply === false) return { instances, edits, unchanged, commitHint, outcomes: [] };
  const { result, outcomes } = await reconcileInstances(project, instances, opts.reconcile);
  return { instances, edits, unchanged, commitHint, reconcile: result, outcomes };
}
