// tmux actions: create-session, start, stop, restart, delete; each idempotent, and only on owned sessions.
//
// create-session vs start: create-session materialises the session (cwd, env, marks, the argv to run)
// with its process NOT running (the pane holds an exited placeholder, @tend-stopped is set, so it
// observes as `stopped`); `start` runs the process with respawn-pane. This follows the plan's
// create-session -> start -> verify-health order, and an instance with `state: stopped` gets its
// session without its process ever starting. When the owned session already runs a process launched
// exactly as the new spec would launch it (same argv, cwd, env, release commit: the @tend-launch
// digest), create-session only restamps the marks: a reload (health/rollout edits) or a repeated
// create leaves the process alone.
import type { RuntimeAction } from '../../model/plan.js';
import { targetName } from '../../spec/names.js';
import { dispatch } from '../dispatch.js';
import type { ApplyContext } from '../types.js';
import { prepareInstanceDir } from '../../state/layout.js';
import { withEnvScript } from './env-script.js';
import { formatLiteral, socketOf, tmuxOrThrow, type TmuxRun } from './command.js';
import { instanceDirOf, launchFor, logFileOf, type Launch } from './launch.js';
import { isOwned } from './observe.js';
import { findPane, MARK, type PaneInfo } from './panes.js';
import { endEmptyServer, paneTarget, respawn, sessionTarget, terminate, type StopTimings } from './process.js';

/** The exited placeholder a created-but-not-started session holds (two args: tmux execs it, no shell). */
export const PLACEHOLDER = ['true', 'tend: created, not started'];

function runOf(ctx: ApplyContext, redact: readonly string[] = []): TmuxRun {
  return { socket: socketOf(ctx.config), redact, ...(ctx.signal ? { signal: ctx.signal } : {}) };
}

function sessionOf(action: RuntimeAction, ctx: ApplyContext): string {
  if (action.target) return action.target;
  if (action.instance) return targetName('tmux', ctx.config, action.instance);
  throw new Error(`${action.type} ${action.id}: no session named (no target or instance)`);
}

/** The session, when it exists; throws when it exists and tend does not own it. */
async function ownedPane(run: TmuxRun, session: string, ctx: ApplyContext): Promise<PaneInfo | undefined> {
  const pane = await findPane(run, session);
  if (pane && !isOwned(pane, ctx.config.app)) {
    throw new Error(`tmux session ${session} exists and is not owned by tend (no ${MARK.app}=${ctx.config.app} mark); not touching it`);
  }
  return pane;
}

function marks(launch: Launch, action: RuntimeAction, ctx: ApplyContext): [string, string][] {
  return [
    [MARK.app, ctx.config.app],
    [MARK.instance, launch.instance],
    [MARK.hash, action.specHash ?? ''],
    [MARK.version, launch.version],
  ];
}

async function createSession(action: RuntimeAction, ctx: ApplyContext, t: StopTimings): Promise<void> {
  const launch = launchFor(action, ctx);
  const run = runOf(ctx, launch.secrets);
  const s = launch.session;
  const existing = await ownedPane(run, s, ctx);
  const stamp = marks(launch, action, ctx).map(([k, v]) => ['set-option', '-t', paneTarget(s), k, v]);
  if (existing && !existing.dead && existing.launch === launch.digest) {
    await tmuxOrThrow(stamp, run);
    return;
  }
  if (existing) {
    await terminate(run, existing, t);
    await tmuxOrThrow([['set-option', '-s', 'exit-empty', 'off'], ['kill-session', '-t', sessionTarget(s)]], run);
  }
  prepareInstanceDir(ctx.paths.instances, launch.instance);
  // One tmux call: remain-on-exit is set before the server handles the placeholder's exit. The env
  // (secrets included) goes in by file: a `-e KEY=VALUE` here would stay in the server's command line.
  await withEnvScript(s, launch.env, (envFile) => tmuxOrThrow([
    ['new-session', '-d', '-s', s, '-c', formatLiteral(launch.cwd), '-x', '200', '-y', '50', '--', ...PLACEHOLDER],
    // Keep tend's server up when its last session goes: otherwise replacing the only session
    // (kill-session, then new-session) races the server's exit ("server exited unexpectedly").
    ['set-option', '-s', 'exit-empty', 'off'],
    ['set-option', '-t', paneTarget(s), 'remain-on-exit', 'on'],
    ['set-option', '-t', paneTarget(s), MARK.stopped, '1'],
    ['set-option', '-t', paneTarget(s), MARK.launch, launch.digest],
    ['set-option', '-t', paneTarget(s), MARK.command, JSON.stringify(launch.argv)],
    // After remain-on-exit: tmux reads the file asynchronously, and the placeholder exits meanwhile.
    ['source-file', envFile],
    ...stamp,
  ], run));
  if (!(await findPane(run, s))) throw new Error(`tmux session ${s} vanished right after it was created`);
}

