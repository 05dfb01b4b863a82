// Parses what launchctl prints: `launchctl list` (every job of the domain) and `launchctl print <target>` (one job).
//
// Formats, as macOS prints them (see test/fixtures/launchctl-samples.ts for captured samples and
// where they come from):
//   launchctl list          `PID\tStatus\tLabel` header, then one tab-separated line per job; PID is
//                           `-` when the job does not run; Status is the last exit status, negative
//                           when a signal ended the job (-9: SIGKILL), per launchctl(1).
//   launchctl print d/label `d/label = {` then tab-indented `key = value` lines and nested `{}`
//                           blocks; `state = running|not running|...`, `pid = N` while it runs,
//                           `path = <plist>`, `last exit code = N|(never exited)`. It also prints
//                           the job's environment: that output is parsed here and never logged.
import { constants } from 'node:os';

export interface ListedJob {
  label: string;
  pid?: number;
  /** Last exit code (0 when it never exited). */
  exitStatus?: number;
  /** Signal number that ended it last, when a signal did. */
  exitSignal?: number;
}

/** Jobs by label; lines that are not `pid<TAB>status<TAB>label` (the header, noise) are skipped. */
export function parseList(stdout: string): Map<string, ListedJob> {
  const jobs = new Map<string, ListedJob>();
  for (const line of stdout.split('\n')) {
    const m = /^\s*(-|\d+)\s+(-|-?\d+)\s+(\S.*?)\s*$/.exec(line);
    if (!m) continue;
    const [, pid, status, label] = m as unknown as [string, string, string, string];
    const job: ListedJob = { label };
    if (pid !== '-' && Number(pid) > 0) job.pid = Number(pid);
    if (status !== '-') {
      const n = Number(status);
      if (n < 0) job.exitSignal = -n;
      else job.exitStatus = n;
    }
    jobs.set(label, job);
  }
  return jobs;
}

export interface PrintedJob {
  /** `state = ...` of the service block (running, not running, waiting, ...). */
  state: string;
  pid?: number;
  /** The plist launchd loaded the job from. */
  path?: string;
  lastExitCode?: number;
}

/**
 * The top-level fields of one `launchctl print <domain>/<label>` answer. Only lines at the first
 * indentation level count: nested blocks (endpoints, coalitions) have `state =` lines of their own.
 */
export function parsePrint(stdout: string): PrintedJob {
  const fields = new Map<string, string>();
  let depth = 0;
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.endsWith('{')) {
      depth++;
      continue;
    }
    if (line === '}') {
      depth--;
      continue;
    }
    if (depth !== 1) continue;
    const eq = line.indexOf(' = ');
    if (eq > 0 && !fields.has(line.slice(0, eq))) fields.set(line.slice(0, eq), line.slice(eq + 3));
  }
  const job: PrintedJob = { state: fields.get('state') ?? 'unknown' };
  const pid = Number(fields.get('pid'));
  if (Number.isInteger(pid) && pid > 0) job.pid = pid;
  const path = fields.get('path');
  if (path !== undefined) job.path = path;
  const code = fields.get('last exit code');
  if (code !== undefined && /^-?\d+$/.test(code)) job.lastExitCode = Number(code);
  return job;
}

/** `SIGKILL` for 9; launchd reports signal numbers of the Mac, which match Linux for the common ones. */
export function signalName(n: number): string {
  const hit = Object.entries(constants.signals).find(([, v]) => v === n);
  return hit ? hit[0] : `signal ${n}`;
}

/** `ps -o etime=`: `[[dd-]hh:]mm:ss` to seconds; undefined for anything else. */
export function parseElapsed(text: string): number | undefined {
  const m = /^(?:(?:(\d+)-)?(\d+):)?(\d+):(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  const [, d, h, min, s] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min)) * 60 + Number(s);
}

/** `ps -o pid=,etime=` lines: pid -> seconds the process has run. */
export function parsePsElapsed(stdout: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    const [pid, etime] = line.trim().split(/\s+/);
    const secs = etime === undefined ? undefined : parseElapsed(etime);
    if (pid !== undefined && /^\d+$/.test(pid) && secs !== undefined) out.set(Number(pid), secs);
  }
  return out;
}
