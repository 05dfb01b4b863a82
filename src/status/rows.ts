// One status row per instance: the desired file, what the runtime shows and status.json merged (no I/O
// but reading status.json and the instance lock). What runs wins over the desired file: the version and
// port shown are those of the spec the process was made from.
import type {
  DesiredEntry, DesiredState, HealthStatus, Hold, InstanceSpec, Observed, ObservedItem, ObservedState, Phase, Runtime, StatusFile,
} from '../model/types.js';
import { instanceLockOwner } from '../state/lock.js';
import { readStatus, statusPath } from '../state/status.js';
import { formatDiagnostic } from '../shared/diagnostic-text.js';

/** A health check result in a row: `now` when status checked it just now, else the last check tend ran on this process. */
export interface RowHealth extends HealthStatus {
  now?: boolean;
}

/** What `tend status` knows about one instance. Unknown values are absent (null in JSON). */
export interface InstanceStatus {
  name: string;
  /** The desired file (relative to the root); absent for an instance that only runs (an orphan). */
  file?: string;
  runtime?: Runtime;
  /** Desired `state:` (running | stopped). */
  state?: 'running' | 'stopped';
  desiredVersion?: string;
  /** The version running (from the runtime's marks, else status.json). */
  observedVersion?: string;
  phase: Phase;
  /** The port of what runs (its spec), else of the desired file. */
  port?: number;
  /** The desired file's port when it differs from `port` (a change not applied, or rolled back). */
  desiredPort?: number;
  address?: string;
  /** Health now (checked by status), or the last check tend ran on the process that runs; absent when nothing runs. */
  health?: RowHealth;
  /** The last health check tend ran (status.json), whatever runs now. */
  lastCheck?: HealthStatus;
  /** The unit / container / session and its state as observed; absent when nothing was found or the runtime was not observable. */
  process?: { id: string; state: ObservedState; startedAt?: string; exitStatus?: number; exitSignal?: string };
  /** Seconds since the running process started (observed startedAt). */
  uptimeSeconds?: number;
  /** When the phase began (status.json). */
  since?: string;
  message?: string;
  /** The quarantined (version, spec hash) that failed its health check. */
  held?: Hold;
  /** Problems reading the instance's files (a status.json that does not parse). */
  warnings: string[];
}

export interface RowInput {
  name: string;
  entry?: DesiredEntry;
  items: readonly ObservedItem[];
  /** The runtime's observation failed: why. */
  unavailable?: string;
  status?: StatusFile;
  statusProblem?: string;
  now: Date;
  /** A live process holds the instance lock (a reconcile or the agent acting on it). */
  working?: boolean;
  /** The health check run just now on what runs (see `runningSpec`). */
  probe?: HealthStatus;
}

/** `exited with status 1`, `killed by SIGKILL`, or undefined when nothing says how it ended. */
export function exitText(item: Pick<ObservedItem, 'exitStatus' | 'exitSignal'>): string | undefined {
  if (item.exitSignal !== undefined) return `killed by ${item.exitSignal}`;
  if (item.exitStatus !== undefined) return `exited with status ${item.exitStatus}`;
  return undefined;
}

/** The item that is the instance's process: on its runtime first, running before stopped. */
function pick(items: readonly ObservedItem[], runtime: Runtime | undefined): ObservedItem | undefined {
  const rank = (i: ObservedItem) => (i.runtime === runtime ? 0 : 2) + (i.state === 'running' ? 0 : 1);
  return [...items].sort((a, b) => rank(a) - rank(b))[0];
}

