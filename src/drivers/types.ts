// The interface every runtime driver fills in (one folder per driver, registered in registry.ts).
import type { BuiltRelease, InstanceSpec, Runtime, RuntimeObservation, TendConfig } from '../model/types.js';
import type { Disruption, FieldChange, RuntimeAction } from '../model/plan.js';

export interface DriverPaths {
  root: string;
  desired: string;
  releases: string;
  instances: string;
}

export interface ObserveContext {
  config: TendConfig;
  paths: DriverPaths;
  signal?: AbortSignal;
  /**
   * Read the start time of every running process even where that costs a call per process (Docker:
   * an inspect per container), for status and uptime; plans leave it off and stay at a fixed number of calls.
   */
  startTimes?: boolean;
}

export interface ApplyContext extends ObserveContext {
  /** The desired spec of the action's instance (absent for deletes of removed instances). */
  spec?: InstanceSpec;
  /** The release the action uses, when it concerns one. */
  release?: BuiltRelease & { dir: string };
}

/** What changed between the running thing and the desired spec, as the planner sees it. */
export interface CompareInput {
  versionChanged: boolean;
  fields: readonly FieldChange[];
}

export interface Driver {
  readonly runtime: Runtime;
  /**
   * Everything this driver owns (and, where discovery is on, what it finds but does not own),
   * in one batched call. A missing unit is simply not listed; an unreachable backend is
   * `{ status: 'unavailable' }`, never an exception.
   */
  observe(ctx: ObserveContext): Promise<RuntimeObservation>;
  /** Carry out one action of a plan. Idempotent: applying it twice leaves the same state. */
  apply(action: RuntimeAction, ctx: ApplyContext): Promise<void>;
  /**
   * Tells the runtime about a batch of applied changes at once (systemd: one daemon-reload for all
   * unit writes). The executor calls it after a batch; drivers that need nothing leave it out.
   */
  flush?(ctx: ObserveContext): Promise<void>;
}

/** Pure: how much a change disrupts the running instance on one runtime. Used by the planner. */
export type Compare = (input: CompareInput) => Disruption;
