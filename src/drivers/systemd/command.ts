// Runs systemctl for one scope (argument arrays only, never a shell).
import { execa } from 'execa';
import type { Scope } from './unit.js';
import { TendError } from '../../shared/errors.js';

export interface SystemctlRun {
  scope: Scope;
  signal?: AbortSignal;
  /** Default 120 s (a stop waits up to TimeoutStopSec). */
  timeoutMs?: number;
}

export interface SystemctlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** systemctl is not installed: the runtime is unavailable. */
export class SystemctlMissingError extends TendError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** Where the user manager is found: XDG_RUNTIME_DIR (its private socket), default /run/user/<uid>. */
export function userRuntimeDir(env: Record<string, string | undefined> = process.env): string {
  return env.XDG_RUNTIME_DIR || `/run/user/${process.getuid?.() ?? 0}`;
}

function env(scope: Scope): Record<string, string> {
  if (scope !== 'user') return {};
  return { XDG_RUNTIME_DIR: userRuntimeDir() };
}

export async function systemctl(args: string[], run: SystemctlRun): Promise<SystemctlResult> {
  const argv = [...(run.scope === 'user' ? ['--user'] : []), '--no-pager', '--no-ask-password', ...args];
  const r = await execa('systemctl', argv, {
    reject: false, stdin: 'ignore', env: env(run.scope), timeout: run.timeoutMs ?? 120_000, ...(run.signal ? { cancelSignal: run.signal } : {}),
  });
  if ((r as { code?: string }).code === 'ENOENT') throw new SystemctlMissingError('systemctl is not installed (not found on PATH)');
  if (r.isCanceled) throw new Error(`systemctl ${args[0] ?? ''} was cancelled`);
  if (r.timedOut) throw new Error(`systemctl ${args.join(' ')} timed out after ${Math.round((run.timeoutMs ?? 120_000) / 1000)} s`);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** systemctl that must succeed; the error names the call and systemd's own words (unit names only, no env). */
export async function systemctlOrThrow(args: string[], run: SystemctlRun): Promise<string> {
  const r = await systemctl(args, run);
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(0, 3).join('; ') || `exit code ${r.exitCode}`;
    throw new Error(`systemctl${run.scope === 'user' ? ' --user' : ''} ${args.join(' ')} failed: ${why}`);
  }
  return r.stdout;
}