/** Runs the process unless it runs already. */
async function start(action: RuntimeAction, ctx: ApplyContext): Promise<void> {
  const run = runOf(ctx);
  const s = sessionOf(action, ctx);
  const pane = await ownedPane(run, s, ctx);
  if (!pane) throw new Error(`cannot start tmux session ${s}: it does not exist (create-session first)`);
  if (!pane.dead) {
    if (pane.stopped) await tmuxOrThrow([['set-option', '-t', paneTarget(s), '-u', MARK.stopped]], run);
    return;
  }
  const instance = action.instance ?? pane.instance;
  await respawn(run, pane, instanceDirOf(ctx, instance), logFileOf(ctx, instance));
}

/** Marks the session stopped, then SIGTERM -> wait -> SIGKILL; the session stays with a dead pane. */
async function stop(action: RuntimeAction, ctx: ApplyContext, t: StopTimings): Promise<void> {
  const run = runOf(ctx);
  const s = sessionOf(action, ctx);
  const pane = await ownedPane(run, s, ctx);
  if (!pane) return;
  if (!pane.stopped) await tmuxOrThrow([['set-option', '-t', paneTarget(s), MARK.stopped, '1']], run);
  await terminate(run, pane, t);
}

/** A graceful stop (when running), then the process anew with the recorded argv. */
async function restart(action: RuntimeAction, ctx: ApplyContext, t: StopTimings): Promise<void> {
  const s = sessionOf(action, ctx);
  if (!(await ownedPane(runOf(ctx), s, ctx))) throw new Error(`cannot restart tmux session ${s}: it does not exist (create-session first)`);
  await stop(action, ctx, t);
  await start(action, ctx);
}

/**
 * Ends the process gracefully (when running) and removes the session. When it was the server's last
 * session, the server ends too (exit-empty on, set in the same tmux call, so a session made meanwhile
 * keeps it up) and its socket file goes: nothing of tend's is left on the host.
 */
async function remove(action: RuntimeAction, ctx: ApplyContext, t: StopTimings): Promise<void> {
  const run = runOf(ctx);
  const s = sessionOf(action, ctx);
  const pane = await ownedPane(run, s, ctx);
  if (!pane) return;
  await terminate(run, pane, t);
  if (!(await findPane(run, s))) return;
  const socketPath = (await tmuxOrThrow([['display-message', '-p', '-t', sessionTarget(s), '#{socket_path}']], run)).trim();
  await tmuxOrThrow([['kill-session', '-t', sessionTarget(s)], ['set-option', '-s', 'exit-empty', 'on']], run);
  await endEmptyServer(run, socketPath, t);
}

export function applyTmux(action: RuntimeAction, ctx: ApplyContext, t: StopTimings): Promise<void> {
  return dispatch('tmux', action, {
    'create-session': () => createSession(action, ctx, t),
    start: () => start(action, ctx),
    stop: () => stop(action, ctx, t),
    restart: () => restart(action, ctx, t),
    delete: () => remove(action, ctx, t),
  });
}
