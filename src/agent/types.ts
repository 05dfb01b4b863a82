// Types shared by the agent's parts (loop, status server, metrics, logger): data only.
import type { HistoryEntry } from '../model/types.js';
import type { InstanceStatus } from '../status/index.js';

export type ReconcileResultKind = 'ok' | 'held' | 'failed' | 'cancelled' | 'error';

/** The last reconcile the agent ran for one instance. */
export interface ReconcileRecord {
  /** ISO time the reconcile finished. */
  at: string;
  durationMs: number;
  result: ReconcileResultKind;
  /** Why (failed, error, cancelled), for people. */
  message?: string;
}

/** What the status server reads from the running agent; every call is cheap (no runtime observation). */
export interface AgentView {
  /** Absolute deployment root. */
  root: string;
  app: string;
  /** ISO time the agent started. */
  startedAt: string;
  /** One row per instance (desired, or found and owned), as `tend status --json` prints them. */
  instances(): Promise<InstanceStatus[]>;
  lastReconcile(name: string): ReconcileRecord | undefined;
  /** The newest history lines of an instance, newest first. */
  history(name: string, limit: number): HistoryEntry[];
  /** Instances waiting or running in the work queue. */
  queueDepth(): number;
  /** Agent-wide problems for people (git branch diverged, a backend down). */
  warnings(): string[];
}
