// One status row per instance: the desired file, what the runtime shows and status.json merged (no I/O but reading status.json).
import type {
  DesiredEntry, DesiredState, HealthStatus, Hold, Observed, ObservedItem, ObservedState, Phase, Runtime, StatusFile,
} from '../model/types.js';
import { readStatus, statusPath } from '../state/status.js';
import { formatDiagnostic } from '../views/diagnostics.js';

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
  port?: number;
  address?: string;
  /** The last health check tend ran (status.json). */
  health?: HealthStatus;
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
    return { phase: status.phase, ...(status.message ?? orphan ? { message: status.message ?? orphan } : {}) };
  }
  if (item?.state === 'running') return { phase: 'Ready', ...(orphan ? { message: orphan } : {}) };
  if (item) return { phase: 'Stopped', message: [exitText(item) ?? 'stopped', orphan].filter(Boolean).join('; ') };
  const wanted = entry?.status === 'valid' && entry.spec.state === 'running';
  return { phase: 'Stopped', message: wanted ? 'not created yet (tend reconcile creates it)' : 'not created' };
}

/** Merges one instance's sources into its row. */
export function statusRow(input: RowInput): InstanceStatus {
  const { name, entry, status } = input;
  const valid = entry?.status === 'valid' ? entry : undefined;
  const runtime = valid?.runtime ?? status?.applied?.runtime ?? input.items[0]?.runtime;
  const item = input.unavailable === undefined ? pick(input.items, runtime) : undefined;
  const { phase, message } = phaseAndMessage(input, item);
  const running = item?.state === 'running';
  const startedAt = running ? item.startedAt : undefined;
  const started = startedAt !== undefined ? Date.parse(startedAt) : NaN;
  const observedVersion = item?.version ?? status?.observedVersion;
  const desiredVersion = valid?.spec.version ?? status?.desiredVersion;
  const port = valid?.spec.port ?? status?.port ?? status?.applied?.spec.port;
  const address = valid?.spec.address ?? status?.applied?.spec.address;
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
    ...(address !== undefined ? { address } : {}),
    ...(status?.health ? { health: status.health } : {}),
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
  const items = Object.values(observed.runtimes).flatMap((r) => (r?.status === 'ok' ? r.items : [])).filter((i) => i.owned);
  const names = new Set([...desired.entries.map((e) => e.name), ...items.map((i) => i.instance), ...extra]);
  return [...names].sort().map((name) => {
    const entry = desired.entries.find((e) => e.name === name);
    const mine = items.filter((i) => i.instance === name);
    const { status, problem } = readStatusOf(instancesDir, name);
    const runtime = entry?.status === 'valid' ? entry.runtime : status?.applied?.runtime ?? mine[0]?.runtime;
    const obs = runtime ? observed.runtimes[runtime] : undefined;
    const unavailable = obs?.status === 'unavailable' ? obs.reason : obs === undefined && runtime ? 'not observed' : undefined;
    return statusRow({
      name, items: mine, now,
      ...(entry ? { entry } : {}),
      ...(unavailable !== undefined ? { unavailable } : {}),
      ...(status ? { status } : {}),
      ...(problem !== undefined ? { statusProblem: problem } : {}),
    });
  });
}
