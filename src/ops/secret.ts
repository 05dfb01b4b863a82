// `tend secret set|unset`: one key of instances/<name>/.env changed (0600, atomic, other lines kept),
// then a reconcile of that instance. The spec hash holds a digest of the .env values, so a changed
// secret restarts the instance; plans show the change as `.env: (sensitive)`, never the value.
import { join } from 'node:path';
import type { ReconcileOptions } from '../executor/reconcile.js';
import { withInstanceLock } from '../state/lock.js';
import { reconcileInstances, reloadDesired, type InstanceOutcomeSummary, type Project } from './edit.js';
import type { ReconcileResult } from '../executor/reconcile.js';
import { editEnvFile, EnvLineError, envKeyProblem } from './env-file.js';
import { OpsError } from './guard.js';
import { assertInstanceName, displayPath, instanceDirOf } from './project.js';

export interface SecretOptions {
  name: string;
  key: string;
  /** Reconcile the instance afterwards (default true; false is `--no-apply`). */
  apply?: boolean;
  /** Passed to the reconcile (log, signal, updatedBy); `only` is the instance. */
  reconcile?: Omit<ReconcileOptions, 'only'>;
}

export interface SetSecretOptions extends SecretOptions {
  value: string;
}

export interface UnsetSecretOptions extends SecretOptions {
  /** Remove it even though tend.yaml or the desired file requires it (the instance is then blocked). */
  force?: boolean;
}

export interface SecretResult {
  /** instances/<name>/.env, relative to the root. */
  file: string;
  /** The file changed (false: the value was already so, or the key was not there). */
  changed: boolean;
  /** The reconcile of the instance (absent with `apply: false`). */
  reconcile?: ReconcileResult;
  /** Its phase and version afterwards. */
  outcome?: InstanceOutcomeSummary;
}

function check(project: Project, opts: SecretOptions): { required: string[] } {
  assertInstanceName(opts.name);
  const problem = envKeyProblem(opts.key);
  if (problem) throw new OpsError(problem, 'invalid');
  const entry = reloadDesired(project).entries.find((e) => e.name === opts.name);
  if (!entry) throw new OpsError(`no instance ${opts.name} in ${project.desired.desiredDir}/`, 'not-found');
  const own = entry.status === 'valid' ? entry.spec.secrets : [];
  return { required: [...new Set([...project.desired.config.source.secrets, ...own])] };
}

async function edit(project: Project, opts: SecretOptions, value: string | undefined): Promise<SecretResult> {
  const envFile = join(instanceDirOf(project, opts.name), '.env');
  const file = displayPath(project, envFile);
  const signal = opts.reconcile?.signal;
  let edited;
  try {
    edited = await withInstanceLock(project.paths, opts.name, () => editEnvFile(envFile, { [opts.key]: value }),
      { ...(signal ? { signal } : {}), purpose: `tend secret ${opts.name}` });
  } catch (err) {
    // editEnvFile's messages name the key, never the value.
    if (err instanceof EnvLineError) throw new OpsError(err.message, 'invalid', [], err);
    throw err;
  }
  const changed = edited.set.length + edited.unset.length > 0;
  if (opts.apply === false) return { file, changed };
  const { result, outcomes } = await reconcileInstances(project, [opts.name], opts.reconcile ?? {});
  const outcome = outcomes.find((o) => o.name === opts.name);
  return { file, changed, reconcile: result, ...(outcome ? { outcome } : {}) };
}

/**
 * Sets one secret of an instance in instances/<name>/.env (mode 0600, written atomically, other lines
 * kept), then reconciles the instance: a changed value restarts it. The value never reaches logs,
 * plans or errors.
 * @throws OpsError `not-found` (no desired file), `invalid` (the key, or a value a .env cannot hold).
 */
export async function setSecret(project: Project, opts: SetSecretOptions): Promise<SecretResult> {
  check(project, opts);
  return edit(project, opts, opts.value);
}

/**
 * Removes one secret from instances/<name>/.env, then reconciles the instance.
 * @throws OpsError `refused` when tend.yaml `source.secrets` or the desired file's `secrets:` requires
 * the key (unless `force`: the instance is then blocked until it is set again), `not-found`, `invalid`.
 */
export async function unsetSecret(project: Project, opts: UnsetSecretOptions): Promise<SecretResult> {
  const { required } = check(project, opts);
  if (required.includes(opts.key) && !opts.force) {
    const by = project.desired.config.source.secrets.includes(opts.key) ? 'tend.yaml source.secrets' : 'the desired file\'s secrets:';
    throw new OpsError(`${opts.key} is required by ${by}: without it ${opts.name} cannot be applied; pass --force to remove it anyway`, 'refused');
  }
  return edit(project, opts, undefined);
}
