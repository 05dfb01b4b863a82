// systemd observation: the unit files of this app in the unit directory (marks read from disk), and
// ONE `systemctl show` for all of them; a scope that does not answer is unavailable, never a throw.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { ObservedItem, ObservedState, RuntimeObservation, TendConfig } from '../../model/types.js';
import type { ObserveContext } from '../types.js';
import { systemctl, SystemctlMissingError } from './command.js';
import { currentUser, isLogUnit, readMarks, unitDirOf, type UnitMarks } from './unit.js';
import { errorMessage } from '../../shared/errors.js';

export const SHOW_PROPERTIES = [
  'Id', 'LoadState', 'ActiveState', 'SubState', 'MainPID', 'NRestarts', 'ExecMainStartTimestamp',
  'ExecMainCode', 'ExecMainStatus', 'FragmentPath', 'NeedDaemonReload', 'UnitFileState',
] as const;

export interface UnitFile {
  unit: string;
  path: string;
  marks: UnitMarks;
}

/** Marked with this app and an instance name: tend wrote it and may change it. */
export function isOwned(marks: UnitMarks, app: string): boolean {
  return marks.app === app && marks.instance !== '';
}

/** `<app>-*.service` files in the unit directory (owned or look-alikes; not the `*.log.service` companions), sorted. Reads, never spawns. */
export function unitFiles(dir: string, app: string): UnitFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const prefix = `${app}-`;
  return names
    .filter((n) => n.startsWith(prefix) && n.endsWith('.service') && n.length > prefix.length + '.service'.length && !isLogUnit(n))
    .sort()
    .flatMap((unit) => {
      const path = join(dir, unit);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        return []; // removed between readdir and read, or a dangling link: not there
      }
      return [{ unit, path, marks: readMarks(text) }];
    });
}

/** `systemctl show` output: blocks of Key=Value separated by blank lines, one per unit in argv order. */
export function parseShow(stdout: string): Record<string, string>[] {
  return stdout.split(/\n\n+/).map((b) => b.trim()).filter((b) => b !== '').map((block) => {
    const props: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) props[line.slice(0, i)] = line.slice(i + 1);
    }
    return props;
  });
}

/** active/activating/reloading/deactivating: a process runs. failed: it ended badly. Else stopped. */
export function stateOf(p: Record<string, string>): ObservedState {
  // Waiting out RestartSec after a crash: no process runs.
  if (p.SubState === 'auto-restart') return 'failed';
  switch (p.ActiveState) {
    case 'active': case 'activating': case 'reloading': case 'deactivating':
      return 'running';
    case 'failed':
      return 'failed';
    default:
      return 'stopped';
  }
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/**
 * A systemd timestamp as ISO: `Sat 2026-11-21 21:53:25.552865 UTC` (systemctl --timestamp=us+utc, to the
 * microsecond, so a restart request made in the same second as a start compares right) or `@1732212345`
 * (--timestamp=unix); undefined when empty or unset.
 */
export function timestampToIso(v: string | undefined): string | undefined {
  const unix = /^@(\d+)$/.exec(v ?? '');
  if (unix) return unix[1] !== '0' ? new Date(Number(unix[1]) * 1000).toISOString() : undefined;
  const us = /(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))? UTC$/.exec(v ?? '');
  if (!us) return undefined;
  const t = Date.parse(`${us[1]}T${us[2]}.${(us[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`);
  return Number.isNaN(t) || t === 0 ? undefined : new Date(t).toISOString();
}

export function toItem(file: UnitFile, props: Record<string, string> | undefined, app: string): ObservedItem {
  const owned = isOwned(file.marks, app);
  const p = props ?? {};
  const item: ObservedItem = {
    runtime: 'systemd',
    id: file.unit,
    instance: owned ? file.marks.instance : file.unit.slice(app.length + 1, -'.service'.length),
    owned,
    state: stateOf(p),
  };
  if (owned && file.marks.version !== '') item.version = file.marks.version;
  if (owned && file.marks.specHash !== '') item.specHash = file.marks.specHash;
  if (owned) item.layout = Number(file.marks.layout) || 1;
  if (item.state === 'running') {
    const started = timestampToIso(p.ExecMainStartTimestamp);
    if (started) item.startedAt = started;
  }
  const restarts = Number(p.NRestarts);
  if (p.NRestarts !== undefined && Number.isInteger(restarts) && restarts > 0) item.restarts = restarts;
  if (item.state !== 'running' && timestampToIso(p.ExecMainStartTimestamp)) {
    // ExecMainCode: 1 = exited (status is the exit code), 2 = killed, 3 = dumped (status is the signal).
    const status = Number(p.ExecMainStatus);
    if (p.ExecMainCode === '1' && Number.isInteger(status)) item.exitStatus = status;
    if ((p.ExecMainCode === '2' || p.ExecMainCode === '3') && SIGNAL_NAMES.has(status)) item.exitSignal = SIGNAL_NAMES.get(status)!;
  }
  return item;
}

/** user scope: units start at boot only with linger on (logind's marker file). */
export function lingerWarning(config: TendConfig, user = currentUser(), lingerDir = '/var/lib/systemd/linger'): string | undefined {
  if (config.systemd.scope !== 'user') return undefined;
  if (existsSync(join(lingerDir, user))) return undefined;
  return `systemd user scope: linger is off for ${user}, so tend's user units stop at logout and do not start at boot; run: loginctl enable-linger ${user}`;
}

export interface SystemdObservation {
  observation: RuntimeObservation;
  /** Owned units whose file changed since systemd loaded it (a daemon-reload is due). */
  needReload: string[];
}

export async function observeSystemd(ctx: ObserveContext): Promise<SystemdObservation> {
  const scope = ctx.config.systemd.scope;
  const run = { scope, ...(ctx.signal ? { signal: ctx.signal } : {}) };
  const unavailable = (reason: string): SystemdObservation => ({ observation: { status: 'unavailable', reason, items: [] }, needReload: [] });
  try {
    const files = unitFiles(unitDirOf(scope), ctx.config.app);
    // One call whatever the count; with no units it asks the manager itself, to know it answers.
    const args = files.length > 0
      ? ['show', '--timestamp=us+utc', `--property=${SHOW_PROPERTIES.join(',')}`, '--', ...files.map((f) => f.unit)]
      : ['show', '--property=Version'];
    const r = await systemctl(args, run);
    if (r.exitCode !== 0) {
      const why = (r.stderr || r.stdout).trim().split('\n')[0] || `exit code ${r.exitCode}`;
      return unavailable(`systemctl${scope === 'user' ? ' --user' : ''} show: ${why}`);
    }
    const blocks = files.length > 0 ? parseShow(r.stdout) : [];
    const byId = new Map(blocks.map((b) => [b.Id, b]));
    const items = files.map((f) => toItem(f, byId.get(f.unit), ctx.config.app));
    const needReload = files.filter((f, i) => isOwned(f.marks, ctx.config.app) && byId.get(f.unit)?.NeedDaemonReload === 'yes' && items[i]).map((f) => f.unit);
    const warning = lingerWarning(ctx.config);
    return { observation: { status: 'ok', items, ...(warning ? { warnings: [warning] } : {}) }, needReload };
  } catch (err) {
    if (err instanceof SystemctlMissingError) return unavailable(err.message);
    return unavailable(errorMessage(err));
  }
}
