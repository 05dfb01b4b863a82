// Types shared by every layer: desired specs, observed state, releases, plans and diagnostics.

export type Runtime = 'systemd' | 'launchd' | 'docker' | 'tmux';
export type RuntimeChoice = Runtime | 'auto';
export const RUNTIMES: readonly Runtime[] = ['systemd', 'launchd', 'docker', 'tmux'];

export type Severity = 'error' | 'warning';

/** A problem tied to a place: `desired/web.yaml:7:3: error: port must be <= 65535`. */
export interface Diagnostic {
  severity: Severity;
  message: string;
  /** Path relative to the deployment root, e.g. `desired/web.yaml`. */
  file?: string;
  line?: number;
  col?: number;
  /** The instance the problem belongs to, when there is one. */
  instance?: string;
}

/**
 * One health check kind (exactly one key after defaults are merged; the loader refuses two). The YAML
 * shape is kept as it is, so spec hashes do not change; `healthCheckOf` names the kind for a switch.
 */
export type HealthCheckSpec =
  | { http: string; tcp?: never; exec?: never }
  | { tcp: true; http?: never; exec?: never }
  | { exec: string[]; http?: never; tcp?: never };

export type HealthSpec = HealthCheckSpec & {
  /** Must equal the instance port when given. */
  port?: number;
  timeout?: string;
  interval?: string;
};

/** A health check by kind: what the probes, the plan and status describe and run. */
export type HealthCheck =
  | { kind: 'http'; path: string }
  | { kind: 'tcp' }
  | { kind: 'exec'; argv: string[] };
export type HealthKind = HealthCheck['kind'];

export interface DockerSpec {
  containerPort?: number;
  volumes?: string[];
  network?: string;
}

export interface SystemdSpec {
  /** NoNewPrivileges, PrivateTmp, ProtectSystem=strict (default true). */
  hardening?: boolean;
}

/** The contents of `desired/<name>.yaml` after `defaults:` were merged under it. */
export interface InstanceSpec {
  apiVersion?: 'tend/v1';
  name: string;
  version: string;
  runtime: RuntimeChoice;
  state: 'running' | 'stopped';
  port: number;
  address: string;
  env: Record<string, string>;
  secrets: string[];
  config?: unknown;
  health: HealthSpec;
  rollout: { autoRollback: boolean };
  docker?: DockerSpec;
  systemd?: SystemdSpec;
}

export type InstanceDefaults = Partial<Omit<InstanceSpec, 'name'>>;

export interface TendConfig {
  apiVersion: 'tend/v1';
  app: string;
  source: {
    repo: string;
    build: string;
    buildTimeout: string;
    artifacts: string[];
    image?: string;
    run: { artifact: string; args: string[] };
    secrets: string[];
    /** `latest` may resolve to a pre-release tag (v2.0.0-rc.1). */
    prereleases: boolean;
  };
  paths: { desired: string; releases: string; instances: string };
  /** Templates of files tend renders: `config` for instances/<name>/config.yaml (default templates/config.yaml), relative to the root. */
  templates?: { config?: string };
  releases: { keep: number };
  prune: { deleteRemoved: boolean; maxShare: number };
  defaults: InstanceDefaults;
  agent: {
    resync: string;
    prune: string;
    concurrency: number;
    debounce: string;
    git: { pull: boolean; interval: string };
    listen: string;
    /** On SIGTERM/SIGINT: how long current work may take before it is aborted. */
    shutdownTimeout: string;
    /** Caps on instance logs and build.log (copy-truncate rotation). */
    logs: { maxSize: string; keep: number; interval: string };
  };
  systemd: {
    scope: 'system' | 'user';
    user?: string;
    group?: string;
    /** Where unit output goes: `files` (append to instances/<name>/logs/) or `journal`. */
    output: 'files' | 'journal';
    /** RestartSec of the units (systemd restarts them on failure). */
    restartSec: string;
    /** TimeoutStopSec: SIGTERM, then SIGKILL after this long. */
    stopTimeout: string;
  };
  /** scope: system (LaunchDaemons, domain `system`) or user (LaunchAgents, domain `gui/<uid>`). */
  launchd: { labelPrefix: string; scope: 'system' | 'user' };
  docker: { network?: string; discovery: { enabled: boolean; label: string; imagePatterns: string[] } };
  tmux: { socket?: string };
  metrics: { projects?: string; sessions?: string };
}

/** One desired file after loading: valid (with its merged spec) or invalid (kept running as is). */
export interface Position {
  line: number;
  col: number;
}

export type DesiredEntry =
  | {
    status: 'valid'; name: string; file: string; runtime: Runtime; spec: InstanceSpec;
    /** Where top-level keys sit in the file (1:1 when they come from defaults), for planner diagnostics. */
    positions: Record<string, Position>;
  }
  | { status: 'invalid'; name: string; file: string; diagnostics: Diagnostic[] };

export interface DesiredState {
  config: TendConfig;
  /** `desired/` relative to the root, for messages. */
  desiredDir: string;
  /** False when `desired/` does not exist; then nothing may be deleted. */
  dirExists: boolean;
  entries: DesiredEntry[];
  diagnostics: Diagnostic[];
}

// ---- observation -------------------------------------------------------

