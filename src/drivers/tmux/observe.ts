// tmux observation: the sessions on tend's socket as ObservedItems (owned by marks, look-alikes reported unowned).
import type { ObservedItem, ObservedState, RuntimeObservation } from '../../model/types.js';
import type { ObserveContext } from '../types.js';
import { socketOf } from './command.js';
import { listPanes, type PaneInfo } from './panes.js';

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

/** One `tmux list-panes -a` on the socket; never throws. */
export async function observeTmux(ctx: ObserveContext): Promise<RuntimeObservation> {
  try {
    const listing = await listPanes({ socket: socketOf(ctx.config), ...(ctx.signal ? { signal: ctx.signal } : {}) });
    if (listing.status === 'error') return { status: 'unavailable', reason: listing.message, items: [] };
    const items = listing.panes.flatMap((p) => toItem(p, ctx.config.app) ?? []);
    items.sort((a, b) => a.id.localeCompare(b.id));
    return { status: 'ok', items };
  } catch (err) {
    // TmuxMissingError (no binary) lands here too: the runtime is unavailable, not an error.
    return { status: 'unavailable', reason: err instanceof Error ? err.message : String(err), items: [] };
  }
}
