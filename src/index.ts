// tend's TypeScript API: load, observe, plan, apply and render, and the operator commands, as the CLI does (docs/api.md).
import { reconcile as reconcileRoot, type ReconcileOptions as ApplyOptions, type ReconcileResult as ApplyResult } from './executor/reconcile.js';
import { openProject as openRoot } from './ops/project.js';
import type { Project as LoadedProject } from './ops/edit.js';
export type * from './model/types.js';
export type { Driver, Compare, ObserveContext, ApplyContext } from './drivers/types.js';
export { loadConfig, findRoot } from './spec/config.js';
export { loadDesired } from './state/desired.js';
export { observeAll, observeRuntimes } from './observe/index.js';
export { plan, type PlanOptions } from './planner/plan.js';
/** One reconcile as `tend reconcile` runs it: observe, plan, execute, and a follow-up round after a failed health check (rollback, hold). */
export { reconcile, type ReconcileOptions, type ReconcileResult, type ReconcileExit } from './executor/reconcile.js';
export type { Log, LogLevel, InstanceOutcome, InstanceResult } from './executor/execute.js';
export { specHash } from './shared/hash.js';
export { renderPlanText, renderPlanJson } from './views/plan-text.js';
export { formatDiagnostic } from './shared/diagnostic-text.js';
export { buildRelease, BuildError } from './release/build.js';
export { validateRelease } from './release/validate.js';
export { loadReleaseImage } from './release/image.js';
export { planPrune } from './release/prune.js';
export { createDockerDriver, dockerDriver, type DockerDriverOptions } from './drivers/docker/index.js';
export {
  discover, adopt, readAdoptionRecords, type Discovery, type FoundContainer, type AdoptResult, type AdoptionRecord,
} from './discover/index.js';
export { cleanupStopped, previewCleanup, type CleanupResult, type StoppedInstance } from './ops/cleanup-stopped.js';
export { waitHealthy, healthTarget, livenessOf, isAbortError, type HealthResult, type HealthTarget, type Liveness, type WaitHealthyOptions } from './health/index.js';
export { appendHistory, readHistoryFile, lastHealthy, readStatus, writeStatus, updateStatus, withInstanceLock, instanceLockOwner, type InstanceLockOptions } from './state/index.js';
export { status, statusDetail, parsePrometheusText, readAppMetrics, type InstanceStatus, type InstanceDetail, type StatusOptions, type DetailOptions, type AppMetrics } from './status/index.js';
export { createAgentLogger, instanceLogger, execLog, readSecretValues, type AgentLoggerOptions } from './agent/logger.js';
export { rotateLogs, logFilesOf, logRoots, parseSize, type RotateOptions, type RotateReport } from './agent/logrotate.js';
/** Imperative commands as edits of desired files followed by a reconcile of those instances (`tend start|stop|restart|update`). */
export { editAndApply, reconcileInstances, type EditOptions, type EditResult, type DesiredEdit, type InstanceOutcomeSummary } from './ops/edit.js';
export { startInstance, stopInstance, setInstanceState, restartInstance, requestRestart, type RestartOptions, type RestartResult } from './ops/lifecycle.js';
export { updateInstances, assertTagExists, type UpdateTarget, type UpdateResult } from './ops/update.js';
/** An instance's output (`tend logs`): journalctl, the Docker Engine's logs, or instances/<name>/logs/. */
export { instanceLogs, logSourceOf, parseSince, type LogsOptions, type LogsStreams, type LogSource } from './ops/logs.js';
/** Opening a deployment root without the CLI; the operator functions' Project and error type. */
export { openProject, assertInstanceName, type OpenProjectOptions } from './ops/project.js';
export type { Project } from './ops/edit.js';
export { OpsError, desiredEditRefusal, type OpsErrorCode, type OpsErrorKind } from './ops/guard.js';
export { TendError, errorKind, errorMessage, isRetryable, type ErrorKind } from './shared/errors.js';
export { chooseRollback, previewRollback, rollbackInstance, type RollbackChoice, type RollbackResult } from './ops/rollback.js';
export { retryInstance, type RetryOptions, type RetryResult } from './ops/retry.js';
/** `tend create`, `tend delete`, `tend init`, `tend secret set|unset`. */
export { createInstance, type CreateOptions, type CreateResult } from './ops/create.js';
export { deleteInstance, InstanceRunsError, previewDelete, type DeleteOptions, type DeleteResult, type DeletePreview } from './ops/delete.js';
export { removeFromRuntimes, type RemoveOptions, type RemoveResult } from './ops/remove.js';
export { initRoot, type InitOptions, type InitResult } from './ops/init.js';
export { setSecret, unsetSecret, type SecretOptions, type SetSecretOptions, type UnsetSecretOptions, type SecretResult } from './ops/secret.js';
export { editEnvFile, formatEnvLine, type EnvEdit } from './ops/env-file.js';

/**
 * Loads a deployment root (tend.yaml, then desired/) as the CLI does: the same function as `openProject`,
 * under the name the rest of the API pairs with `apply`.
 * @throws OpsError (`invalid`) when no usable tend.yaml is found; broken desired files are not thrown but
 *   collected in `project.desired.diagnostics` (their instances are `InvalidSpec`).
 */
export const loadProject: typeof openRoot = openRoot;

/**
 * Converges a loaded project, as `tend reconcile` does: `reconcile(project.desired, project.paths, opts)`.
 * `opts.only` limits the work to some instances; `exitCode` is the CLI's (0 converged, 1 errors,
 * 3 converged except held or rolled-back instances).
 */
export function apply(project: LoadedProject, opts: ApplyOptions = {}): Promise<ApplyResult> {
  return reconcileRoot(project.desired, project.paths, opts);
}
