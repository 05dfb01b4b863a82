// Runs tmux on tend's dedicated server socket: argument arrays only, a fixed env, errors without secrets.
import { execa } from 'execa';
import type { TendConfig } from '../../model/types.js';
import { TendError } from '../../shared/errors.js';

export const DEFAULT_SOCKET = 'tend';

/** The only variables of tend's own env the tmux client (and a server it starts) sees. */
const PASS_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'TMUX_TMPDIR'];

/** "No server on this socket" (never started, or exited with its last session): nothing exists, not an error. */
const NO_SERVER = /no server running on|error connecting to .*\((No such file or directory|Connection refused)\)/;

export interface TmuxRun {
  socket: string;
  signal?: AbortSignal;
  /** Values that must never appear in an error message (env values). */
  redact?: readonly string[];
  timeoutMs?: number;
}

export type TmuxOutcome =
  | { status: 'ok'; stdout: string }
  | { status: 'no-server' }
  | { status: 'error'; message: string };

/** tmux is not installed: observation reports the runtime unavailable. */
export class TmuxMissingError extends TendError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

export function socketOf(config: Pick<TendConfig, 'tmux'>): string {
  const socket = config.tmux?.socket ?? DEFAULT_SOCKET;
  if (socket === '' || socket.includes('/')) throw new Error(`tmux.socket '${socket}' must be a plain name (tmux -L), not a path`);
  return socket;
}

/** tmux reads an argument that ends in ';' as a command separator; `\;` keeps the ';' literal. */
export function escapeArg(arg: string): string {
  return arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg;
}

/** tmux expands formats in some arguments (-c, pipe-pane's command): `##` is a literal `#`. */
export function formatLiteral(text: string): string {
  return text.replaceAll('#', '##');
}

function clientEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASS_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}

function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3) out = out.split(s).join('***');
  return out;
}

/**
 * One tmux process running `commands` in order (joined with ';', so the server runs them in one
 * go with no event in between). Never throws for tmux's own failures; throws TmuxMissingError
 * when there is no tmux binary.
 */
export async function tmux(commands: readonly (readonly string[])[], run: TmuxRun): Promise<TmuxOutcome> {
  const args = commands.flatMap((c, i) => [...(i > 0 ? [';'] : []), ...c.map(escapeArg)]);
  // -u: UTF-8 whatever the locale. Without it a client run with no UTF-8 LANG/LC_* (cron, `env -i`,
  // a bare service env) prints the field separator of pane listings as '_', and every session looks gone.
  const r = await execa('tmux', ['-u', '-L', run.socket, '-f', '/dev/null', ...args], {
    reject: false,
    env: clientEnv(),
    extendEnv: false,
    stdin: 'ignore',
    timeout: run.timeoutMs ?? 10_000,
    ...(run.signal ? { cancelSignal: run.signal } : {}),
  });
  if ((r as { code?: string }).code === 'ENOENT') throw new TmuxMissingError('tmux is not installed (not on PATH)');
  const stderr = redact(String(r.stderr ?? '').trim(), run.redact);
  if (!r.failed) return { status: 'ok', stdout: String(r.stdout ?? '') };
  if (NO_SERVER.test(stderr)) return { status: 'no-server' };
  const why = stderr || (r.timedOut ? `timed out after ${run.timeoutMs ?? 10_000} ms` : r.isCanceled ? 'canceled' : `exit code ${r.exitCode ?? '?'}`);
  return { status: 'error', message: `tmux ${commands.map((c) => c[0]).join(' + ')} on socket ${run.socket}: ${why}` };
}

/** Like tmux(), for apply: any failure (including a missing server) throws. */
export async function tmuxOrThrow(commands: readonly (readonly string[])[], run: TmuxRun): Promise<string> {
  const out = await tmux(commands, run);
  if (out.status === 'ok') return out.stdout;
  throw new Error(out.status === 'error' ? out.message : `tmux ${commands.map((c) => c[0]).join(' + ')}: no tmux server on socket ${run.socket}`);
}
