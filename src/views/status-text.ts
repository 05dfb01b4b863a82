// Renderings of `tend status` and `tend history`: aligned text tables and JSON with stable keys (null when unknown).
import type { HistoryEntry } from '../model/types.js';
import type { InstanceDetail } from '../status/index.js';
import { exitText, type InstanceStatus } from '../status/rows.js';

/** Aligned columns, two spaces apart; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** `42s`, `5m12s`, `3h05m`, `2d4h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** `5m12s ago`, or undefined when `iso` is not a time. */
export function ago(iso: string | undefined, now: Date): string | undefined {
  const t = iso === undefined ? NaN : Date.parse(iso);
  return Number.isFinite(t) ? `${formatDuration((now.getTime() - t) / 1000)} ago` : undefined;
}

/** The running version, with the desired one when they differ (`latest` is not compared). */
export function versionText(r: InstanceStatus): string {
  const running = r.observedVersion;
  const want = r.desiredVersion;
  if (running === undefined) return want !== undefined ? `- (want ${want})` : '-';
  if (want === undefined || want === running || want === 'latest') return running;
  return `${running} (want ${want})`;
}

/** `healthy` (checked now), `healthy 5m ago` (the last check tend ran on this process), `-` when nothing runs. */
export function healthText(r: InstanceStatus, now: Date): string {
  if (!r.health) return '-';
  const when = r.health.now ? undefined : ago(r.health.at, now);
  return `${r.health.healthy ? 'healthy' : 'unhealthy'}${when ? ` ${when}` : ''}`;
}

/** `8081`, or `8081 (want 8082)` when the desired file names another port. */
export function portText(r: InstanceStatus): string {
  if (r.port === undefined) return '-';
  return r.desiredPort !== undefined ? `${r.port} (want ${r.desiredPort})` : String(r.port);
}

function checkText(h: InstanceStatus['lastCheck'], now: Date): string {
  if (!h) return '-';
  const when = ago(h.at, now);
  return `${h.healthy ? 'healthy' : 'unhealthy'} at ${h.at}${when ? ` (${when})` : ''}${h.reason ? `: ${h.reason}` : ''}`;
}

function messageText(r: InstanceStatus): string {
  return r.message ?? (r.held ? `held: ${r.held.version} failed health at ${r.held.at}` : '-');
}

export function renderStatusTable(rows: readonly InstanceStatus[], now: Date): string {
  const body = rows.map((r) => [
    r.name, r.runtime ?? '-', versionText(r), r.phase, portText(r), healthText(r, now),
    r.uptimeSeconds !== undefined ? formatDuration(r.uptimeSeconds) : '-', messageText(r),
  ]);
  return table([['NAME', 'RUNTIME', 'VERSION', 'PHASE', 'PORT', 'HEALTH', 'UPTIME', 'MESSAGE'], ...body]);
}

export function historyRows(entries: readonly HistoryEntry[]): string {
  const body = entries.map((e) => [e.version, e.updatedAt, e.updatedBy, e.reason, e.outcome, e.detail ?? '']);
  return table([['VERSION', 'UPDATED', 'BY', 'REASON', 'OUTCOME', 'DETAIL'], ...body]);
}

