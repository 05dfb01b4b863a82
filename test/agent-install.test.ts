// `tend agent install|uninstall`: the unit on the real systemd user manager (the agent it runs answers /healthz),
// the plist through plistutil and the launchctl stand-in, and the CLI as a real process. Every unit and job
// is named after this file's unique app (tend-agent-tendag<pid><hex>*) and removed afterwards, even on failure.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_LOG, agentLabel, agentLaunch, agentTarget, agentUnitName, installAgent, kindOf, renderAgentPlist, renderAgentUnit,
  uninstallAgent, type AgentInstallOptions,
} from '../src/agent/install.js';
import { agentLockPath } from '../src/agent/agent-lock.js';
import { lingerWarning } from '../src/drivers/systemd/observe.js';
import { unitDirOf } from '../src/drivers/systemd/unit.js';
import { parsePlist, type PlistValue } from '../src/drivers/launchd/plist.js';
import type { TendConfig } from '../src/model/types.js';
import { tryAcquireLock } from '../src/fs/lock.js';
import { loadConfig } from '../src/spec/config.js';
import { backendGate, removeUserUnits, systemdUserEnv, userctl } from './helpers/backends.js';
import { buildOnce, CLI, REPO } from './helpers/cli.js';
import { useLaunchctlStandin } from './helpers/launchctl-standin.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet, waitForHttp } from './fixtures/app.js';

const systemd = await backendGate('systemd');
const plistutil = await backendGate('plistutil');
const scratch = useScratch();
const APP = `tendag${process.pid}${randomBytes(3).toString('hex')}`;
const UNIT_DIR = unitDirOf('user');

/**
 * The built tend CLI as a real process: dist's buildProgram(), with registerAgentInstall called on its `agent`
 * command only while src/cli/agent.ts does not call it yet (then this is the plain `tend` binary).
 */
const CLI_SCRIPT = `
import { buildProgram } from './dist/cli/program.js';
import { registerAgentInstall } from './dist/cli/agent-install.js';
const program = await buildProgram();
const agent = program.commands.find((c) => c.name() === 'agent');
if (!agent) throw new Error('tend has no agent command');
if (!agent.commands.some((c) => c.name() === 'install')) registerAgentInstall(agent);
await program.parseAsync(['node', 'tend', ...process.argv.slice(1)]);
`;

