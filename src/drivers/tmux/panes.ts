// Lists every session on the tend socket with one `list-panes -a` call and parses the format lines.
import { constants } from 'node:os';
import { tmux, type TmuxRun } from './command.js';

/** Session user options tend stamps on what it creates. */
export const MARK = {
  app: '@tend-app',
  instance: '@tend-instance',
  hash: '@tend-hash',
  version: '@tend-version',
  /** Digest of what the process is launched with (argv, cwd, env, release commit); no values. */
  launch: '@tend-launch',
  /** JSON argv `start` and `restart` respawn the pane with. */
  command: '@tend-command',
  /** Set while tend holds the process stopped (created and not started, or stopped). */
  stopped: '@tend-stopped',
  /** ISO time tend last started the process (tmux 3.3 has no pane start time). */
  started: '@tend-started',
} as const;

const FIELDS = [
  'session_name', 'pane_dead', 'pane_dead_status', 'pane_dead_signal', 'pane_pid', 'session_created', 'pid',
  MARK.app, MARK.instance, MARK.hash, MARK.version, MARK.launch, MARK.command, MARK.stopped, MARK.started,
] as const;

/** Unit separator: never in a session name tend makes, and tmux prints it as is. */
const SEP = '\x1f';
export const PANE_FORMAT = FIELDS.map((f) => `#{${f}}`).join(SEP);

/** The first pane of one session, with the session's marks. */
export interface PaneInfo {
  session: string;
  dead: boolean;
  exitStatus?: number;
  exitSignal?: string;
  pid?: number;
  /** Session creation, epoch seconds. */
  created?: number;
  /** The tmux server's pid. */
  serverPid?: number;
  app: string;
  instance: string;
  hash: string;
  version: string;
  launch: string;
  command?: string[];
  stopped: boolean;
  started: string;
}

export type PaneListing = { status: 'ok'; panes: PaneInfo[] } | { status: 'error'; message: string };

function int(text: string | undefined): number | undefined {
  return text !== undefined && /^-?[0-9]+$/.test(text) ? Number(text) : undefined;
}

function signalName(n: number | undefined): string | undefined {
  if (n === undefined) return undefined;
  const hit = Object.entries(constants.signals).find(([, v]) => v === n);
  return hit ? hit[0] : `signal ${n}`;
}

function argv(json: string): string[] | undefined {
  if (json === '') return undefined;
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === 'string') ? v : undefined;
  } catch {
    // not the JSON tend wrote: no argv
    return undefined;
  }
}

/** One pane per session (the first listed); lines that do not have every field are skipped. */
export function parsePanes(stdout: string): PaneInfo[] {
  const seen = new Map<string, PaneInfo>();
  for (const line of stdout.split('\n')) {
    const f = line.split(SEP);
    if (f.length !== FIELDS.length) continue;
    const [session, dead, status, signal, pid, created, server, app, instance, hash, version, launch, command, stopped, started] = f as string[] as [
      string, string, string, string, string, string, string, string, string, string, string, string, string, string, string,
    ];
    if (session === '' || seen.has(session)) continue;
    const isDead = dead === '1';
    const info: PaneInfo = {
      session, dead: isDead, app, instance, hash, version, launch, stopped: stopped !== '', started,
    };
    if (isDead && int(status) !== undefined) info.exitStatus = int(status);
    if (isDead && int(signal) !== undefined) info.exitSignal = signalName(int(signal));
    if (int(pid) !== undefined) info.pid = int(pid);
    if (int(created) !== undefined) info.created = int(created);
    if (int(server) !== undefined) info.serverPid = int(server);
    const cmd = argv(command);
    if (cmd) info.command = cmd;
    seen.set(session, info);
  }
  return [...seen.values()];
}

/**
 * A pane that is dead but has neither exit status nor signal: its process is a zombie tmux missed.
 * tmux built with libutempter resets SIGCHLD to SIG_DFL while it removes the pane's utmp record
 * (right when the pty closes), so a SIGCHLD arriving then is discarded and the process stays
 * unreaped until the next SIGCHLD. Sending the server (on tend's own socket) a SIGCHLD makes it
 * reap now; the status shows from the next listing on. No process is spawned for this.
 */
function nudgeReaper(panes: readonly PaneInfo[]): void {
  const stuck = panes.find((p) => p.dead && p.exitStatus === undefined && p.exitSignal === undefined && p.serverPid !== undefined);
  if (!stuck) return;
  try {
    process.kill(stuck.serverPid!, 'SIGCHLD');
  } catch {
    // Not ours to signal or gone: the status simply stays unknown.
  }
}

/** Every session on the socket: one tmux process. No server means no sessions. */
export async function listPanes(run: TmuxRun): Promise<PaneListing> {
  const out = await tmux([['list-panes', '-a', '-F', PANE_FORMAT]], run);
  // A server kept up without sessions (exit-empty off) answers `list-panes -a` with "no current target" (tmux 3.3).
  if (out.status === 'error' && /no current target/.test(out.message)) return { status: 'ok', panes: [] };
  if (out.status === 'error') return out;
  const panes = out.status === 'ok' ? parsePanes(out.stdout) : [];
  nudgeReaper(panes);
  return { status: 'ok', panes };
}

/** One session by exact name, or undefined when it does not exist. */
export async function findPane(run: TmuxRun, session: string): Promise<PaneInfo | undefined> {
  const listing = await listPanes(run);
  if (listing.status === 'error') throw new Error(listing.message);
  return listing.panes.find((p) => p.session === session);
}