function phaseAndMessage(input: RowInput, item: ObservedItem | undefined): { phase: Phase; message?: string } {
  const { entry, status } = input;
  if (entry?.status === 'invalid') {
    const first = entry.diagnostics.find((d) => d.severity === 'error') ?? entry.diagnostics[0];
    return { phase: 'InvalidSpec', message: first ? formatDiagnostic(first) : `${entry.file} is not valid` };
  }
  if (input.unavailable !== undefined) return { phase: 'Unknown', message: `runtime not observable: ${input.unavailable}` };
  const orphan = entry === undefined ? 'no desired file (an orphan: tend reconcile --prune deletes it)' : undefined;
  if (status) {
    if (status.phase === 'Ready' && item?.state !== 'running') {
      const how = item ? exitText(item) ?? item.state : 'not found';
      return { phase: 'Degraded', message: `process ${how}${item ? ` (${item.id})` : ''}` };
    }
    if (status.phase === 'Progressing' && input.working === false) {
      const why = 'interrupted: no tend process is working on it (the next tend reconcile or agent resync resumes it)';
      return { phase: 'Interrupted', message: status.message ? `${status.message}; ${why}` : why };
    }
    return { phase: status.phase, ...(status.message ?? orphan ? { message: status.message ?? orphan } : {}) };
  }
  if (item?.state === 'running') return { phase: 'Ready', ...(orphan ? { message: orphan } : {}) };
  if (item) return { phase: 'Stopped', message: [exitText(item) ?? 'stopped', orphan].filter(Boolean).join('; ') };
  const wanted = entry?.status === 'valid' && entry.spec.state === 'running';
  return { phase: 'Stopped', message: wanted ? 'not created yet (tend reconcile creates it)' : 'not created' };
}

/** The runtime and the item that is the instance's process (none when the runtime was not observable). */
export function processOf(input: Pick<RowInput, 'entry' | 'status' | 'items' | 'unavailable'>): { runtime?: Runtime; item?: ObservedItem } {
  const runtime = (input.entry?.status === 'valid' ? input.entry.runtime : undefined) ?? input.status?.applied?.runtime ?? input.items[0]?.runtime;
  const item = input.unavailable === undefined ? pick(input.items, runtime) : undefined;
  return { ...(runtime ? { runtime } : {}), ...(item ? { item } : {}) };
}

/**
 * The spec of what runs: the last applied one when the running process was made from it (stamped with
 * its hash), else the desired file's (a change being applied, or one that failed and was left running).
 * Undefined when nothing runs.
 */
export function runningSpec(input: Pick<RowInput, 'entry' | 'status'>, item: ObservedItem | undefined): InstanceSpec | undefined {
  if (item?.state !== 'running') return undefined;
  const applied = input.status?.applied;
  if (applied && item.specHash !== undefined && item.specHash === applied.specHash) return applied.spec;
  return input.entry?.status === 'valid' ? input.entry.spec : applied?.spec;
}

/** Health to show: checked now, else the last check tend ran when it was of the process running now. */
function healthOf(input: RowInput, item: ObservedItem | undefined): RowHealth | undefined {
  if (item?.state !== 'running') return undefined;
  if (input.probe) return { ...input.probe, now: true };
  const last = input.status?.health;
  if (!last) return undefined;
  const started = item.startedAt !== undefined ? Date.parse(item.startedAt) : NaN;
  return Number.isFinite(started) && Date.parse(last.at) < started ? undefined : { ...last, now: false };
}

