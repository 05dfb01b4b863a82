// launchd observation: one `launchctl list` for every job, the plists' marks read from disk, one `ps` for start times.
//
// `launchctl list` lists the jobs of the domain launchctl runs in: the system domain as root, the
// user's login (gui) domain as a logged-in user. So system scope needs tend to run as root and user
// scope needs tend to run as that user; user scope as root is reported unavailable instead of
// silently showing the system domain's jobs.
import { readdirSync } from 'node:fs';
import { execa } from 'execa';
import type { ObservedItem, ObservedState, RuntimeObservation } from '../../model/types.js';
import type { ObserveContext } from '../types.js';
import { launchctl, launchctlError } from './command.js';
import {
  isOwned, labelPrefixOf, plistDirOf, plistFileOf, readPlistFile, scopeOf, uidOf, type JobOptions, type PlistFile,
} from './job.js';
import { parseList, parsePsElapsed, signalName, type ListedJob } from './listing.js';
import { errorMessage } from '../../shared/errors.js';

function stateOf(job: ListedJob | undefined): ObservedState {
  if (!job) return 'stopped';
  if (job.pid !== undefined) return 'running';
  return job.exitSignal !== undefined || (job.exitStatus ?? 0) !== 0 ? 'failed' : 'stopped';
}

/** Labels of this app's plists in the folder (a missing folder has none). */
function plistLabels(dir: string, prefix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`cannot read ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return names
    .filter((n) => n.startsWith(prefix) && n.endsWith('.plist') && n.length > prefix.length + '.plist'.length)
    .map((n) => n.slice(0, -'.plist'.length));
}

/** How long each pid has run, from one `ps` call; empty when ps fails (start times are then unknown). */
async function elapsed(pids: number[], signal?: AbortSignal): Promise<Map<number, number>> {
  if (pids.length === 0) return new Map();
  const r = await execa('ps', ['-o', 'pid=,etime=', '-p', pids.join(',')], {
    reject: false, stdin: 'ignore', timeout: 10_000, env: { LC_ALL: 'C' }, ...(signal ? { cancelSignal: signal } : {}),
  });
  return parsePsElapsed(String(r.stdout ?? ''));
}

function itemOf(label: string, prefix: string, plist: PlistFile | undefined, job: ListedJob | undefined, app: string): ObservedItem {
  const owned = plist !== undefined && isOwned(plist, app, label);
  const state = stateOf(job);
  const item: ObservedItem = {
    runtime: 'launchd', id: label, instance: owned ? plist.instance! : label.slice(prefix.length), owned, state,
  };
  if (owned && plist.version) item.version = plist.version;
  if (owned && plist.hash) item.specHash = plist.hash;
  if (state === 'failed' && job?.exitStatus !== undefined) item.exitStatus = job.exitStatus;
  if (state === 'failed' && job?.exitSignal !== undefined) item.exitSignal = signalName(job.exitSignal);
  return item;
}

export async function observeLaunchd(ctx: ObserveContext, o: JobOptions): Promise<RuntimeObservation> {
  const unavailable = (reason: string): RuntimeObservation => ({ status: 'unavailable', reason, items: [] });
  if (scopeOf(ctx.config) === 'user' && uidOf(o) === 0) {
    return unavailable('launchd.scope is user but tend runs as root: LaunchAgents belong to a logged-in user (run tend as that user, or set launchd.scope: system)');
  }
  try {
    const r = await launchctl(['list'], ctx.signal ? { signal: ctx.signal } : {});
    if (!r.ok) return unavailable(launchctlError(['list'], r).message);
    const jobs = parseList(r.stdout);
    const prefix = labelPrefixOf(ctx.config);
    const dir = plistDirOf(ctx.config, o);
    const plists = new Map(plistLabels(dir, prefix).map((l) => [l, readPlistFile(plistFileOf(dir, l))]));
    const labels = new Set([...plists.keys(), ...[...jobs.keys()].filter((l) => l.startsWith(prefix) && l.length > prefix.length)]);
    const items = [...labels].map((l) => itemOf(l, prefix, plists.get(l), jobs.get(l), ctx.config.app));
    const running = items.filter((i) => i.owned && i.state === 'running').map((i) => jobs.get(i.id)!.pid!);
    const ran = await elapsed(running, ctx.signal);
    const now = Date.now();
    for (const i of items) {
      const secs = i.owned && i.state === 'running' ? ran.get(jobs.get(i.id)!.pid!) : undefined;
      if (secs !== undefined) i.startedAt = new Date(now - secs * 1000).toISOString();
    }
    items.sort((a, b) => a.id.localeCompare(b.id));
    return { status: 'ok', items };
  } catch (err) {
    // LaunchctlMissingError (not macOS) lands here too: the runtime is unavailable, not an error.
    return unavailable(errorMessage(err));
  }
}
