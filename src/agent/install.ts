// `tend agent install/uninstall`: a systemd unit (Linux) or launchd plist (macOS) that runs `tend -C <root> agent`.
//
// Ownership as everywhere in tend: the unit carries X-Tend-App and X-Tend-Agent=<root> (the plist TendApp and
// TendAgent); a file without them, or made for another root, is refused and never touched. The agent unit
// carries no X-Tend-Instance (TendInstance), so the drivers never take it for an instance of theirs.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../fs/atomic.js';
import type { TendConfig } from '../model/types.js';
import { parseDuration } from '../shared/duration.js';
import { liveLockOwner } from '../fs/lock.js';
import { rootPaths } from '../spec/config.js';
import { bootout, bootstrap, jobStatus, kickstart, setEnabled, type Control } from '../drivers/launchd/control.js';
import { domainOf, MARK, plistDirOf, plistFileOf } from '../drivers/launchd/job.js';
import { isDict, parsePlist, renderPlist } from '../drivers/launchd/plist.js';
import { systemctl, systemctlOrThrow, type SystemctlRun } from '../drivers/systemd/command.js';
import { lingerWarning } from '../drivers/systemd/observe.js';
import { fillTemplate, quote, readMarks, unitDirOf, wantedByOf } from '../drivers/systemd/unit.js';
import { agentLockPath } from './agent-lock.js';

/** The agent's stdout and stderr, in the instances folder (dot-named: never an instance). */
export const AGENT_LOG = '.agent.log';
export const AGENT_TEMPLATE = fileURLToPath(new URL('../../templates/tend-agent.service', import.meta.url));
/** This package's built CLI (two levels up from src/agent and dist/agent alike). */
export const DEFAULT_CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
/** The plist key holding the root (TendApp, MARK.app, holds the app). */
export const AGENT_MARK = 'TendAgent';
/** Env carried from the installing shell into the service as is: PATH finds tmux, docker and git. */
const CARRIED = ['PATH', 'DOCKER_HOST', 'TEND_SYSTEMD_UNIT_DIR', 'TEND_LAUNCHD_DIR'] as const;
/** Path overrides, carried as the absolute folders they name here. */
const PATH_OVERRIDES = { TEND_DESIRED_DIR: 'desired', TEND_RELEASES_DIR: 'releases', TEND_INSTANCES_DIR: 'instances' } as const;

export type AgentKind = 'systemd' | 'launchd';
export type AgentScope = 'user' | 'system';

export interface AgentInstallOptions {
  root: string;
  config: TendConfig;
  platform?: NodeJS.Platform;
  /** Default: systemd.scope (Linux) or launchd.scope (macOS) of tend.yaml. */
  scope?: AgentScope;
  /** Start it now (default true); false only enables it (it starts at boot or login). */
  start?: boolean;
  nodePath?: string;
  cliPath?: string;
  /** Where PATH and tend's overrides are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface AgentInstallResult {
  kind: AgentKind;
  /** Unit name or launchd label. */
  name: string;
  file: string;
  started: boolean;
  /** Things the operator should know (linger off, another agent holds the root, not started). */
  notes: string[];
}

export interface AgentUninstallResult {
  kind: AgentKind;
  name: string;
  file: string;
  /** False when there was nothing to remove. */
  removed: boolean;
  notes: string[];
}

/** What the service runs, resolved; the input of both renderers. */
export interface AgentLaunch {
  kind: AgentKind;
  app: string;
  root: string;
  scope: AgentScope;
  argv: string[];
  env: Record<string, string>;
  /** Where output is appended; undefined: the journal (systemd.output: journal). */
  logFile: string | undefined;
  /** The agent's own shutdown bound plus 10 s, before SIGKILL. */
  stopTimeoutSec: number;
  /** The agent lock (to tell whether another agent holds the root). */
  lockFile: string;
}

export interface AgentTarget {
  launch: AgentLaunch;
  name: string;
  file: string;
  /** The unit or plist text. */
  text: string;
}

export function kindOf(platform: NodeJS.Platform): AgentKind {
  if (platform === 'linux') return 'systemd';
  if (platform === 'darwin') return 'launchd';
  throw new Error(`tend agent install supports Linux (systemd) and macOS (launchd), not ${platform}`);
}

