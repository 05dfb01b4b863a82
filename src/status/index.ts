// `tend status` as an API: one row per instance, and the detail of one (history, lock holder, app metrics).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Crash, DesiredState, HistoryEntry, Observed } from '../model/types.js';
import { observeRuntimes } from '../observe/index.js';
import type { RootPaths } from '../spec/config.js';
import { historyPath, readHistoryFile } from '../state/history.js';
import { instanceLockOwner, type LockOwner } from '../state/lock.js';
import { STATUS_FILE } from '../state/status.js';
import { metricsUrl, readAppMetrics, wantsMetrics, type AppMetrics } from './metrics.js';
import { probeRows } from './probe.js';
import { readStatusOf, rowInputs, statusRow, type InstanceStatus } from './rows.js';

export { statusRow, statusRows, rowInputs, runningSpec, exitText, type InstanceStatus, type RowHealth, type RowInput } from './rows.js';
export { probeRows, type ProbeRowsOptions } from './probe.js';
export {
  parsePrometheusText, sumMetric, readAppMetrics, metricsUrl, EXAMPLE_METRICS, wantsMetrics,
  type Sample, type AppMetrics, type MetricNames,
} from './metrics.js';

export interface StatusOptions {
  /** A saved observation (`--observed FILE`, tests) instead of asking this host's runtimes. */
  observed?: Observed;
  now?: Date;
  signal?: AbortSignal;
  /**
   * Run each running instance's HTTP or TCP health check now (default: yes, unless `observed` is a
   * saved snapshot of another host); otherwise (and for health.exec) a row shows the last check tend
   * ran on the process that runs.
   */
  probe?: boolean;
  /** Per health check (default 1000 ms). */
  probeTimeoutMs?: number;
}

export interface DetailOptions extends StatusOptions {
  /** How many of the newest history entries to include (default 5). */
  historyLimit?: number;
  /** How long to wait for the app's /metrics (default 1000 ms); 0 skips asking. */
  metricsTimeoutMs?: number;
}

/** One instance in full: its row plus history, the lock holder and the app's own counts. */
export interface InstanceDetail extends InstanceStatus {
  /** The newest history entries, oldest first. */
  history: HistoryEntry[];
  /** How many entries the history holds in all. */
  historyCount: number;
  /** History lines that were skipped (torn, not JSON). */
  historyProblems: string[];
  /** Process exits tend restarted from (status.json `crashes`, newest last). */
  crashes: Crash[];
  /** The live process holding the instance lock (a reconcile or the agent acting on it). */
  lock?: LockOwner;
  /** From the app's Prometheus /metrics, when it answered. */
  metrics?: AppMetrics;
}

async function observation(desired: DesiredState, paths: RootPaths, opts: StatusOptions): Promise<Observed> {
  return opts.observed ?? observeRuntimes({ config: desired.config, paths, startTimes: true, ...(opts.signal ? { signal: opts.signal } : {}) });
}

/** Rows from an observation, with each running instance's health checked now unless told not to. */
export async function rowsOf(
  desired: DesiredState, paths: RootPaths, observed: Observed, opts: StatusOptions = {}, extra: readonly string[] = [], only?: string,
): Promise<InstanceStatus[]> {
  const inputs = rowInputs(desired, paths.instances, observed, opts.now ?? new Date(), extra).filter((i) => only === undefined || i.name === only);
  const probe = opts.probe ?? opts.observed === undefined;
  const checked = probe ? await probeRows(inputs, {
    ...(opts.probeTimeoutMs !== undefined ? { timeoutMs: opts.probeTimeoutMs } : {}), ...(opts.signal ? { signal: opts.signal } : {}),
  }) : inputs;
  return checked.map(statusRow);
}

/** Every desired instance and every owned thing running without a desired file (orphans), by name. */
export async function status(desired: DesiredState, paths: RootPaths, opts: StatusOptions = {}): Promise<InstanceStatus[]> {
  return rowsOf(desired, paths, await observation(desired, paths, opts), opts);
}

/** Whether tend has files for `name` in instances/ (a status.json or a history). */
function hasStateFiles(paths: RootPaths, name: string): boolean {
  return existsSync(join(paths.instances, name, STATUS_FILE)) || existsSync(historyPath(paths.instances, name));
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * The detail of one instance, or undefined when tend knows no instance of that name (no desired
 * file, nothing owned running, no state files).
 */
export async function statusDetail(desired: DesiredState, paths: RootPaths, name: string, opts: DetailOptions = {}): Promise<InstanceDetail | undefined> {
  if (!SAFE_NAME.test(name)) return undefined;
  const observed = await observation(desired, paths, opts);
  const extra = hasStateFiles(paths, name) ? [name] : [];
  const [row] = await rowsOf(desired, paths, observed, opts, extra, name);
  if (!row) return undefined;
  const hist = readHistoryFile(historyPath(paths.instances, name));
  const limit = opts.historyLimit ?? 5;
  const lock = instanceLockOwner(paths, name);
  const timeout = opts.metricsTimeoutMs ?? 1000;
  const ask = row.port !== undefined && timeout > 0 && wantsMetrics(desired.config.metrics) && (row.process?.state === 'running' || row.phase === 'Unknown');
  const metrics = ask ? await readAppMetrics(metricsUrl(row.address, row.port!), desired.config.metrics, timeout) : undefined;
  return {
    ...row,
    history: limit > 0 ? hist.entries.slice(-limit) : [],
    historyCount: hist.entries.length,
    historyProblems: hist.problems,
    crashes: readStatusOf(paths.instances, name).status?.crashes ?? [],
    ...(lock ? { lock } : {}),
    ...(metrics ? { metrics } : {}),
  };
}
