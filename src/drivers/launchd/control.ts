// launchctl subcommands for one job, with the fallback to the legacy ones (load/unload/start) before OS X 10.10.
//
// tend speaks the launchctl of 10.10 and later: bootstrap/bootout/enable/disable/kickstart/print with
// an explicit domain (`system` or `gui/<uid>`). When launchctl answers one of those with "unknown
// subcommand" / "Unrecognized subcommand", the driver switches to the legacy subcommands for the rest
// of its life: `load -w` (bootstrap + enable), `unload [-w]` (bootout [+ disable]), `start <label>`
// (kickstart) and `list` (print). Any other failure is an error, never a reason to fall back.
import { parseList, parsePrint } from './listing.js';
import {
  BOOTSTRAP_EIO, launchctl, launchctlError, NO_SUCH_SERVICE, UNKNOWN_SUBCOMMAND, type LaunchctlResult, type LaunchctlRun,
} from './command.js';

export interface Control {
  domain: string;
  run: LaunchctlRun;
  /** Seconds bootout may take: launchd's own SIGTERM -> ExitTimeOut -> SIGKILL, plus a margin. */
  exitTimeoutSec: number;
  /** Shared by every call of one driver: set once launchctl turned out to predate 10.10. */
  legacy: { on: boolean };
}

export interface JobStatus {
  loaded: boolean;
  running: boolean;
  pid?: number;
  /** The plist launchd loaded the job from (unknown with the legacy launchctl). */
  path?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const target = (c: Control, label: string) => `${c.domain}/${label}`;

/** Runs a 10.10+ subcommand; undefined when launchctl is legacy (and from now on remembered as such). */
async function modern(c: Control, args: string[], run: LaunchctlRun = c.run): Promise<LaunchctlResult | undefined> {
  if (c.legacy.on) return undefined;
  const r = await launchctl(args, run);
  if (!r.ok && UNKNOWN_SUBCOMMAND.test(r.stderr)) {
    c.legacy.on = true;
    return undefined;
  }
  return r;
}

async function must(args: string[], run: LaunchctlRun): Promise<void> {
  const r = await launchctl(args, run);
  if (!r.ok) throw launchctlError(args, r);
}

/** Whether the domain has the job and whether it runs: one `print` (legacy: one `list`). */
export async function jobStatus(c: Control, label: string): Promise<JobStatus> {
  const args = ['print', target(c, label)];
  const r = await modern(c, args);
  if (r) {
    if (r.ok) {
      const p = parsePrint(r.stdout);
      const s: JobStatus = { loaded: true, running: p.pid !== undefined || p.state === 'running' };
      if (p.pid !== undefined) s.pid = p.pid;
      if (p.path !== undefined) s.path = p.path;
      return s;
    }
    if (r.exitCode === 113 || NO_SUCH_SERVICE.test(r.stderr)) return { loaded: false, running: false };
    throw launchctlError(args, r);
  }
  const list = await launchctl(['list'], c.run);
  if (!list.ok) throw launchctlError(['list'], list);
  const job = parseList(list.stdout).get(label);
  if (!job) return { loaded: false, running: false };
  return { loaded: true, running: job.pid !== undefined, ...(job.pid !== undefined ? { pid: job.pid } : {}) };
}

/**
 * Loads the job from its plist (it starts: RunAtLoad). launchd answers EIO ("Bootstrap failed: 5")
 * while the label is still loaded, also for a moment right after a bootout: then it is retried.
 */
export async function bootstrap(c: Control, label: string, file: string): Promise<void> {
  const args = ['bootstrap', c.domain, file];
  for (let attempt = 1; ; attempt++) {
    const r = await modern(c, args);
    if (!r) return must(['load', '-w', file], c.run);
    if (r.ok) return;
    if (!BOOTSTRAP_EIO.test(r.stderr) || attempt >= 4) throw launchctlError(args, r);
    // Loaded and running: it is up (a concurrent start won). Loaded and idle: the old one is draining.
    if ((await jobStatus(c, label)).running) return;
    await sleep(250 * attempt);
  }
}

/** Unloads the job: launchd sends SIGTERM, waits ExitTimeOut, then SIGKILL. Gone already is fine. */
export async function bootout(c: Control, label: string, file: string, persist: boolean): Promise<void> {
  const run = { ...c.run, timeoutMs: (c.exitTimeoutSec + 15) * 1000 };
  const args = ['bootout', target(c, label)];
  const r = await modern(c, args, run);
  if (!r) return must(['unload', ...(persist ? ['-w'] : []), file], run);
  if (!r.ok && !(r.exitCode === 113 || r.exitCode === 3 || NO_SUCH_SERVICE.test(r.stderr))) throw launchctlError(args, r);
}

/** Marks the job enabled (enable) or disabled (disable) in launchd's override database, which outlives reboots. */
export async function setEnabled(c: Control, label: string, enabled: boolean): Promise<void> {
  const args = [enabled ? 'enable' : 'disable', target(c, label)];
  const r = await modern(c, args);
  // Legacy launchctl has no such call: load -w and unload -w set the override instead.
  if (r && !r.ok) throw launchctlError(args, r);
}

/** Starts a loaded job that does not run (no -k: a running one is left alone). */
export async function kickstart(c: Control, label: string): Promise<void> {
  const args = ['kickstart', target(c, label)];
  const r = await modern(c, args);
  if (!r) return must(['start', label], c.run);
  if (!r.ok) throw launchctlError(args, r);
}