/** Merges one instance's sources into its row. */
export function statusRow(input: RowInput): InstanceStatus {
  const { name, entry, status } = input;
  const valid = entry?.status === 'valid' ? entry : undefined;
  const { runtime, item } = processOf(input);
  const { phase, message } = phaseAndMessage(input, item);
  const running = item?.state === 'running';
  const startedAt = running ? item.startedAt : undefined;
  const started = startedAt !== undefined ? Date.parse(startedAt) : NaN;
  const observedVersion = item?.version ?? status?.observedVersion;
  const desiredVersion = valid?.spec.version ?? status?.desiredVersion;
  const runs = runningSpec(input, item);
  const port = runs?.port ?? valid?.spec.port ?? status?.port ?? status?.applied?.spec.port;
  const desiredPort = valid && valid.spec.port !== port ? valid.spec.port : undefined;
  const address = runs?.address ?? valid?.spec.address ?? status?.applied?.spec.address;
  const health = healthOf(input, item);
  const warnings = input.statusProblem !== undefined ? [input.statusProblem] : [];
  return {
    name,
    ...(entry ? { file: entry.file } : {}),
    ...(runtime ? { runtime } : {}),
    ...(valid ? { state: valid.spec.state } : {}),
    ...(desiredVersion !== undefined ? { desiredVersion } : {}),
    ...(observedVersion !== undefined ? { observedVersion } : {}),
    phase,
    ...(port !== undefined ? { port } : {}),
    ...(desiredPort !== undefined ? { desiredPort } : {}),
    ...(address !== undefined ? { address } : {}),
    ...(health ? { health } : {}),
    ...(status?.health ? { lastCheck: status.health } : {}),
    ...(item ? {
      process: {
        id: item.id, state: item.state,
        ...(item.startedAt !== undefined ? { startedAt: item.startedAt } : {}),
        ...(item.exitStatus !== undefined ? { exitStatus: item.exitStatus } : {}),
        ...(item.exitSignal !== undefined ? { exitSignal: item.exitSignal } : {}),
      },
    } : {}),
    ...(Number.isFinite(started) ? { uptimeSeconds: Math.max(0, Math.floor((input.now.getTime() - started) / 1000)) } : {}),
    ...(status?.since !== undefined ? { since: status.since } : {}),
    ...(message !== undefined ? { message } : {}),
    ...(status?.held ? { held: status.held } : {}),
    warnings,
  };
}

/** status.json of `name`, or the reason it is unusable (a missing file is no problem). */
export function readStatusOf(instancesDir: string, name: string): { status?: StatusFile; problem?: string } {
  const read = readStatus(statusPath(instancesDir, name));
  if (read.status) return { status: read.status };
  return /does not exist$/.test(read.reason) ? {} : { problem: read.reason };
}

/**
 * Rows for every desired instance and every owned thing the runtimes show that no desired file
 * names (orphans), sorted by name. `extra` adds names known otherwise (e.g. asked for by name).
 */
export function statusRows(desired: DesiredState, instancesDir: string, observed: Observed, now: Date, extra: readonly string[] = []): InstanceStatus[] {
  return rowInputs(desired, instancesDir, observed, now, extra).map(statusRow);
}

/** What each row is made from (see statusRows), before any health check is run. */
export function rowInputs(desired: DesiredState, instancesDir: string, observed: Observed, now: Date, extra: readonly string[] = []): RowInput[] {
  const items = Object.values(observed.runtimes).flatMap((r) => (r?.status === 'ok' ? r.items : [])).filter((i) => i.owned);
  const names = new Set([...desired.entries.map((e) => e.name), ...items.map((i) => i.instance), ...extra]);
  return [...names].sort().map((name) => {
    const entry = desired.entries.find((e) => e.name === name);
    const mine = items.filter((i) => i.instance === name);
    const { status, problem } = readStatusOf(instancesDir, name);
    const runtime = entry?.status === 'valid' ? entry.runtime : status?.applied?.runtime ?? mine[0]?.runtime;
    const obs = runtime ? observed.runtimes[runtime] : undefined;
    const unavailable = obs?.status === 'unavailable' ? obs.reason : obs === undefined && runtime ? 'not observed' : undefined;
    // Progressing is only true while someone holds the lock; otherwise the run that was changing it is gone.
    const working = status?.phase === 'Progressing' ? instanceLockOwner({ instances: instancesDir }, name) !== undefined : undefined;
    return {
      name, items: mine, now,
      ...(working !== undefined ? { working } : {}),
      ...(entry ? { entry } : {}),
      ...(unavailable !== undefined ? { unavailable } : {}),
      ...(status ? { status } : {}),
      ...(problem !== undefined ? { statusProblem: problem } : {}),
    };
  });
}