export function renderStatusDetail(d: InstanceDetail, now: Date): string {
  const since = d.since ? `since ${d.since}${ago(d.since, now) ? `, ${ago(d.since, now)}` : ''}` : '';
  const proc = d.process
    ? `${d.process.id}: ${d.process.state}${d.process.exitSignal ? ` (${d.process.exitSignal})` : d.process.exitStatus !== undefined && d.process.state !== 'running' ? ` (exit ${d.process.exitStatus})` : ''}`
    : '-';
  const health = !d.health ? `- (${d.process?.state === 'running' ? 'not checked' : 'not running'})`
    : d.health.now ? `${d.health.healthy ? 'healthy' : 'unhealthy'} now${d.health.reason ? `: ${d.health.reason}` : ''}`
      : checkText(d.health, now);
  const lines: [string, string][] = [
    ['name', d.name],
    ['file', d.file ?? '- (no desired file)'],
    ['runtime', d.runtime ?? '-'],
    ['process', proc],
    ['state', d.state ?? '-'],
    ['phase', `${d.phase}${since ? ` (${since})` : ''}`],
    ['version', d.observedVersion ?? '-'],
    ['desired', d.desiredVersion ?? '-'],
    ['port', d.port !== undefined ? `${d.address ?? '127.0.0.1'}:${d.port}${d.desiredPort !== undefined ? ` (desired: ${d.desiredPort})` : ''}` : '-'],
    ['health', health],
    ['last check', checkText(d.lastCheck, now)],
    ['uptime', d.uptimeSeconds !== undefined ? `${formatDuration(d.uptimeSeconds)}${d.process?.startedAt ? ` (started ${d.process.startedAt})` : ''}` : '-'],
    ['message', d.message ?? '-'],
    ['held', d.held ? `${d.held.version} (spec ${d.held.specHash.slice(0, 12)}) at ${d.held.at}: ${d.held.reason}` : 'no'],
  ];
  const crash = d.crashes.at(-1);
  if (crash) lines.push(['crashes', `${d.crashes.length} recorded, last at ${crash.at}${exitText(crash) ? `: ${exitText(crash)}` : ''}`]);
  if (d.lock) lines.push(['lock', `held by pid ${d.lock.pid} on ${d.lock.hostname}${d.lock.purpose ? ` (${d.lock.purpose})` : ''} since ${d.lock.startedAt}`]);
  if (d.metrics?.projects !== undefined) lines.push(['projects', String(d.metrics.projects)]);
  if (d.metrics?.sessions !== undefined) lines.push(['sessions', String(d.metrics.sessions)]);
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  let out = lines.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join('');
  if (d.historyCount === 0) out += 'history: none\n';
  else {
    const shown = d.history.length === d.historyCount ? `${d.historyCount}` : `last ${d.history.length} of ${d.historyCount}`;
    out += `history (${shown}):\n${historyRows(d.history).replace(/^/gm, '  ')}`;
  }
  return out;
}

// ---- JSON ------------------------------------------------------------------

export function historyEntryJson(e: HistoryEntry) {
  return { version: e.version, updatedAt: e.updatedAt, updatedBy: e.updatedBy, reason: e.reason, outcome: e.outcome, detail: e.detail ?? null };
}

/** A row with every key present, in a fixed order (null when unknown). */
export function statusJson(r: InstanceStatus) {
  return {
    name: r.name,
    file: r.file ?? null,
    runtime: r.runtime ?? null,
    state: r.state ?? null,
    desiredVersion: r.desiredVersion ?? null,
    observedVersion: r.observedVersion ?? null,
    phase: r.phase,
    port: r.port ?? null,
    desiredPort: r.desiredPort ?? null,
    address: r.address ?? null,
    health: r.health ? { healthy: r.health.healthy, at: r.health.at, reason: r.health.reason ?? null, now: r.health.now ?? false } : null,
    lastCheck: r.lastCheck ? { healthy: r.lastCheck.healthy, at: r.lastCheck.at, reason: r.lastCheck.reason ?? null } : null,
    process: r.process ? {
      id: r.process.id, state: r.process.state, startedAt: r.process.startedAt ?? null,
      exitStatus: r.process.exitStatus ?? null, exitSignal: r.process.exitSignal ?? null,
    } : null,
    uptimeSeconds: r.uptimeSeconds ?? null,
    since: r.since ?? null,
    message: r.message ?? null,
    held: r.held ? { version: r.held.version, specHash: r.held.specHash, at: r.held.at, reason: r.held.reason } : null,
    warnings: r.warnings,
  };
}

export function detailJson(d: InstanceDetail) {
  return {
    ...statusJson(d),
    history: d.history.map(historyEntryJson),
    historyCount: d.historyCount,
    historyProblems: d.historyProblems,
    crashes: d.crashes.map((c) => ({ at: c.at, specHash: c.specHash, exitStatus: c.exitStatus ?? null, exitSignal: c.exitSignal ?? null })),
    lock: d.lock ? { pid: d.lock.pid, hostname: d.lock.hostname, startedAt: d.lock.startedAt, purpose: d.lock.purpose ?? null } : null,
    metrics: d.metrics ? { url: d.metrics.url, projects: d.metrics.projects ?? null, sessions: d.metrics.sessions ?? null } : null,
  };
}