async function tend(args: string[]) {
  const r = await execa('node', ['--input-type=module', '-e', CLI_SCRIPT, '--', ...args], { reject: false, cwd: REPO, stripFinalNewline: false });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const sysctl = userctl;

/** Stops, disables and removes every agent unit of this file (by its unique app prefix), even after a failure. */
afterAll(async () => {
  await removeUserUnits(UNIT_DIR, `tend-agent-${APP}`);
});

/** A deployment root with tend.yaml (loaded for real) and an empty desired/. */
function makeRoot(app: string, port: number, extra = ''): { root: string; config: TendConfig } {
  const root = scratch('agent-root');
  mkdirSync(join(root, 'desired'));
  writeFileSync(join(root, 'tend.yaml'), [
    'apiVersion: tend/v1', `app: ${app}`, 'systemd: {scope: user}',
    `agent: {listen: "127.0.0.1:${port}", shutdownTimeout: 5s}`, extra, '',
  ].join('\n'));
  const loaded = loadConfig({ cwd: root, env: {} });
  if (!loaded.config) throw new Error(`tend.yaml did not load: ${JSON.stringify(loaded.diagnostics)}`);
  return { root: loaded.root, config: loaded.config };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('agent unit and plist rendering (pure)', () => {
  const base = (over: Partial<AgentInstallOptions> = {}): AgentInstallOptions => ({
    root: '/srv/ops', config: makeRoot('demo', 9464).config, platform: 'linux', nodePath: '/usr/bin/node', cliPath: '/opt/tend/dist/cli/main.js',
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', SECRET_TOKEN: 'hunter2-value' }, ...over,
  });

  it('renders the user unit: ExecStart, Restart=always, stop bound = shutdownTimeout + 10 s, output file, PATH, marks', () => {
    const t = agentTarget(base());
    expect(t.name).toBe('tend-agent-demo.service');
    expect(t.file).toBe(join(unitDirOf('user', {}), 'tend-agent-demo.service'));
    expect(t.text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([
      '[Unit]',
      'Description=tend agent for demo (/srv/ops)',
      'X-Tend-App=demo',
      'X-Tend-Agent=/srv/ops',
      '[Service]',
      'Type=simple',
      'ExecStart="/usr/bin/node" "/opt/tend/dist/cli/main.js" "-C" "/srv/ops" "agent"',
      'WorkingDirectory=/srv/ops',
      'Environment="PATH=/usr/local/bin:/usr/bin:/bin"',
      'Restart=always',
      'RestartSec=2s',
      'KillSignal=SIGTERM',
      'KillMode=process',
      'TimeoutStopSec=15s',
      'StandardOutput=append:/srv/ops/instances/.agent.log',
      'StandardError=append:/srv/ops/instances/.agent.log',
      '[Install]',
      'WantedBy=default.target',
    ]);
    expect(t.text).not.toContain('hunter2'); // only PATH and tend's own overrides are carried
    expect(t.text).not.toMatch(/X-Tend-Instance/); // never taken for an instance unit
  });

  it('system scope waits for the network and is wanted by multi-user.target; journal output leaves the output lines out', () => {
    const c = makeRoot('demo', 9464, '').config;
    const t = agentTarget(base({ scope: 'system', config: { ...c, systemd: { ...c.systemd, output: 'journal' } } }));
    expect(t.file).toBe(join(unitDirOf('system', {}), 'tend-agent-demo.service'));
    expect(t.text).toMatch(/^After=network-online.target$/m);
    expect(t.text).toMatch(/^Wants=network-online.target$/m);
    expect(t.text).toMatch(/^WantedBy=multi-user.target$/m);
    expect(t.text).not.toMatch(/^Standard(Output|Error)=/m);
  });

  it('escapes a root with spaces, %, $ and quotes; carries path overrides as absolute folders', () => {
    const root = '/srv/my ops/100%$x"q';
    const l = agentLaunch(base({ root, env: { PATH: '/bin', TEND_INSTANCES_DIR: '/var/lib/inst', DOCKER_HOST: 'unix:///d.sock' } }));
    expect(l.logFile).toBe('/var/lib/inst/.agent.log');
    expect(l.env).toEqual({ DOCKER_HOST: 'unix:///d.sock', PATH: '/bin', TEND_INSTANCES_DIR: '/var/lib/inst' });
    const text = renderAgentUnit(l);
    expect(text).toContain('ExecStart="/usr/bin/node" "/opt/tend/dist/cli/main.js" "-C" "/srv/my ops/100%%$$x\\"q" "agent"');
    expect(text).toContain('WorkingDirectory=/srv/my ops/100%%$x"q');
    expect(text).toContain('X-Tend-Agent=/srv/my ops/100%%$x"q');
    expect(() => agentTarget(base({ root: '/srv/a\nb' }))).toThrow(/control character/);
  });

  it('picks systemd on Linux, launchd on macOS, and refuses other platforms', () => {
    expect(kindOf('linux')).toBe('systemd');
    expect(kindOf('darwin')).toBe('launchd');
    expect(() => kindOf('win32')).toThrow(/supports Linux \(systemd\) and macOS \(launchd\), not win32/);
  });
});

describe.skipIf(plistutil.skip)('agent plist (plistutil)', () => {
  it('renders a plist plistutil reads (binary and back) with the agent keys and marks', async () => {
    plistutil.check();
    const { config } = makeRoot('demo', 9464);
    const l = agentLaunch({ root: '/Users/me/ops & co', config, platform: 'darwin', nodePath: '/usr/local/bin/node', cliPath: '/opt/tend/cli.js', env: { PATH: '/usr/bin:/bin' } });
    const dir = scratch('plist');
    const file = join(dir, 'agent.plist');
    writeFileSync(file, renderAgentPlist(l, agentLabel(config)));
    await execa('plistutil', ['-i', file, '-o', join(dir, 'p.bin'), '-f', 'bin']);
    expect(readFileSync(join(dir, 'p.bin')).subarray(0, 8).toString('latin1')).toBe('bplist00');
    await execa('plistutil', ['-i', join(dir, 'p.bin'), '-o', join(dir, 'p.xml'), '-f', 'xml']);
    const back = parsePlist(readFileSync(join(dir, 'p.xml'), 'utf8'));
    expect(back).toEqual(parsePlist(readFileSync(file, 'utf8')));
    expect(back).toEqual({
      Label: 'dev.tend.agent.demo',
      ProgramArguments: ['/usr/local/bin/node', '/opt/tend/cli.js', '-C', '/Users/me/ops & co', 'agent'],
      WorkingDirectory: '/Users/me/ops & co',
      EnvironmentVariables: { PATH: '/usr/bin:/bin' },
      RunAtLoad: true,
      KeepAlive: true,
      ThrottleInterval: 2,
      ExitTimeOut: 15,
      StandardOutPath: `/Users/me/ops & co/instances/${AGENT_LOG}`,
      StandardErrorPath: `/Users/me/ops & co/instances/${AGENT_LOG}`,
      TendApp: 'demo',
      TendAgent: '/Users/me/ops & co',
    } satisfies Record<string, PlistValue>);
  });
});

describe('agent install on launchd (launchctl stand-in)', () => {
  const lc = useLaunchctlStandin(scratch, { uid: 0 });
  const plistDir = scratch('launchagents');
  let root: string;
  let config: TendConfig;
  let port: number;
  const opts = (over: Partial<AgentInstallOptions> = {}): AgentInstallOptions => ({
    root, config, platform: 'darwin', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TEND_LAUNCHD_DIR: plistDir }, ...over,
  });
  const label = () => `dev.tend.agent.${APP}`;

  beforeAll(async () => {
    await buildOnce();
    port = await freePort();
    ({ root, config } = makeRoot(APP, port));
  });

  it('launchctl stand-in: install writes the plist, enables and bootstraps it; the agent it runs answers /healthz', async () => {
    const from = lc.calls().length;
    const r = await lc.onPath(() => installAgent(opts()));
    const file = join(plistDir, `${label()}.plist`);
    expect(r).toEqual({ kind: 'launchd', name: label(), file, started: true, notes: [] });
    expect(lc.callsSince(from)).toEqual([['print', `gui/0/${label()}`], ['enable', `gui/0/${label()}`], ['bootstrap', 'gui/0', file]]);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    const pid = lc.pidOf('gui/0', label());
    expect(pid).toBeGreaterThan(0);
    const health = await waitForHttp(`http://127.0.0.1:${port}/healthz`, 20_000, () => lc.pidOf('gui/0', label()) !== undefined);
    expect(health.status).toBe(200);
    expect(readFileSync(join(root, 'instances', AGENT_LOG), 'utf8')).not.toBe('');
  });

  it('launchctl stand-in: installing again with nothing changed only checks and enables', async () => {
    const pid = lc.pidOf('gui/0', label());
    const from = lc.calls().length;
    const r = await lc.onPath(() => installAgent(opts()));
    expect(r.started).toBe(true);
    expect(lc.callsSince(from)).toEqual([['print', `gui/0/${label()}`], ['enable', `gui/0/${label()}`]]);
    expect(lc.pidOf('gui/0', label())).toBe(pid);
  });

  it('launchctl stand-in: a changed plist (tend.yaml edited) is booted out and loaded again: a new agent process', async () => {
    const pid = lc.pidOf('gui/0', label())!;
    const changed = { ...config, agent: { ...config.agent, shutdownTimeout: '7s' } };
    const from = lc.calls().length;
    const r = await lc.onPath(() => installAgent(opts({ config: changed })));
    expect(lc.callsSince(from)).toEqual([
      ['print', `gui/0/${label()}`], ['enable', `gui/0/${label()}`], ['bootout', `gui/0/${label()}`], ['bootstrap', 'gui/0', r.file],
    ]);
    expect(parsePlist(readFileSync(r.file, 'utf8'))).toMatchObject({ ExitTimeOut: 17 });
    expect(pidAlive(pid)).toBe(false);
    const now = lc.pidOf('gui/0', label());
    expect(now).toBeGreaterThan(0);
    expect(now).not.toBe(pid);
    expect((await waitForHttp(`http://127.0.0.1:${port}/healthz`, 20_000, () => lc.pidOf('gui/0', label()) !== undefined)).status).toBe(200);
  });

  it('launchctl stand-in: uninstall boots the job out and removes the plist; again is a no-op', async () => {
    const pid = lc.pidOf('gui/0', label())!;
    const from = lc.calls().length;
    const r = await lc.onPath(() => uninstallAgent(opts()));
    expect(r).toEqual({ kind: 'launchd', name: label(), file: join(plistDir, `${label()}.plist`), removed: true, notes: [] });
    expect(lc.callsSince(from)).toEqual([['bootout', `gui/0/${label()}`]]);
    expect(existsSync(r.file)).toBe(false);
    await until('the agent to exit', () => (pidAlive(pid) ? undefined : true));
    await expect(httpGet(`http://127.0.0.1:${port}/healthz`, 1000)).rejects.toThrow();
    const again = await lc.onPath(() => uninstallAgent(opts()));
    expect(again.removed).toBe(false);
    expect(lc.callsSince(from)).toHaveLength(1);
  });

  it('launchctl stand-in: start: false writes and enables without loading, and says how to start it', async () => {
    const from = lc.calls().length;
    const r = await lc.onPath(() => installAgent(opts({ start: false })));
    expect(r.started).toBe(false);
    expect(r.notes).toEqual([`not started: it starts at the next login, or now with: launchctl bootstrap gui/0 ${r.file}`]);
    expect(lc.callsSince(from)).toEqual([['print', `gui/0/${label()}`], ['enable', `gui/0/${label()}`]]);
    expect(lc.pidOf('gui/0', label())).toBeUndefined();
    await lc.onPath(() => uninstallAgent(opts()));
    expect(existsSync(r.file)).toBe(false);
  });

  it('launchctl stand-in: a launchctl older than OS X 10.10 gets load -w and unload instead', async () => {
    lc.legacy(true);
    try {
      const file = join(plistDir, `${label()}.plist`);
      let from = lc.calls().length;
      const r = await lc.onPath(() => installAgent(opts()));
      expect(r.started).toBe(true);
      expect(lc.callsSince(from)).toEqual([['print', `gui/0/${label()}`], ['list'], ['load', '-w', file]]);
      const pid = await until('the agent to run', () => lc.pidOf('system', label()));
      from = lc.calls().length;
      await lc.onPath(() => uninstallAgent(opts()));
      expect(lc.callsSince(from)).toEqual([['bootout', `gui/0/${label()}`], ['unload', file]]);
      await until('the agent to exit', () => (pidAlive(pid) ? undefined : true));
      expect(existsSync(file)).toBe(false);
    } finally {
      lc.legacy(false);
    }
  });

  it('launchctl stand-in: refuses a plist tend did not write, calling launchctl not at all', async () => {
    const file = join(plistDir, `${label()}.plist`);
    const foreign = '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict>\n\t<key>Label</key>\n\t<string>hand-made</string>\n</dict>\n</plist>\n';
    writeFileSync(file, foreign);
    const from = lc.calls().length;
    await expect(lc.onPath(() => installAgent(opts()))).rejects.toThrow(/is not tend's agent of .*not touching it/);
    await expect(lc.onPath(() => uninstallAgent(opts()))).rejects.toThrow(/not touching it/);
    expect(readFileSync(file, 'utf8')).toBe(foreign);
    expect(lc.callsSince(from)).toEqual([]);
    rmSync(file);
  });
});

describe.skipIf(systemd.skip)('agent install on the real systemd user manager', () => {
  let root: string;
  let config: TendConfig;
  let port: number;
  const unit = agentUnitName(APP);
  const file = join(UNIT_DIR, unit);
  const show = async (prop: string) => (await sysctl(['show', `--property=${prop}`, '--value', '--', unit])).stdout.trim();

  beforeAll(async () => {
    systemd.check();
    await buildOnce();
    port = await freePort();
    ({ root, config } = makeRoot(APP, port));
  });

  it('install writes a unit systemd-analyze accepts, enables and starts it; the agent answers /healthz and logs to instances/.agent.log', async () => {
    const r = await installAgent({ root, config });
    const linger = lingerWarning(config);
    expect(r).toEqual({ kind: 'systemd', name: unit, file, started: true, notes: linger ? [linger] : [] });
    const v = await execa('systemd-analyze', ['--user', 'verify', file], { reject: false, env: systemdUserEnv() });
    expect({ exitCode: v.exitCode, stderr: v.stderr }).toEqual({ exitCode: 0, stderr: '' });
    expect(readFileSync(file, 'utf8')).toContain(`ExecStart="${process.execPath}" "${CLI}" "-C" "${root}" "agent"`);
    expect((await sysctl(['is-enabled', '--', unit])).stdout.trim()).toBe('enabled');
    const health = await waitForHttp(`http://127.0.0.1:${port}/healthz`, 20_000);
    expect(health.status).toBe(200);
    expect(await show('ActiveState')).toBe('active');
    const pid = Number(await show('MainPID'));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual([process.execPath, CLI, '-C', root, 'agent', '']);
    await until('agent output in .agent.log', () => (readFileSync(join(root, 'instances', AGENT_LOG), 'utf8') !== '' ? true : undefined));
  });

  it('installing again with nothing changed keeps the running agent (same MainPID)', async () => {
    const pid = await show('MainPID');
    const r = await installAgent({ root, config });
    expect(r.started).toBe(true);
    expect(await show('MainPID')).toBe(pid);
    expect(await show('NRestarts')).toBe('0');
  });

  it('a changed unit (tend.yaml edited) is rewritten and the running agent restarted with it', async () => {
    const pid = await show('MainPID');
    const changed = { ...config, agent: { ...config.agent, shutdownTimeout: '7s' } };
    const r = await installAgent({ root, config: changed });
    expect(r.started).toBe(true);
    expect(readFileSync(file, 'utf8')).toMatch(/^TimeoutStopSec=17s$/m);
    expect(await show('TimeoutStopUSec')).toBe('17s');
    expect(await show('NeedDaemonReload')).toBe('no');
    expect(await show('MainPID')).not.toBe(pid);
    expect((await waitForHttp(`http://127.0.0.1:${port}/healthz`, 20_000)).status).toBe(200);
    await installAgent({ root, config }); // back to the file's own tend.yaml
    expect(readFileSync(file, 'utf8')).toMatch(/^TimeoutStopSec=15s$/m);
    expect((await waitForHttp(`http://127.0.0.1:${port}/healthz`, 20_000)).status).toBe(200);
  });

  it('tend agent install --print prints the unit and changes nothing', async () => {
    const before = statSync(file).mtimeMs;
    const r = await tend(['-C', root, 'agent', 'install', '--print']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toBe(readFileSync(file, 'utf8'));
    const sys = await tend(['agent', 'install', '--scope', 'system', '--print', '-C', root]);
    expect(sys.code).toBe(0);
    expect(sys.stdout).toMatch(/^WantedBy=multi-user.target$/m);
    expect(statSync(file).mtimeMs).toBe(before);
    const bad = await tend(['-C', root, 'agent', 'install', '--scope', 'galaxy']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/galaxy.*Allowed choices are user, system/);
  });

  it('refuses a unit file tend did not write, and one written for another root', async () => {
    const foreignApp = `${APP}-x`;
    const foreignFile = join(UNIT_DIR, agentUnitName(foreignApp));
    const foreign = '[Service]\nExecStart=/bin/true\n';
    writeFileSync(foreignFile, foreign);
    const other = makeRoot(foreignApp, port);
    await expect(installAgent(other)).rejects.toThrow(/is not tend's agent of .*not touching it/);
    await expect(uninstallAgent(other)).rejects.toThrow(/not touching it/);
    expect(readFileSync(foreignFile, 'utf8')).toBe(foreign);
    rmSync(foreignFile);
    // The same app in a second root: the running agent's unit belongs to the first root.
    const second = makeRoot(APP, port);
    await expect(installAgent(second)).rejects.toThrow(new RegExp(`runs the tend agent of another root \\(${root}\\)`));
    await expect(uninstallAgent(second)).rejects.toThrow(/another root/);
    expect(await show('ActiveState')).toBe('active');
  });

  it('tend agent uninstall stops, disables and removes the unit; the agent is gone; again is a no-op', async () => {
    const pid = Number(await show('MainPID'));
    expect(pidAlive(pid)).toBe(true);
    const r = await tend(['-C', root, 'agent', 'uninstall']);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: `${unit}: stopped, disabled, removed ${file}\n`, stderr: '' });
    expect(existsSync(file)).toBe(false);
    expect(await show('LoadState')).toBe('not-found');
    expect(pidAlive(pid)).toBe(false);
    await expect(httpGet(`http://127.0.0.1:${port}/healthz`, 1000)).rejects.toThrow();
    const again = await tend(['-C', root, 'agent', 'uninstall']);
    expect({ code: again.code, stdout: again.stdout }).toEqual({ code: 0, stdout: `${unit}: nothing to remove (${file} does not exist)\n` });
  });

  it('tend agent install --no-start enables without starting, says how to look at it, and notes an agent already holding the root', async () => {
    const paths = { instances: join(root, 'instances') };
    const lock = tryAcquireLock(agentLockPath(paths), { purpose: 'tend agent' });
    if (!lock) throw new Error('could not take the agent lock for the test');
    try {
      const r = await tend(['-C', root, 'agent', 'install', '--no-start']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe([
        `wrote ${file} (systemd user unit)`,
        `${unit}: enabled, not started (--no-start)`,
        'see it:',
        `  systemctl --user status tend-agent-${APP}`,
        `  tail -f ${join(root, 'instances', AGENT_LOG)}`,
        '',
      ].join('\n'));
      expect(r.stderr).toContain(`note: another tend agent (pid ${process.pid}) holds this root`);
      expect((await sysctl(['is-enabled', '--', unit])).stdout.trim()).toBe('enabled');
      expect(await show('ActiveState')).toBe('inactive');
    } finally {
      lock.release();
      await uninstallAgent({ root, config });
    }
    expect(existsSync(file)).toBe(false);
  });
});
