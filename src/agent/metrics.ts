// The agent's own Prometheus metrics: a small hand-written registry rendered in the text format (version 0.0.4).
import type { Phase } from '../model/types.js';
import { PHASES } from '../state/status.js';
import type { InstanceStatus } from '../status/index.js';
import type { ReconcileResultKind } from './types.js';

type Labels = Record<string, string>;

/** A label value in the text format: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and newline escaped. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`).join(',')}}`;
}

/** A number as the text format writes it (+Inf, -Inf, NaN; no exponent for ordinary values). */
function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function header(name: string, help: string, type: 'counter' | 'gauge' | 'histogram'): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}

/** Series keyed by their label values (in label-name order), so output order is stable (sorted). */
function seriesKey(labelNames: readonly string[], labels: Labels): string {
  return JSON.stringify(labelNames.map((n) => labels[n] ?? ''));
}

function labelsOf(labelNames: readonly string[], key: string): Labels {
  const values = JSON.parse(key) as string[];
  return Object.fromEntries(labelNames.map((n, i) => [n, values[i]!]));
}

class Counter {
  private readonly series = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {
    if (labelNames.length === 0) this.inc({}, 0); // an unlabelled counter reads 0 from the start
  }

  inc(labels: Labels = {}, by = 1): void {
    const k = seriesKey(this.labelNames, labels);
    this.series.set(k, (this.series.get(k) ?? 0) + by);
  }

  render(): string {
    let out = header(this.name, this.help, 'counter');
    for (const k of [...this.series.keys()].sort()) out += `${this.name}${labelText(labelsOf(this.labelNames, k))} ${num(this.series.get(k)!)}\n`;
    return out;
  }
}

interface HistogramSeries {
  buckets: number[];
  sum: number;
  count: number;
}

class Histogram {
  private readonly series = new Map<string, HistogramSeries>();
  constructor(
    readonly name: string, readonly help: string, readonly labelNames: readonly string[], readonly bounds: readonly number[],
  ) {
    if (labelNames.length === 0) this.series.set(seriesKey(labelNames, {}), { buckets: bounds.map(() => 0), sum: 0, count: 0 });
  }

  observe(value: number, labels: Labels = {}): void {
    const k = seriesKey(this.labelNames, labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { buckets: this.bounds.map(() => 0), sum: 0, count: 0 }));
    this.bounds.forEach((b, i) => { if (value <= b) s.buckets[i]!++; });
    s.sum += value;
    s.count++;
  }

  render(): string {
    let out = header(this.name, this.help, 'histogram');
    for (const k of [...this.series.keys()].sort()) {
      const labels = labelsOf(this.labelNames, k);
      const s = this.series.get(k)!;
      this.bounds.forEach((b, i) => { out += `${this.name}_bucket${labelText({ ...labels, le: num(b) })} ${s.buckets[i]}\n`; });
      out += `${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${s.count}\n`;
      out += `${this.name}_sum${labelText(labels)} ${num(s.sum)}\n`;
      out += `${this.name}_count${labelText(labels)} ${s.count}\n`;
    }
    return out;
  }
}

/** Bucket bounds in seconds. */
const RECONCILE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const BUILD_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800];

export interface AgentMetricsOptions {
  /** When the agent started (default: now). */
  startTime?: Date;
}

/** What the agent counts; the loop calls the `...Finished` methods, the status server calls `render`. */
export class AgentMetrics {
  private readonly startTime: Date;
  private readonly reconciles = new Counter('tend_reconciles_total', 'Reconciles the agent ran, by instance and result.', ['instance', 'result']);
  private readonly reconcileDuration = new Histogram('tend_reconcile_duration_seconds', 'How long one instance\'s reconcile took.', ['instance'], RECONCILE_BUCKETS);
  private readonly builds = new Counter('tend_builds_total', 'Release builds, by result (ok or failed).', ['result']);
  private readonly buildDuration = new Histogram('tend_build_duration_seconds', 'How long a release build took.', ['result'], BUILD_BUCKETS);
  private readonly rollbacks = new Counter('tend_rollbacks_total', 'Automatic rollbacks after a failed health check, by instance.', ['instance']);
  private readonly resyncs = new Counter('tend_resyncs_total', 'Full resyncs of every instance.', []);
  private readonly resyncDuration = new Histogram('tend_resync_duration_seconds', 'How long a full resync took.', [], RECONCILE_BUCKETS);
  private readonly resyncChanged = new Counter('tend_resync_changed_instances_total', 'Instances a full resync had to act on (drift repaired).', []);
  private lastBuild: { version: string; result: string } | undefined;

  constructor(opts: AgentMetricsOptions = {}) {
    this.startTime = opts.startTime ?? new Date();
  }

  /** One instance's reconcile ended (any result, cancelled included). */
  reconcileFinished(name: string, durationMs: number, result: ReconcileResultKind): void {
    this.reconciles.inc({ instance: name, result });
    this.reconcileDuration.observe(durationMs / 1000, { instance: name });
  }

  /** A release build of `version` ended. */
  buildFinished(version: string, durationMs: number, ok: boolean): void {
    const result = ok ? 'ok' : 'failed';
    this.builds.inc({ result });
    this.buildDuration.observe(durationMs / 1000, { result });
    this.lastBuild = { version, result };
  }

  /** An instance was rolled back to its last healthy version. */
  rollback(name: string): void {
    this.rollbacks.inc({ instance: name });
  }

  /** A full resync ended; `changed` instances needed action. */
  resyncFinished(durationMs: number, changed: number): void {
    this.resyncs.inc();
    this.resyncDuration.observe(durationMs / 1000);
    this.resyncChanged.inc({}, changed);
  }

  /** The whole exposition: counters and histograms so far, plus gauges from the current rows and queue. */
  render(rows: readonly InstanceStatus[], queueDepth: number): string {
    let out = '';
    out += this.reconciles.render() + this.reconcileDuration.render();
    out += this.builds.render() + this.buildDuration.render();
    if (this.lastBuild) {
      out += header('tend_last_build_info', 'The last release build: its version and result (always 1).', 'gauge');
      out += `tend_last_build_info${labelText(this.lastBuild)} 1\n`;
    }
    out += this.rollbacks.render();
    out += this.resyncs.render() + this.resyncDuration.render() + this.resyncChanged.render();
    out += header('tend_instance_phase', 'The phase of each instance: 1 for the current phase, 0 for the others.', 'gauge');
    for (const r of [...rows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      for (const p of PHASES as readonly Phase[]) out += `tend_instance_phase${labelText({ instance: r.name, phase: p })} ${p === r.phase ? 1 : 0}\n`;
    }
    out += header('tend_queue_depth', 'Instances waiting or running in the agent\'s work queue.', 'gauge');
    out += `tend_queue_depth ${num(queueDepth)}\n`;
    out += header('tend_agent_start_time_seconds', 'When the agent started, in seconds since the Unix epoch.', 'gauge');
    out += `tend_agent_start_time_seconds ${num(this.startTime.getTime() / 1000)}\n`;
    return out;
  }
}
