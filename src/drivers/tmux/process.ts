// The process in a session's pane: start it (respawn-pane with the recorded argv) and end it (SIGTERM, wait, SIGKILL).
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { stamperArgv } from '../logstamp.js';
import { formatLiteral, tmux, tmuxOrThrow, type TmuxRun } from './command.js';
import { findPane, MARK, type PaneInfo } from './panes.js';

export interface StopTimings {
  /** How long a SIGTERM gets before SIGKILL (default 30 s). */
  stopTimeoutMs: number;
  /** How long to wait for the pane to be dead after SIGKILL. */
  killTimeoutMs: number;
  pollMs: number;
}

export const DEFAULT_TIMINGS: StopTimings = { stopTimeoutMs: 30_000, killTimeoutMs: 5_000, pollMs: 100 };

/** Exact-match targets: `=name` for a session, `=name:` for its (only) window and pane. */
export const sessionTarget = (session: string) => `=${session}`;
export const paneTarget = (session: string) => `=${session}:`;

/**
 * pipe-pane runs its argument with /bin/sh: tend's log stamper (by absolute path, `--terminal`: escape
 * sequences and `\r` dropped) appending stamped lines to the log file. Every word goes in single quotes,
 * so none may hold one.
 */
export function pipeCommand(logFile: string, stamper: readonly string[] = stamperArgv(true)): string {
  for (const word of [...stamper, logFile]) {
    if (word.includes("'")) throw new Error(`refusing a path with a single quote in tmux's pipe-pane command: ${word}`);
  }
  return formatLiteral(`exec ${stamper.map((w) => `'${w}'`).join(' ')} >> '${logFile}'`);
}

/** Signal the pane's process group (tmux makes the pane's process a group leader), else the process. */
function signal(pid: number, sig: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, sig);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls tmux until the session's pane is dead (or gone); false on timeout. */
async function waitDead(run: TmuxRun, session: string, timeoutMs: number, pollMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await findPane(run, session);
    if (!p || p.dead) return true;
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
}

/** Ends a live pane's process: SIGTERM, up to stopTimeoutMs for it to exit, then SIGKILL. */
export async function terminate(run: TmuxRun, pane: PaneInfo, t: StopTimings): Promise<void> {
  if (pane.dead || pane.pid === undefined) return;
  signal(pane.pid, 'SIGTERM');
  if (await waitDead(run, pane.session, t.stopTimeoutMs, t.pollMs)) return;
  signal(pane.pid, 'SIGKILL');
  if (await waitDead(run, pane.session, t.killTimeoutMs, t.pollMs)) return;
  throw new Error(`tmux session ${pane.session}: process ${pane.pid} still runs after SIGTERM and SIGKILL`);
}

/**
 * Runs the session's process anew: respawn-pane -k with the argv recorded at create-session (or the
 * pane's last command when none was recorded), then in the same tmux call clears @tend-stopped,
 * stamps @tend-started and pipes the pane's output to the log file (respawning closes the pipe).
 */
export async function respawn(run: TmuxRun, pane: PaneInfo, cwd: string, logFile: string): Promise<void> {
  mkdirSync(dirname(logFile), { recursive: true });
  const s = pane.session;
  await tmuxOrThrow([
    ['respawn-pane', '-k', '-t', paneTarget(s), '-c', formatLiteral(cwd), ...(pane.command ? ['--', ...pane.command] : [])],
    ['set-option', '-t', paneTarget(s), '-u', MARK.stopped],
    ['set-option', '-t', paneTarget(s), MARK.started, new Date().toISOString()],
    ['pipe-pane', '-t', paneTarget(s), pipeCommand(logFile)],
  ], run);
}

/**
 * After tend's last session went (with exit-empty on): waits for the server to end, then removes its
 * socket file, which tmux leaves behind. A server that still has sessions (another instance, or one
 * made meanwhile) is left alone, and so is its socket. Only a socket is unlinked (never a file or
 * link put in its place), and only while no server answers on it.
 */
export async function endEmptyServer(run: TmuxRun, socketPath: string, t: StopTimings): Promise<void> {
  const deadline = Date.now() + t.killTimeoutMs;
  for (;;) {
    const r = await tmux([['list-sessions', '-F', '#{session_name}']], run);
    if (r.status === 'ok' && r.stdout.trim() !== '') return;
    if (r.status === 'no-server') break;
    if (r.status === 'error' && !/server exited unexpectedly/.test(r.message)) throw new Error(r.message);
    if (Date.now() >= deadline) throw new Error(`tmux server on socket ${run.socket} still runs with no session ${t.killTimeoutMs} ms after its last one was deleted`);
    await sleep(t.pollMs);
  }
  if (!isAbsolute(socketPath)) return;
  try {
    if (lstatSync(socketPath).isSocket()) unlinkSync(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
