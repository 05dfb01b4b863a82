// The agent's own Prometheus metrics through prom-client: one Registry per agent with the default
// process metrics (CPU, RSS, event-loop lag, ...) beside tend's own. prom-client is imported only here
// and only by AgentMetrics.create(), which the agent calls when it starts the server that serves
// /metrics, so the CLI never loads it.
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Phase } from '../model/types.js';
import { PHASES } from '../state/status.js';
import type { InstanceStatus } from '../status/index.js';
import type { ReconcileResultKind } from './types.js';

/** Bucket bounds in seconds. */
const RECONCILE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const BUILD_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800];

export interface AgentMetricsOptions {
  /** When the agent started (default: now). */
  startTime?: Date;
}

interface Families {
  reconciles: Counter<'instance' | 'result'>;
  reconcileDuration: Histogram<'instance'>;
  builds: Counter<'result'>;
  buildDuration: Histogram<'result'>;
  lastBuild: Gauge<'version' | 'result'>;
  rollbacks: Counter<'instance'>;
  resyncs: Counter;
  resyncDuration: Histogram;
  resyncChanged: Counter;
  phase: Gauge<'instance' | 'phase'>;
  queueDepth: Gauge;
  startTime: Gauge;
}

/** What the agent counts; the loop calls the `...Finished` methods, the status server calls `render`. */
export class AgentMetrics {
  private constructor(private readonly registry: Registry, private readonly m: Families) {}

  /** Loads prom-client and registers every family (in the order /metrics lists them) and the default process metrics. */
  static async create(opts: AgentMetricsOptions = {}): Promise<AgentMetrics> {
    const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = await import('prom-client');
    const registry = new Registry();
    const registers = [registry];
    const m: Families = {
      reconciles: new Counter({ name: 'tend_reconciles_total', help: 'Reconciles the agent ran, by instance and result.', labelNames: ['instance', 'result'], registers }),
      reconcileDuration: new Histogram({ name: 'tend_reconcile_duration_seconds', help: 'How long one instance\'s reconcile took.', labelNames: ['instance'], buckets: RECONCILE_BUCKETS, registers }),
      builds: new Counter({ name: 'tend_builds_total', help: 'Release builds, by result (ok or failed).', labelNames: ['result'], registers }),
      buildDuration: new Histogram({ name: 'tend_build_duration_seconds', help: 'How long a release build took.', labelNames: ['result'], buckets: BUILD_BUCKETS, registers }),
      lastBuild: new Gauge({ name: 'tend_last_build_info', help: 'The last release build: its version and result (always 1).', labelNames: ['version', 'result'], registers }),
      rollbacks: new Counter({ name: 'tend_rollbacks_total', help: 'Automatic rollbacks after a failed health check, by instance.', labelNames: ['instance'], registers }),
      resyncs: new Counter({ name: 'tend_resyncs_total', help: 'Full resyncs of every instance.', registers }),
      resyncDuration: new Histogram({ name: 'tend_resync_duration_seconds', help: 'How long a full resync took.', buckets: RECONCILE_BUCKETS, registers }),
      resyncChanged: new Counter({ name: 'tend_resync_changed_instances_total', help: 'Instances a full resync had to act on (drift repaired).', registers }),
      phase: new Gauge({ name: 'tend_instance_phase', help: 'The phase of each instance: 1 for the current phase, 0 for the others.', labelNames: ['instance', 'phase'], registers }),
      queueDepth: new Gauge({ name: 'tend_queue_depth', help: 'Instances waiting or running in the agent\'s work queue.', registers }),
      // Kept beside prom-client's process_start_time_seconds: it is the agent's start (tests and embedders pass it), not the process's.
      startTime: new Gauge({ name: 'tend_agent_start_time_seconds', help: 'When the agent started, in seconds since the Unix epoch.', registers }),
    };
    m.startTime.set((opts.startTime ?? new Date()).getTime() / 1000);
    collectDefaultMetrics({ register: registry });
    return new AgentMetrics(registry, m);
  }

  /** One instance's reconcile ended (any result, cancelled included). */
  reconcileFinished(name: string, durationMs: number, result: ReconcileResultKind): void {
    this.m.reconciles.inc({ instance: name, result });
    this.m.reconcileDuration.observe({ instance: name }, durationMs / 1000);
  }

  /** A release build of `version` ended. */
  buildFinished(version: string, durationMs: number, ok: boolean): void {
    const result = ok ? 'ok' : 'failed';
    this.m.builds.inc({ result });
    this.m.buildDuration.observe({ result }, durationMs / 1000);
    // An info gauge has one series, the last build: the previous one goes.
    this.m.lastBuild.reset();
    this.m.lastBuild.set({ version, result }, 1);
  }

  /** An instance was rolled back to its last healthy version. */
  rollback(name: string): void {
    this.m.rollbacks.inc({ instance: name });
  }

  /** A full resync ended; `changed` instances needed action. */
  resyncFinished(durationMs: number, changed: number): void {
    this.m.resyncs.inc();
    this.m.resyncDuration.observe(durationMs / 1000);
    this.m.resyncChanged.inc(changed);
  }

  /** The whole exposition (text format 0.0.4): counters and histograms so far, gauges from the current rows and queue. */
  async render(rows: readonly InstanceStatus[], queueDepth: number): Promise<string> {
    // Phases are read from the status view at scrape time, not counted from events: an instance removed since goes away.
    this.m.phase.reset();
    for (const r of [...rows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      for (const p of PHASES as readonly Phase[]) this.m.phase.set({ instance: r.name, phase: p }, p === r.phase ? 1 : 0);
    }
    this.m.queueDepth.set(queueDepth);
    return this.registry.metrics();
  }
}
