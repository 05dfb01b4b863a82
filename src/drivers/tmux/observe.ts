// tmux observation: the sessions on tend's socket as ObservedItems (owned by marks, look-alikes reported unowned).
import { readFileSync } from 'node:fs';
import type { ObservedItem, ObservedState, RuntimeObservation } from '../../model/types.js';
import type { ObserveContext } from '../types.js';
import { socketOf } from './command.js';
import { listPanes, type PaneInfo } from './panes.js';
import { errorMessage } from '../../shared/errors.js';

/** Marked with this app and an instance name: tend made it and may change it. */
export function isOwned(p: PaneInfo, app: string): boolean {
  return p.app === app && p.instance !== '';
}

/**
 * running: the pane's process is alive. stopped: tend stopped it (or created it not started), or it
 * ended by itself with exit code 0 (as systemd calls a clean exit inactive). failed: any other end.
 */
export function stateOf(p: PaneInfo): ObservedState {
  if (!p.dead) return 'running';
  if (p.stopped) return 'stopped';
  return p.exitSignal === undefined && p.exitStatus === 0 ? 'stopped' : 'failed';
}

function iso(epochSeconds: number | undefined): string | undefined {
  return epochSeconds === undefined ? undefined : new Date(epochSeconds * 1000).toISOString();
}

/** An item for a session of this app (by marks, or by the `<app>-` name prefix); undefined for others. */
export function toItem(p: PaneInfo, app: string): ObservedItem | undefined {
  const owned = isOwned(p, app);
  const prefix = `${app}-`;
  if (!owned && !(p.session.startsWith(prefix) && p.session.length > prefix.length)) return undefined;
  const item: ObservedItem = {
    runtime: 'tmux',
    id: p.session,
    instance: owned ? p.instance : p.session.slice(prefix.length),
    owned,
    state: stateOf(p),
  };
  if (owned && p.version !== '') item.version = p.version;
  if (owned && p.hash !== '') item.specHash = p.hash;
  const started = (owned && p.started !== '' ? p.started : undefined) ?? iso(p.created);
  if (started !== undefined) item.startedAt = started;
  if (p.exitStatus !== undefined) item.exitStatus = p.exitStatus;
  if (p.exitSignal !== undefined) item.exitSignal = p.exitSignal;
  return item;
}

/**
 * A warning when tend's tmux server was started by an older tend, whose first `new-session` passed
 * env values as `-e KEY=VALUE`: the server keeps its first client's argv, readable by every local user.
 */
export function argvWarning(serverPid: number, socket: string): string | undefined {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${serverPid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined; // not Linux, or gone
  }
  if (!argv.some((a, i) => a === '-e' && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[i + 1] ?? ''))) return undefined;
  return `tend's tmux server (socket ${socket}, pid ${serverPid}) was started by an older tend and shows env values (secrets included) in its command line to every local user; `
    + `stop it once (tmux -L ${socket} kill-server: its sessions stop) and run tend reconcile to start them on a clean server`;
}

/** One `tmux list-panes -a` on the socket; never throws. */
export async function observeTmux(ctx: ObserveContext): Promise<RuntimeObservation> {
  try {
    const listing = await listPanes({ socket: socketOf(ctx.config), ...(ctx.signal ? { signal: ctx.signal } : {}) });
    if (listing.status === 'error') return { status: 'unavailable', reason: listing.message, items: [] };
    const items = listing.panes.flatMap((p) => toItem(p, ctx.config.app) ?? []);
    items.sort((a, b) => a.id.localeCompare(b.id));
    const serverPid = listing.panes.find((p) => p.serverPid !== undefined)?.serverPid;
    const warning = serverPid !== undefined && items.some((i) => i.owned) ? argvWarning(serverPid, socketOf(ctx.config)) : undefined;
    return { status: 'ok', items, ...(warning ? { warnings: [warning] } : {}) };
  } catch (err) {
    // TmuxMissingError (no binary) lands here too: the runtime is unavailable, not an error.
    return { status: 'unavailable', reason: errorMessage(err), items: [] };
  }
}
