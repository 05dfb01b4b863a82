// The plan: what happens to each instance, and its vocabulary: a discriminated union of actions, each carrying what it needs, and the
// status records the planner wants written. The executor is a `switch` over `Action['type']` ending
// in a `never` check; a driver fills in a complete handler table for its runtime's action types, so
// a new kind that nothing handles is a compile error (see docs/development.md).
import type { Crash, Diagnostic, HistoryReason, Phase, Runtime } from './types.js';

export type Disruption = 'none' | 'reload' | 'restart' | 'stop' | 'replace' | 'rebuild+restart' | 'delete';

/** What happens to one instance as a whole. */
export type Change =
  | 'create' | 'update' | 'replace' | 'reconfigure' | 'restart' | 'start' | 'stop' | 'delete' | 'rollback'
  | 'orphan' | 'held' | 'invalid' | 'blocked' | 'unchanged';


/** What every action has: a stable id, why, how much it disrupts, what must be done first. */
interface ActionBase {
  id: string;
  reason: string;
  disruption: Disruption;
  dependsOn: string[];
}

/** An action on one instance. */
interface InstanceActionBase extends ActionBase {
  instance: string;
  change: Change;
  /** The spec hash the action applies (stamped on units, containers and sessions). */
  specHash?: string;
  /** `applied`: the action puts back the last healthy spec on record (status.json), not the desired file's. */
  from?: 'applied';
}

/** Builds a release from its git tag; shared by every instance that needs it. */
export interface BuildAction extends ActionBase {
  type: 'build-release';
  version: string;
  /** Absent while the tag is unresolved (the build then fails, naming it). */
  commit?: string;
}

/** Renders the instance's config.yaml. */
export interface WriteConfigAction extends InstanceActionBase {
  type: 'write-config';
  runtime: Runtime;
  version: string;
  commit?: string;
}

/** Waits for the health check; `onUnhealthy` is what the planner wants recorded when it fails. */
export interface VerifyHealthAction extends InstanceActionBase {
  type: 'verify-health';
  runtime: Runtime;
  target: string;
  onUnhealthy?: StatusRecord;
}

/** A thing found that tend reports and never touches. */
export interface OrphanAction extends ActionBase {
  type: 'orphan';
  instance: string;
  change: Change;
  runtime?: Runtime;
  target?: string;
}

/** What every runtime does to what it runs. */
export type LifecycleActionType = 'start' | 'stop' | 'restart' | 'delete';

/**
 * The words a runtime makes its thing with: each runtime's driver must handle exactly its own
 * (`Record<RuntimeActionType<R>, ...>` in drivers/dispatch.ts), so a runtime added here without a
 * handler, or a handler missing for one of these, does not compile.
 */
export type RuntimeVerbs = EveryRuntime<{
  systemd: 'write-unit';
  launchd: 'write-unit';
  docker: 'load-image' | 'create-container';
  tmux: 'create-session';
}>;
/** A table with an entry for every runtime (a runtime added to `Runtime` without one does not compile). */
type EveryRuntime<T extends Record<Runtime, string>> = T;

/** The action types the driver of runtime `R` carries out. */
export type RuntimeActionType<R extends Runtime = Runtime> = LifecycleActionType | RuntimeVerbs[R];

/** An action a runtime's driver carries out. */
export interface RuntimeAction<R extends Runtime = Runtime> extends InstanceActionBase {
  type: RuntimeActionType<R>;
  runtime: R;
  /** The unit / container / session the action touches. */
  target: string;
  version?: string;
  commit?: string;
  /** Restart backoff: the executor starts the action no earlier than this (ISO time). */
  notBefore?: string;
  /** The exit this start recovers from; the executor records it (with the time) in status.json `crashes`. */
  crash?: Omit<Crash, 'at'>;
}

export type Action = BuildAction | WriteConfigAction | VerifyHealthAction | OrphanAction | RuntimeAction;
export type ActionType = Action['type'];
/** An action that belongs to one instance (or to a thing found and reported). */
export type InstanceAction = Exclude<Action, BuildAction>;
/** An action an instance's chain carries out. */
export type ChainAction = WriteConfigAction | VerifyHealthAction | RuntimeAction;

/**
 * A status.json record the planner wants written: when a chain starts, when it ends, when its health
 * check fails, or at once for an instance whose status says otherwise than its plan. The executor
 * writes it as it is; in `message` and `log`, `{reason}` (why the health check failed) and `{at}`
 * (when the record is written) are filled in.
 */
export interface StatusRecord {
  phase: Phase;
  /** status.json's message; absent: the message is cleared. */
  message?: string;
  log?: { level: 'info' | 'warn' | 'error'; text: string };
  /** The attempt ends here: a history line with this reason (and the record's outcome). */
  history?: HistoryReason;
  /** The health check ran: record its result (healthy unless this is an `onUnhealthy` record). */
  health?: boolean;
  /** Set: the version and spec are quarantined (with the failure's reason); clear: any hold is lifted. */
  hold?: 'set' | 'clear';
  /** The version and spec hash a hold or a history line is about. */
  version?: string;
  specHash?: string;
  desiredVersion?: string;
  observedVersion?: string;
  port?: number;
  /** Count one more recorded apply (names history lines so that a re-run never writes one twice). */
  generation?: boolean;
  /** Record the spec as the last healthy one (the rollback target), with this commit (and the .env digest observed). */
  applied?: { commit: string; runtime: Runtime };
}

/** The records of one instance's plan; the failure branch of its health check is on the verify-health action. */
export interface PlannedRecords {
  /** Written when its chain starts. */
  start?: StatusRecord;
  /** Written when its chain ends, or at once when it has no actions (status says otherwise than the plan). */
  done?: StatusRecord;
  /** Written when an action of its chain fails (other than a failed health check: that is `onUnhealthy`). */
  failed?: StatusRecord;
}

export interface FieldChange {
  field: string;
  from?: unknown;
  to?: unknown;
  sensitive?: boolean;
}

export interface InstancePlan {
  name: string;
  change: Change;
  runtime?: Runtime;
  file?: string;
  version?: string;
  fromVersion?: string;
  /** `build v1.3.0 (commit 1a2b3c4, cache miss)`, `reuse v1.3.0`, `unresolved`. */
  release?: string;
  disruption: Disruption;
  reason: string;
  fields: FieldChange[];
  actions: string[];
  phase?: Phase;
  /** What status.json should say: when its chain starts and ends, or at once when it has no actions. */
  record?: PlannedRecords;
}

export interface PlanSummary {
  create: number;
  update: number;
  replace: number;
  delete: number;
  change: number;
  held: number;
  invalid: number;
  blocked: number;
  orphan: number;
  unchanged: number;
}

export interface Plan {
  formatVersion: 2;
  app: string;
  summary: PlanSummary;
  instances: InstancePlan[];
  actions: Action[];
  diagnostics: Diagnostic[];
}