export type ObservedState = 'running' | 'stopped' | 'failed' | 'absent';

/** One unit / container / session found on the host. */
export interface ObservedItem {
  runtime: Runtime;
  /** Unit, container or session name, e.g. `oubliette-web.service`. */
  id: string;
  /** Instance name from the ownership mark (or derived from the name when not owned). */
  instance: string;
  owned: boolean;
  state: ObservedState;
  version?: string;
  specHash?: string;
  /** ISO time the current process started, for restart requests. */
  startedAt?: string;
  restarts?: number;
  /** Docker: the image id the container runs. */
  imageId?: string;
  /** Docker and systemd: the instance-directory layout it was made for (INSTANCE_LAYOUT; 1 when unmarked). */
  layout?: number;
  /** The exit code of the process when it has ended (tmux: a dead pane's status). */
  exitStatus?: number;
  /** The signal that ended the process, e.g. `SIGKILL`, when a signal did. */
  exitSignal?: string;
}

export type RuntimeObservation =
  | {
    status: 'ok'; items: ObservedItem[]; images?: string[];
    /** Things an operator should know about the runtime (e.g. linger is off), shown as plan warnings. */
    warnings?: string[];
  }
  | { status: 'unavailable'; reason: string; items: [] };

export interface Observed {
  host: { platform: string };
  runtimes: Partial<Record<Runtime, RuntimeObservation>>;
}

export type VersionResolution =
  | { status: 'resolved'; tag: string; commit: string }
  | { status: 'not-found'; reason: string }
  | { status: 'unresolved'; reason: string };

export interface BuiltRelease {
  version: string;
  commit: string;
  valid: boolean;
  problem?: string;
  imageId?: string;
}

/** Releases as observed: requested versions resolved to tags and commits, and what `releases/` holds. */
export interface ReleaseCatalog {
  resolutions: Record<string, VersionResolution>;
  built: Record<string, BuiltRelease>;
}

export type HistoryReason = 'create' | 'update' | 'rollback' | 'auto-rollback';

export type HistoryOutcome = 'healthy' | 'failed';

/** One line of `instances/<name>/.version-history`. */
export interface HistoryEntry {
  version: string;
  updatedAt: string;
  /** `user@host`, or `agent`. */
  updatedBy: string;
  reason: HistoryReason;
  outcome: HistoryOutcome;
  /** Names one attempt (e.g. plan action id + spec hash): appending an id already on file is a no-op. */
  id?: string;
  /** Why it failed, for people (`Health check timeout after 30s: HTTP 500 from /health`). */
  detail?: string;
}

/**
 * `Interrupted` is never written: status shows it for a `Progressing` instance whose lock no live
 * process holds (the run that was changing it died or was cancelled; the next reconcile resumes it).
 */
export type Phase =
  | 'Ready' | 'Progressing' | 'Interrupted' | 'Degraded' | 'RolledBack' | 'Failed' | 'Stopped' | 'InvalidSpec' | 'Unknown';

export interface Hold {
  version: string;
  specHash: string;
  at: string;
  reason: string;
}

/** The last spec applied to an instance, secrets excluded, so a plan can name changed fields. */
export interface AppliedSpec {
  specHash: string;
  version: string;
  commit: string;
  runtime: Runtime;
  spec: InstanceSpec;
  envDigest: string;
}

/** The last health check tend ran on an instance. */
export interface HealthStatus {
  healthy: boolean;
  /** ISO time the check ended. */
  at: string;
  /** Why it failed (absent when healthy). */
  reason?: string;
}

/** `instances/<name>/status.json`. */
export interface StatusFile {
  phase: Phase;
  observedVersion?: string;
  desiredVersion?: string;
  port?: number;
  health?: HealthStatus;
  /** ISO time the instance entered this phase (kept while the phase stays the same). */
  since?: string;
  message?: string;
  /** The quarantine: a (version, spec hash) that failed its health check and is not retried. */
  held?: Hold;
  applied?: AppliedSpec;
  /** Counts recorded applies; names history entries so a re-run after a crash never writes one twice. */
  generation?: number;
  /** The last exits of the process that tend restarted (newest last, at most 10): backoff and crash loops. */
  crashes?: Crash[];
}

/** A process exit tend found and restarted from. */
export interface Crash {
  at: string;
  specHash: string;
  exitStatus?: number;
  exitSignal?: string;
}

export interface InstanceState {
  history: HistoryEntry[];
  phase?: Phase;
  held?: Hold;
  applied?: AppliedSpec;
  restartRequestedAt?: string;
  crashes?: Crash[];
  /**
   * Names present in `instances/<name>/.env` and a digest of their values; never the values. `problems`:
   * lines tend and systemd would read differently (src/shared/env-parse.ts); the planner applies nothing then.
   */
  env: { file: string; keys: string[]; digest: string; problems?: EnvProblem[] };
  /** tend's own files that are links, FIFOs or folders (one message each, naming the path): tend does not act on the instance. */
  unsafe?: string[];
}

/** A .env line tend and systemd's EnvironmentFile= would read differently: where, which key, why (never the value). */
export interface EnvProblem {
  line: number;
  col: number;
  key?: string;
  message: string;
}

export type InstanceStates = Record<string, InstanceState>;