export const agentUnitName = (app: string): string => `tend-agent-${app}.service`;
export const agentLabel = (config: Pick<TendConfig, 'app' | 'launchd'>): string => `${config.launchd.labelPrefix}.agent.${config.app}`;

export function agentLaunch(o: AgentInstallOptions): AgentLaunch {
  const kind = kindOf(o.platform ?? process.platform);
  const env = o.env ?? process.env;
  const root = resolve(o.root);
  const scope = o.scope ?? (kind === 'systemd' ? o.config.systemd.scope : o.config.launchd.scope);
  const paths = rootPaths(root, o.config, env, process.cwd());
  const carried: Record<string, string> = {};
  for (const k of CARRIED) if (env[k]) carried[k] = env[k]!;
  for (const [k, which] of Object.entries(PATH_OVERRIDES)) if (env[k]) carried[k] = paths[which];
  const files = kind === 'launchd' || o.config.systemd.output === 'files';
  return {
    kind, app: o.config.app, root, scope,
    argv: [o.nodePath ?? process.execPath, resolve(o.cliPath ?? DEFAULT_CLI), '-C', root, 'agent'],
    env: Object.fromEntries(Object.entries(carried).sort(([a], [b]) => (a < b ? -1 : 1))),
    logFile: files ? join(paths.instances, AGENT_LOG) : undefined,
    stopTimeoutSec: Math.ceil(parseDuration(o.config.agent.shutdownTimeout) / 1000) + 10,
    lockFile: agentLockPath(paths),
  };
}

