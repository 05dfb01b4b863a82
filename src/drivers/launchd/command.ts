// Runs launchctl (argument arrays only, never a shell) and tells its failures apart without leaking secrets.
import { execa } from 'execa';
import { TendError } from '../../shared/errors.js';

export interface LaunchctlRun {
  signal?: AbortSignal;
  /** Values that must never appear in an error message (env values). */
  redact?: readonly string[];
  timeoutMs?: number;
}

export interface LaunchctlResult {
  ok: boolean;
  exitCode?: number;
  stdout: string;
  /** stderr with the redacted values replaced by `***`. */
  stderr: string;
}

/** launchctl is not installed: not macOS. Observation reports the runtime unavailable. */
export class LaunchctlMissingError extends TendError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/**
 * A launchctl from before OS X 10.10 (no bootstrap/bootout/kickstart/enable/disable/print). Its
 * answer to a subcommand it lacks: `launchctl: unknown subcommand "bootstrap"`; today's launchctl
 * says `Unrecognized subcommand: <word>` for words it does not know.
 */
export const UNKNOWN_SUBCOMMAND = /unrecognized subcommand|unknown subcommand/i;

/** `print`/`kickstart` of a label the domain does not have: exit 113, `Could not find service "x" in domain for ...`. */
export const NO_SUCH_SERVICE = /could not find (specified )?service|no such process/i;

/** bootstrap refused with EIO: the label is still loaded (or draining right after a bootout). */
export const BOOTSTRAP_EIO = /Bootstrap failed: 5:/;

function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3) out = out.split(s).join('***');
  return out;
}

/** One launchctl process. Never throws for launchctl's own failures; throws LaunchctlMissingError without a binary. */
export async function launchctl(args: readonly string[], run: LaunchctlRun = {}): Promise<LaunchctlResult> {
  const r = await execa('launchctl', args, {
    reject: false,
    stdin: 'ignore',
    timeout: run.timeoutMs ?? 15_000,
    ...(run.signal ? { cancelSignal: run.signal } : {}),
  });
  if ((r as { code?: string }).code === 'ENOENT') throw new LaunchctlMissingError('launchctl is not installed (not on PATH): launchd runs on macOS only');
  let stderr = redact(String(r.stderr ?? '').trim(), run.redact);
  if (r.timedOut) stderr = `timed out after ${run.timeoutMs ?? 15_000} ms${stderr ? `: ${stderr}` : ''}`;
  else if (r.isCanceled) stderr = 'canceled';
  const result: LaunchctlResult = { ok: !r.failed, stdout: String(r.stdout ?? ''), stderr };
  if (r.exitCode !== undefined) result.exitCode = r.exitCode;
  return result;
}

/** The error for a failed call: the subcommand, its target and launchctl's own words (stderr, redacted). */
export function launchctlError(args: readonly string[], r: LaunchctlResult): Error {
  const what = args.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ');
  return new Error(`launchctl ${what} failed (exit ${r.exitCode ?? '?'}): ${r.stderr || 'no message'}`);
}
