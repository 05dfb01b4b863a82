// Docker observation: a fixed number of Engine requests however many containers there are.
//
//   1. the containers labelled tend.app=<app> (tend's own)           listContainers, label filter
//   2. every container when discovery is on or an adoption is in force (look-alikes, adopted and
//      discovered containers); otherwise only the names <app>-*       listContainers
//   3. the image ids the Engine has (the planner's load-image step)   listImages
//
// A container is inspected only when the list lacks what the planner needs: a crash-looping one
// (restart count), an exit code the status text does not show, or a running one whose instance has
// a restart request older than the container (its start time); and every running one of tend's when
// the caller asks for start times (`startTimes`: status and uptime).
import { readOwnFile } from '../../fs/safe.js';
import { constants } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { activeRecords, readAdoptionRecords, type AdoptionRecord } from '../../state/adopted.js';
import {
  discoveryReason, exitCodeFromStatus, instanceNameFor, versionFromImage, type ContainerSummary,
} from './discovery.js';
import type { ObservedItem, ObservedState, RuntimeObservation } from '../../model/types.js';
import type { ObserveContext } from '../types.js';
import { LABEL } from './container.js';
import { connect, engineMessage, listContainers, literalRegExp, type EngineOptions } from './engine.js';

/** Tend's own container for an instance of this app. */
export function isOwned(labels: Record<string, string>, app: string): boolean {
  return labels[LABEL.app] === app && (labels[LABEL.instance] ?? '') !== '';
}

/** Docker's `128 + n` convention for a process ended by signal n. */
function signalOf(code: number | undefined): string | undefined {
  if (code === undefined || code <= 128 || code >= 160) return undefined;
  return Object.entries(constants.signals).find(([, v]) => v === code - 128)?.[0];
}

/** running: up (paused counts: its process exists). stopped: never started, or exited 0. failed: anything else. */
export function stateOf(state: string, exitCode: number | undefined): ObservedState {
  switch (state) {
    case 'running':
    case 'paused':
      return 'running';
    case 'created':
      return 'stopped';
    case 'exited':
      return exitCode === 0 ? 'stopped' : 'failed';
    default:
      return 'failed';
  }
}

function restartRequestedAt(instancesDir: string, instance: string): number | undefined {
  try {
    const v = JSON.parse(readOwnFile(join(instancesDir, instance, 'requests.json')) ?? '{}') as { restartRequestedAt?: unknown };
    const t = typeof v.restartRequestedAt === 'string' ? Date.parse(v.restartRequestedAt) : NaN;
    return Number.isNaN(t) ? undefined : t;
  } catch {
    // absent, unsafe or torn requests.json: no restart request
    return undefined;
  }
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

interface Draft {
  item: ObservedItem;
  summary: ContainerSummary;
  needsInspect: boolean;
}

function draft(c: ContainerSummary, item: Omit<ObservedItem, 'runtime' | 'id' | 'state'>, ctx: ObserveContext): Draft {
  const code = c.state === 'exited' ? exitCodeFromStatus(c.status) : undefined;
  const out: ObservedItem = { runtime: 'docker', id: c.name, ...item, state: stateOf(c.state, code) };
  if (c.imageId !== '') out.imageId = c.imageId;
  if (code !== undefined) {
    out.exitStatus = code;
    const sig = signalOf(code);
    if (sig) out.exitSignal = sig;
  }
  let needsInspect = c.state === 'restarting' || c.state === 'dead' || (c.state === 'exited' && code === undefined);
  if (item.owned && out.state === 'running' && ctx.startTimes) needsInspect = true;
  else if (item.owned && out.state === 'running') {
    const requested = restartRequestedAt(ctx.paths.instances, item.instance);
    if (requested !== undefined) {
      // Made after the request, so also started after it: its creation time is enough.
      if (c.created !== undefined && c.created * 1000 > requested) out.startedAt = new Date(c.created * 1000).toISOString();
      else needsInspect = true;
    }
  }
  return { item: out, summary: c, needsInspect };
}

async function completeFromInspect(docker: Docker, d: Draft): Promise<void> {
  let info: Docker.ContainerInspectInfo;
  try {
    info = await docker.getContainer(d.summary.id).inspect();
  } catch {
    return; // Gone meanwhile: what the list said stands.
  }
  d.item.restarts = info.RestartCount;
  if (info.State.StartedAt && info.State.StartedAt !== ZERO_TIME) d.item.startedAt = new Date(info.State.StartedAt).toISOString();
  if (!info.State.Running) {
    d.item.exitStatus = info.State.ExitCode;
    const sig = signalOf(info.State.ExitCode);
    if (sig) d.item.exitSignal = sig;
    else delete d.item.exitSignal;
    if (d.summary.state === 'exited') d.item.state = stateOf('exited', info.State.ExitCode);
  }
}

/** Items for one listing: tend's own, adopted, (discovery on) containers that look like instances, and look-alikes `<app>-*`. */
function classify(owned: ContainerSummary[], others: ContainerSummary[], records: AdoptionRecord[], ctx: ObserveContext): Draft[] {
  const app = ctx.config.app;
  const prefix = `${app}-`;
  const discovery = ctx.config.docker.discovery;
  const seen = new Set<string>();
  const drafts: Draft[] = [];
  for (const c of [...owned, ...others]) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    const record = records.find((r) => r.containerId === c.id);
    if (isOwned(c.labels, app)) {
      const labels = c.labels;
      drafts.push(draft(c, {
        instance: labels[LABEL.instance]!, owned: true,
        ...(labels[LABEL.version] ? { version: labels[LABEL.version] } : {}),
        ...(labels[LABEL.hash] ? { specHash: labels[LABEL.hash] } : {}),
        layout: Number(labels[LABEL.layout]) || 1,
      }, ctx));
    } else if (record) {
      // Adopted: the instance's, with no spec hash, so the planner replaces it with tend's own container.
      drafts.push(draft(c, { instance: record.instance, owned: true, version: versionFromImage(record.image) }, ctx));
    } else if (discovery.enabled && discoveryReason(c, discovery)) {
      const choice = instanceNameFor(c, discovery.label);
      drafts.push(draft(c, { instance: 'name' in choice ? choice.name : c.name, owned: false }, ctx));
    } else if (c.name.startsWith(prefix) && c.name.length > prefix.length) {
      drafts.push(draft(c, { instance: c.name.slice(prefix.length), owned: false }, ctx));
    }
  }
  return drafts;
}

/** Never throws: an unreachable Engine (or any failed list call) is `unavailable`. */
export async function observeDocker(ctx: ObserveContext, engine: EngineOptions): Promise<RuntimeObservation> {
  try {
    const docker = await connect(engine);
    const app = ctx.config.app;
    const records = activeRecords(readAdoptionRecords(ctx.paths.instances));
    const wide = ctx.config.docker.discovery.enabled || records.length > 0;
    const [owned, others, images] = await Promise.all([
      listContainers(docker, { label: [`${LABEL.app}=${app}`] }),
      listContainers(docker, wide ? undefined : { name: [`^/?${literalRegExp(app)}-`] }),
      docker.listImages(),
    ]);
    const drafts = classify(owned, others, records, ctx);
    await Promise.all(drafts.filter((d) => d.needsInspect).map((d) => completeFromInspect(docker, d)));
    const items = drafts.map((d) => d.item).sort((a, b) => a.id.localeCompare(b.id));
    return { status: 'ok', items, images: images.map((i) => i.Id).sort() };
  } catch (err) {
    return { status: 'unavailable', reason: `Docker Engine: ${engineMessage(err)}`, items: [] };
  }
}
