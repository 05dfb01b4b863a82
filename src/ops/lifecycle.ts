// start / stop (the desired file's `state:`) and restart (a request in instances/<name>/requests.json
// that the planner honours while the process started before it, so it survives an agent restart).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readOwnFile, UnsafeFileError, writeOwnFile } from '../fs/safe.js';
import type { RootPaths } from '../spec/config.js';
import type { ReconcileResult } from '../executor/reconcile.js';
import { assertEditable, editAndApply, findEntry, reconcileInstances, type EditOptions, type EditResult, type InstanceOutcomeSummary, reloadDesired, type Project } from './edit.js';


/** Sets `state: running|stopped` in desired/<name>.yaml and reconciles that instance. */
export async function setInstanceState(project: Project, name: string, state: 'running' | 'stopped', opts: EditOptions = {}): Promise<EditResult> {
  const desired = reloadDesired(project);
  findEntry(desired, name);
  assertEditable(project, opts.local);
  return editAndApply(project, desired, [{ name, key: 'state', value: state }], opts);
}

/** `tend start <name>`: `state: running` in the desired file, then a reconcile of that instance. */
export function startInstance(project: Project, name: string, opts: EditOptions = {}): Promise<EditResult> {
  return setInstanceState(project, name, 'running', opts);
}

/** `tend stop <name>`: `state: stopped` in the desired file, then a reconcile of that instance. */
export function stopInstance(project: Project, name: string, opts: EditOptions = {}): Promise<EditResult> {
  return setInstanceState(project, name, 'stopped', opts);
}

export function requestsPath(instancesDir: string, name: string): string {
  return join(instancesDir, name, 'requests.json');
}

/**
 * Records a restart request (`restartRequestedAt`, other keys of requests.json kept), written
 * atomically. The planner restarts the instance while its process started before this time.
 */
export function requestRestart(paths: Pick<RootPaths, 'instances'>, name: string, at: Date = new Date()): string {
  const file = requestsPath(paths.instances, name);
  let current: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(readOwnFile(file) ?? '{}');
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) current = parsed as Record<string, unknown>;
  } catch (err) {
    if (err instanceof UnsafeFileError) throw err;
    // Missing or unreadable: start afresh.
  }
  const requestedAt = at.toISOString();
  mkdirSync(join(paths.instances, name), { recursive: true });
  writeOwnFile(file, `${JSON.stringify({ ...current, restartRequestedAt: requestedAt }, null, 2)}\n`);
  return requestedAt;
}

export interface RestartOptions {
  /** Reconcile the instance now (default true); false only records the request (the agent acts on it). */
  apply?: boolean;
  reconcile?: EditOptions['reconcile'];
  /** The request's time (default now). */
  at?: Date;
}

export interface RestartResult {
  name: string;
  requestedAt: string;
  /** The desired file says `state: stopped`: nothing is restarted (the request is met once it starts). */
  stopped: boolean;
  reconcile?: ReconcileResult;
  outcomes: InstanceOutcomeSummary[];
}

/**
 * `tend restart <name>`: records a restart request in instances/<name>/requests.json (the desired file
 * is not touched, so `agent.git.pull` does not forbid it) and reconciles that instance.
 */
export async function restartInstance(project: Project, name: string, opts: RestartOptions = {}): Promise<RestartResult> {
  const entry = findEntry(reloadDesired(project), name);
  const requestedAt = requestRestart(project.paths, name, opts.at);
  const stopped = entry.status === 'valid' && entry.spec.state === 'stopped';
  if (opts.apply === false) return { name, requestedAt, stopped, outcomes: [] };
  const { result, outcomes } = await reconcileInstances(project, [name], opts.reconcile);
  return { name, requestedAt, stopped, reconcile: result, outcomes };
}
