// launchd actions: write-unit, start, stop, restart, delete; each idempotent, and only on jobs tend owns.
//
// The invariant tend keeps: an owned job is loaded (bootstrapped) exactly when it should run, and a
// job that is not loaded is disabled in launchd's override database, so a stopped instance stays
// stopped across a reboot or login (launchd loads every plist of the folder then, and RunAtLoad
// starts it unless disabled).
//   write-unit  renders the plist (0600: EnvironmentVariables holds the .env values) and writes it
//               atomically when its content differs; same content: no launchctl call at all. When
//               what launchd runs changed (TendLaunch differs) while the job is loaded, the old job
//               is booted out first (launchd reads a plist only when it loads it); a job left
//               unloaded is disabled. A reload (only tend marks changed) rewrites the file and
//               leaves the running process alone.
//   start       enable + bootstrap when not loaded; kickstart when loaded but not running.
//   stop        bootout (launchd's SIGTERM -> ExitTimeOut -> SIGKILL) + disable.
//   restart     bootout + bootstrap: graceful, and the plist is read anew. (`kickstart -k` would
//               SIGKILL the process at once, with no ExitTimeOut grace.)
//   delete      bootout (when loaded) and remove the plist.
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../fs/atomic.js';
import type { RuntimeAction } from '../../model/plan.js';
import { targetName } from '../../spec/names.js';
import { launchSpec } from '../launch.js';
import { dispatch } from '../dispatch.js';
import type { ApplyContext } from '../types.js';
import { bootout, bootstrap, jobStatus, kickstart, setEnabled, type Control, type JobStatus } from './control.js';
import {
  domainOf, isOwned, MARK, plistDirOf, plistFileOf, readPlistFile, renderJob, type JobOptions, type PlistFile,
} from './job.js';

export interface ApplyOptions extends JobOptions {
  legacy: { on: boolean };
}

interface Job {
  label: string;
  file: string;
  control: Control;
}

function jobOf(action: RuntimeAction, ctx: ApplyContext, o: ApplyOptions, redact: readonly string[] = []): Job {
  const label = action.target ?? (action.instance ? targetName('launchd', ctx.config, action.instance) : undefined);
  if (!label) throw new Error(`${action.type} ${action.id}: no launchd label (no target or instance)`);
  const control: Control = {
    domain: domainOf(ctx.config, o),
    run: { redact, ...(ctx.signal ? { signal: ctx.signal } : {}) },
    exitTimeoutSec: o.exitTimeoutSec,
    legacy: o.legacy,
  };
  return { label, file: plistFileOf(plistDirOf(ctx.config, o), label), control };
}

function notOwned(job: Job, why: string): Error {
  return new Error(`launchd job ${job.label} ${why} and is not owned by tend; not touching it`);
}

/** The plist, when there is one; throws when it is not tend's (no marks of this app, or another label). */
function ownedPlist(job: Job, ctx: ApplyContext): PlistFile | undefined {
  const p = readPlistFile(job.file);
  if (p && !isOwned(p, ctx.config.app, job.label)) throw notOwned(job, `has a plist at ${job.file} without the ${MARK.app}=${ctx.config.app} mark`);
  return p;
}

/** The job's state in launchd; throws when launchd runs it from another plist than tend's. */
async function ownedStatus(job: Job, plist: PlistFile | undefined): Promise<JobStatus> {
  const s = await jobStatus(job.control, job.label);
  if (s.loaded && !plist) throw notOwned(job, `is loaded in ${job.control.domain} but ${job.file} does not exist`);
  if (s.loaded && s.path !== undefined && s.path !== job.file) throw notOwned(job, `is loaded from ${s.path}, not ${job.file}`);
  return s;
}

async function writeUnit(action: RuntimeAction, ctx: ApplyContext, o: ApplyOptions): Promise<void> {
  const launch = launchSpec(action, ctx);
  const job = jobOf(action, ctx, o, launch.secrets);
  const rendered = renderJob(job.label, launch, action, ctx.config, o);
  const existing = ownedPlist(job, ctx);
  if (existing?.raw === rendered.xml) return;
  const status = await ownedStatus(job, existing);
  let loaded = status.loaded;
  if (loaded && existing?.launch !== rendered.launch) {
    await bootout(job.control, job.label, job.file, false);
    loaded = false;
  }
  // launchd opens StandardOutPath itself and creates no folders.
  mkdirSync(dirname(launch.logFile), { recursive: true });
  mkdirSync(dirname(job.file), { recursive: true });
  writeFileAtomic(job.file, rendered.xml, 0o600);
  if (!loaded) await setEnabled(job.control, job.label, false);
}

/** The state of a job an action needs the plist of; throws when it is not tend's or there is no plist. */
async function existingJob(job: Job, ctx: ApplyContext, verb: string): Promise<JobStatus> {
  const plist = ownedPlist(job, ctx);
  const status = await ownedStatus(job, plist);
  if (!plist) throw new Error(`cannot ${verb} launchd job ${job.label}: ${job.file} does not exist (write-unit first)`);
  return status;
}

async function load(job: Job): Promise<void> {
  await setEnabled(job.control, job.label, true);
  await bootstrap(job.control, job.label, job.file);
}

async function start(action: RuntimeAction, ctx: ApplyContext, o: ApplyOptions): Promise<void> {
  const job = jobOf(action, ctx, o);
  const status = await existingJob(job, ctx, 'start');
  if (status.running) return;
  if (status.loaded) await kickstart(job.control, job.label);
  else await load(job);
}

async function stop(action: RuntimeAction, ctx: ApplyContext, o: ApplyOptions): Promise<void> {
  const job = jobOf(action, ctx, o);
  const plist = ownedPlist(job, ctx);
  const status = await ownedStatus(job, plist);
  if (!plist) return;
  if (status.loaded) await bootout(job.control, job.label, job.file, true);
  await setEnabled(job.control, job.label, false);
}

async function restart(action: RuntimeAction, ctx: ApplyContext, o: ApplyOptions): Promise<void> {
  const job = jobOf(action, ctx, o);
  const status = await existingJob(job, ctx, 'restart');
  if (status.loaded) await bootout(job.control, job.label, job.file, false);
  await load(job);
}

async function remove(action: RuntimeAction, ctx: ApplyContext, o: ApplyOptions): Promise<void> {
  const job = jobOf(action, ctx, o);
  const plist = ownedPlist(job, ctx);
  const status = await ownedStatus(job, plist);
  if (status.loaded) await bootout(job.control, job.label, job.file, false);
  if (plist) rmSync(job.file, { force: true });
}

export function applyLaunchd(action: RuntimeAction, ctx: ApplyContext, o: ApplyOptions): Promise<void> {
  return dispatch('launchd', action, {
    'write-unit': () => writeUnit(action, ctx, o),
    start: () => start(action, ctx, o),
    stop: () => stop(action, ctx, o),
    restart: () => restart(action, ctx, o),
    delete: () => remove(action, ctx, o),
  });
}