/** A value systemd reads literally (paths, marks): no control characters, `%` doubled. */
function plain(value: string, what: string): string {
  if ([...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw new Error(`${what} contains a control character; a systemd unit cannot hold it`);
  return value.replaceAll('%', '%%');
}

export function renderAgentUnit(l: AgentLaunch, template = readFileSync(AGENT_TEMPLATE, 'utf8')): string {
  const system = l.scope === 'system';
  const log = l.logFile === undefined ? '' : `append:${plain(l.logFile, 'the agent log path')}`;
  return fillTemplate(template, {
    app: plain(l.app, 'app'),
    root: plain(l.root, 'the root'),
    description: plain(`tend agent for ${l.app} (${l.root})`, 'the root'),
    after: system ? 'network-online.target' : '',
    wants: system ? 'network-online.target' : '',
    execStart: l.argv.map((a) => quote(a, 'a program argument', true)).join(' '),
    workingDirectory: plain(l.root, 'the root'),
    environment: Object.entries(l.env).map(([k, v]) => quote(`${k}=${v}`, `env ${k}`)),
    stopTimeout: `${l.stopTimeoutSec}s`,
    standardOutput: log,
    standardError: log,
    wantedBy: wantedByOf(l.scope),
  });
}

export function renderAgentPlist(l: AgentLaunch, label: string): string {
  const log = l.logFile ?? '/dev/null';
  return renderPlist({
    Label: label,
    ProgramArguments: l.argv,
    WorkingDirectory: l.root,
    EnvironmentVariables: l.env,
    // Loaded at boot (LaunchDaemons) or login (LaunchAgents) and started then; restarted whenever it ends.
    RunAtLoad: true,
    KeepAlive: true,
    ThrottleInterval: 2,
    ExitTimeOut: l.stopTimeoutSec,
    StandardOutPath: log,
    StandardErrorPath: log,
    [MARK.app]: l.app,
    [AGENT_MARK]: l.root,
  });
}

/** The unit or plist `install` would write, and where (pure but for reading the template). */
export function agentTarget(o: AgentInstallOptions): AgentTarget {
  const launch = agentLaunch(o);
  const env = o.env ?? process.env;
  if (launch.kind === 'systemd') {
    const name = agentUnitName(launch.app);
    return { launch, name, file: join(unitDirOf(launch.scope, env), name), text: renderAgentUnit(launch) };
  }
  const name = agentLabel(o.config);
  const dir = plistDirOf({ launchd: { ...o.config.launchd, scope: launch.scope } }, {}, env);
  return { launch, name, file: plistFileOf(dir, name), text: renderAgentPlist(launch, name) };
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The app and root marks of an existing unit or plist ('' when missing or unreadable). */
function marksOf(kind: AgentKind, text: string): { app: string; root: string } {
  if (kind === 'systemd') {
    const m = /^X-Tend-Agent=(.*)$/m.exec(text);
    return { app: readMarks(text).app, root: m ? m[1]!.trim().replaceAll('%%', '%') : '' };
  }
  try {
    const d = parsePlist(text);
    const str = (k: string) => (isDict(d) && typeof d[k] === 'string' ? d[k] : '');
    return { app: str(MARK.app), root: str(AGENT_MARK) };
  } catch {
    // not a plist tend can read: it carries no tend marks
    return { app: '', root: '' };
  }
}

/** Throws unless the file is tend's agent of this app and this root. */
function checkOwned(t: AgentTarget, text: string): void {
  const m = marksOf(t.launch.kind, text);
  const keys = t.launch.kind === 'systemd' ? ['X-Tend-App', 'X-Tend-Agent'] : [MARK.app, AGENT_MARK];
  if (m.app !== t.launch.app || m.root === '') {
    throw new Error(`${t.file} exists and is not tend's agent of ${t.launch.app} (no ${keys[0]}=${t.launch.app} and ${keys[1]} marks); not touching it`);
  }
  if (m.root !== t.launch.root) {
    throw new Error(`${t.file} runs the tend agent of another root (${m.root}); run \`tend -C ${m.root} agent uninstall\` first`);
  }
}

function write(file: string, text: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, text, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const hint = code === 'EACCES' || code === 'EPERM' ? ' (system scope needs root: sudo, or --scope user)' : '';
    throw new Error(`cannot write ${file}: ${code}${hint}`);
  }
}

/** A note when another agent (not `servicePid`) holds the root: the service cannot start until it stops. */
function lockNote(l: AgentLaunch, servicePid: number | undefined): string[] {
  const owner = liveLockOwner(l.lockFile);
  if (!owner || owner.pid === servicePid) return [];
  return [`another tend agent (pid ${owner.pid}) holds this root (${l.lockFile}); the service keeps failing until that one stops`];
}

function runOf(l: AgentLaunch): SystemctlRun {
  return { scope: l.scope, timeoutMs: (l.stopTimeoutSec + 30) * 1000 };
}

async function mainPid(t: AgentTarget): Promise<number | undefined> {
  const r = await systemctl(['show', '--property=MainPID', '--value', '--', t.name], runOf(t.launch));
  const pid = Number(r.stdout.trim());
  return r.exitCode === 0 && pid > 0 ? pid : undefined;
}

async function installSystemd(t: AgentTarget, start: boolean, config: TendConfig): Promise<AgentInstallResult> {
  const run = runOf(t.launch);
  const existing = readText(t.file);
  if (existing !== undefined) checkOwned(t, existing);
  if (t.launch.logFile) mkdirSync(dirname(t.launch.logFile), { recursive: true });
  const notes = lockNote(t.launch, await mainPid(t));
  const linger = lingerWarning({ ...config, systemd: { ...config.systemd, scope: t.launch.scope } });
  if (linger) notes.push(linger);
  const changed = existing !== t.text;
  if (changed) {
    write(t.file, t.text);
    await systemctlOrThrow(['daemon-reload'], run);
  }
  if (!start) {
    await systemctlOrThrow(['enable', '--', t.name], run);
    return { kind: 'systemd', name: t.name, file: t.file, started: false, notes };
  }
  // A unit that gave up (start limit) starts again; a changed unit that runs is restarted to run the new text.
  await systemctl(['reset-failed', '--', t.name], run);
  if (changed) {
    await systemctlOrThrow(['enable', '--', t.name], run);
    await systemctlOrThrow(['restart', '--', t.name], run);
  } else {
    await systemctlOrThrow(['enable', '--now', '--', t.name], run);
  }
  return { kind: 'systemd', name: t.name, file: t.file, started: true, notes };
}

async function uninstallSystemd(t: AgentTarget): Promise<AgentUninstallResult> {
  const run = runOf(t.launch);
  const existing = readText(t.file);
  if (existing === undefined) return { kind: 'systemd', name: t.name, file: t.file, removed: false, notes: [`not installed: ${t.file} does not exist`] };
  checkOwned(t, existing);
  const r = await systemctl(['stop', '--', t.name], run);
  if (r.exitCode !== 0 && !/not loaded|does not exist|not found/i.test(r.stderr)) {
    throw new Error(`systemctl stop ${t.name} failed: ${r.stderr.trim().split('\n')[0] || `exit code ${r.exitCode}`}`);
  }
  await systemctlOrThrow(['disable', '--no-reload', '--', t.name], run);
  rmSync(t.file, { force: true });
  await systemctlOrThrow(['daemon-reload'], run);
  await systemctl(['reset-failed', '--', t.name], run);
  return { kind: 'systemd', name: t.name, file: t.file, removed: true, notes: [] };
}

function controlOf(t: AgentTarget, config: TendConfig): Control {
  return {
    domain: domainOf({ launchd: { ...config.launchd, scope: t.launch.scope } }, {}),
    run: {}, exitTimeoutSec: t.launch.stopTimeoutSec, legacy: { on: false },
  };
}

async function installLaunchd(t: AgentTarget, start: boolean, config: TendConfig): Promise<AgentInstallResult> {
  const c = controlOf(t, config);
  const existing = readText(t.file);
  if (existing !== undefined) checkOwned(t, existing);
  const status = await jobStatus(c, t.name);
  if (status.loaded && existing === undefined) throw new Error(`launchd job ${t.name} is loaded in ${c.domain} but ${t.file} does not exist; not touching it`);
  if (status.loaded && status.path !== undefined && status.path !== t.file) throw new Error(`launchd job ${t.name} is loaded from ${status.path}, not ${t.file}; not touching it`);
  if (t.launch.logFile) mkdirSync(dirname(t.launch.logFile), { recursive: true });
  const notes = lockNote(t.launch, status.pid);
  const changed = existing !== t.text;
  if (changed) write(t.file, t.text);
  await setEnabled(c, t.name, true);
  if (!start) {
    notes.push(`not started: it starts at the next ${t.launch.scope === 'system' ? 'boot' : 'login'}, or now with: launchctl bootstrap ${c.domain} ${t.file}`);
    return { kind: 'launchd', name: t.name, file: t.file, started: false, notes };
  }
  // launchd reads a plist only when it loads it: a changed one is booted out and loaded again.
  if (status.loaded && changed) await bootout(c, t.name, t.file, false);
  if (!status.loaded || changed) await bootstrap(c, t.name, t.file);
  else if (!status.running) await kickstart(c, t.name);
  return { kind: 'launchd', name: t.name, file: t.file, started: true, notes };
}

async function uninstallLaunchd(t: AgentTarget, config: TendConfig): Promise<AgentUninstallResult> {
  const c = controlOf(t, config);
  const existing = readText(t.file);
  if (existing === undefined) return { kind: 'launchd', name: t.name, file: t.file, removed: false, notes: [`not installed: ${t.file} does not exist`] };
  checkOwned(t, existing);
  await bootout(c, t.name, t.file, false);
  rmSync(t.file, { force: true });
  return { kind: 'launchd', name: t.name, file: t.file, removed: true, notes: [] };
}

/** Writes the unit (plist), enables it and (unless start: false) starts it; a second run changes nothing. */
export async function installAgent(o: AgentInstallOptions): Promise<AgentInstallResult> {
  const t = agentTarget(o);
  const cli = t.launch.argv[1]!;
  if (!existsSync(cli)) throw new Error(`${cli} does not exist: build tend first (npm run build)`);
  const start = o.start ?? true;
  return t.launch.kind === 'systemd' ? installSystemd(t, start, o.config) : installLaunchd(t, start, o.config);
}

/** Stops and disables the agent's service and removes its file; nothing installed is fine. */
export async function uninstallAgent(o: AgentInstallOptions): Promise<AgentUninstallResult> {
  const t = agentTarget(o);
  return t.launch.kind === 'systemd' ? uninstallSystemd(t) : uninstallLaunchd(t, o.config);
}
