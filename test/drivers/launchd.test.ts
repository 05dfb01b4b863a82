// The launchd driver without macOS: launchctl is a recording stand-in on PATH (a tiny launchd that runs the
// fixture app), the expected launchctl argv is written out by hand, and every plist passes plistutil.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceSpec, ObservedItem, TendConfig } from '../../src/model/types.js';
import type { RuntimeAction, RuntimeActionType } from '../../src/model/plan.js';
import { createLaunchdDriver } from '../../src/drivers/launchd/index.js';
import { parsePlist, renderPlist, type PlistValue } from '../../src/drivers/launchd/plist.js';
import { parsePrint } from '../../src/drivers/launchd/listing.js';
import { drivers } from '../../src/drivers/registry.js';
import type { ApplyContext, DriverPaths } from '../../src/drivers/types.js';
import { specHash } from '../../src/shared/hash.js';
import { backendGate } from '../helpers/backends.js';
import { useLaunchctlStandin } from '../helpers/launchctl-standin.js';
import { config, spec as makeSpec } from '../helpers/planner-fixtures.js';
import { useScratch } from '../helpers/scratch.js';
import { cloneTag, freePort, httpGet, makeFixtureRepo, runBuild, waitForHttp } from '../fixtures/app.js';
import { listSample, NOT_FOUND_STDERR, printExitedSample, printRunningSample } from '../fixtures/launchctl-samples.js';

const gate = await backendGate('plistutil');
const scratch = useScratch();

/** plistutil reads the file, converts it to a binary plist and back: both XML forms hold the same values. */
async function expectPlistutilReads(file: string): Promise<PlistValue> {
  const dir = scratch('plistutil');
  const bin = join(dir, 'p.bin');
  const xml = join(dir, 'p.xml');
  await execa('plistutil', ['-i', file, '-o', bin, '-f', 'bin']);
  expect(readFileSync(bin).subarray(0, 8).toString('latin1')).toBe('bplist00');
  await execa('plistutil', ['-i', bin, '-o', xml, '-f', 'xml']);
  const ours = parsePlist(readFileSync(file, 'utf8'));
  expect(parsePlist(readFileSync(xml, 'utf8'))).toEqual(ours);
  return ours;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Fixture {
  checkout: string;
  commit: string;
}
let fixtureBuild: Promise<Fixture> | undefined;
/** The fixture app built once for the file (v1.1.0). */
function fixture(): Promise<Fixture> {
  fixtureBuild ??= (async () => {
    const dir = scratch('launchd-fixture');
    const repo = await makeFixtureRepo(join(dir, 'repo'));
    const checkout = await cloneTag(repo.repo, 'v1.1.0', join(dir, 'release'));
    await runBuild(checkout, { FIXTURE_IMAGE: '' });
    return { checkout, commit: repo.tags['v1.1.0'] };
  })();
  return fixtureBuild;
}

function pathsIn(dir: string): DriverPaths {
  return { root: dir, desired: join(dir, 'desired'), releases: join(dir, 'releases'), instances: join(dir, 'instances') };
}

function fixtureConfig(overrides: Parameters<typeof config>[0] = {}): TendConfig {
  const cfg = config(overrides);
  cfg.source.run = { artifact: 'bin/oubliette', args: ['--port', '${port}', '--config', '${configPath}'] };
  return cfg;
}

const TRICKY = `a&b <c> "q" 'apos' ]]> é 日本 🚀 tab\there\r\nline`;

describe.skipIf(gate.skip)('plists tend renders (plistutil)', () => {
  it('round-trips &, <, quotes, CR, unicode and emoji through plistutil (binary and back)', async () => {
    gate.check();
    const file = join(scratch('plist'), 'x.plist');
    const dict = { Label: 'dev.tend.x', Args: ['--greeting', TRICKY], Env: { [TRICKY.slice(0, 5)]: TRICKY }, On: true, Off: false, N: 30, Empty: {}, None: [] };
    writeFileSync(file, renderPlist(dict));
    expect(await expectPlistutilReads(file)).toEqual(dict);
  });

  it('refuses a value XML cannot carry, naming the key and not the value', () => {
    expect(() => renderPlist({ EnvironmentVariables: { TOKEN: 'sec\u0001ret-value' } })).toThrow(/EnvironmentVariables\.TOKEN/);
    expect(() => renderPlist({ EnvironmentVariables: { TOKEN: 'sec\u0001ret-value' } })).not.toThrow(/ret-value/);
  });
});

describe.skipIf(gate.skip)('launchd driver on the launchctl stand-in (a tiny launchd) running the fixture app', () => {
  const lc = useLaunchctlStandin(scratch, { uid: 501 });
  const driver = createLaunchdDriver({ uid: 501, exitTimeoutSec: 5 });
  const label = 'dev.tend.oubliette-web';
  const target = `gui/501/${label}`;
  let cfg: TendConfig;
  let paths: DriverPaths;
  let plistDir: string;
  let plistFile: string;
  let checkout: string;
  let commit: string;
  let spec: InstanceSpec;
  let lookalikePid: number;
  let strayPid: number;

  const url = (path: string, port = spec.port) => `http://127.0.0.1:${port}${path}`;
  const ctx = (s: InstanceSpec = spec): ApplyContext => ({
    config: cfg, paths, spec: s, release: { version: 'v1.1.0', commit, valid: true, dir: checkout },
  });
  const action = (type: RuntimeActionType, s: InstanceSpec = spec): RuntimeAction => ({
    id: `${s.name}/${type}@launchd`, type, instance: s.name, change: 'update', runtime: 'launchd', target: `dev.tend.oubliette-${s.name}`,
    version: 'v1.1.0', specHash: specHash(s, commit, ''), reason: 'test', disruption: 'none', dependsOn: [],
  });
  /** Applies one action and returns the launchctl calls it made. */
  const apply = async (type: RuntimeActionType, s: InstanceSpec = spec): Promise<string[][]> => {
    const from = lc.calls().length;
    await lc.onPath(() => driver.apply(action(type, s), ctx(s)));
    return lc.callsSince(from);
  };
  const observe = async (): Promise<ObservedItem[]> => {
    const obs = await lc.onPath(() => driver.observe({ config: cfg, paths }));
    if (obs.status !== 'ok') throw new Error(`observe: ${obs.reason}`);
    return obs.items;
  };
  const item = async (id = label) => (await observe()).find((i) => i.id === id);
  const pid = () => lc.pidOf('gui/501', label);

  beforeAll(async () => {
    gate.check();
    const dir = scratch('launchd-driver');
    ({ checkout, commit } = await fixture());
    paths = pathsIn(dir);
    cfg = fixtureConfig();
    spec = makeSpec('web', { runtime: 'launchd', port: await freePort(), env: { GREETING: 'hello' } });
    mkdirSync(join(paths.instances, 'web'), { recursive: true });
    writeFileSync(join(paths.instances, 'web', '.env'), 'SECRET_TOKEN=hunter2-value\n', { mode: 0o600 });
    plistDir = join(dir, 'LaunchAgents');
    plistFile = join(plistDir, `${label}.plist`);
    process.env.TEND_LAUNCHD_DIR = plistDir;
  });
  afterAll(() => {
    delete process.env.TEND_LAUNCHD_DIR;
  });

  it('observes only the launchctl stand-in\'s Apple jobs: ok and empty, with one launchctl list', async () => {
    const from = lc.calls().length;
    expect(await observe()).toEqual([]);
    expect(lc.callsSince(from)).toEqual([['list']]);
  });

  it('reports look-alike jobs it did not make as not owned (launchctl stand-in)', async () => {
    // A plist at tend's path without tend's marks, and a job with tend's label prefix loaded from elsewhere.
    mkdirSync(plistDir, { recursive: true });
    const other = join(scratch('other-agents'), 'dev.tend.oubliette-stray.plist');
    for (const [l, f] of [['dev.tend.oubliette-lookalike', join(plistDir, 'dev.tend.oubliette-lookalike.plist')], ['dev.tend.oubliette-stray', other]] as const) {
      writeFileSync(f, renderPlist({ Label: l, ProgramArguments: ['sleep', '300'], RunAtLoad: true }), { mode: 0o644 });
      expect(await lc.launchctl(['bootstrap', 'gui/501', f])).toMatchObject({ exitCode: 0 });
    }
    lookalikePid = lc.pidOf('gui/501', 'dev.tend.oubliette-lookalike')!;
    strayPid = lc.pidOf('gui/501', 'dev.tend.oubliette-stray')!;
    expect(lookalikePid).toBeGreaterThan(0);
    expect(await observe()).toEqual([
      { runtime: 'launchd', id: 'dev.tend.oubliette-lookalike', instance: 'lookalike', owned: false, state: 'running' },
      { runtime: 'launchd', id: 'dev.tend.oubliette-stray', instance: 'stray', owned: false, state: 'running' },
    ]);
  });

  it('write-unit writes a 0600 plist plistutil reads (launchctl stand-in: print, disable); start enables and bootstraps it', async () => {
    expect(await apply('write-unit')).toEqual([['print', target], ['disable', target]]);
    expect(statSync(plistFile).mode & 0o777).toBe(0o600);
    const plist = await expectPlistutilReads(plistFile);
    const instanceDir = join(paths.instances, 'web');
    expect(plist).toMatchObject({
      Label: label,
      ProgramArguments: [join(checkout, 'bin/oubliette'), '--port', String(spec.port), '--config', join(instanceDir, 'config.yaml')],
      WorkingDirectory: instanceDir,
      EnvironmentVariables: { GREETING: 'hello', SECRET_TOKEN: 'hunter2-value', TEND_INSTANCE: 'web', TEND_PORT: String(spec.port) },
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      ThrottleInterval: 10,
      ExitTimeOut: 5,
      StandardOutPath: join(instanceDir, 'logs', 'web.log'),
      StandardErrorPath: join(instanceDir, 'logs', 'web.log'),
      TendApp: 'oubliette', TendInstance: 'web', TendVersion: 'v1.1.0', TendSpecHash: specHash(spec, commit, ''),
    });
    expect(await item()).toMatchObject({ owned: true, state: 'stopped', specHash: specHash(spec, commit, '') });

    expect(await apply('start')).toEqual([['print', target], ['enable', target], ['bootstrap', 'gui/501', plistFile]]);
    const running = await item();
    expect(running).toMatchObject({ id: label, instance: 'web', owned: true, state: 'running', version: 'v1.1.0', specHash: specHash(spec, commit, '') });
    expect(Date.parse(running!.startedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect((await waitForHttp(url('/health'))).status).toBe(200);
    expect((await httpGet(url('/env/GREETING'))).body).toBe('hello');
    expect((await httpGet(url('/env/SECRET_TOKEN'))).body).toBe('hunter2-value');
    expect((await httpGet(url('/env/XPC_SERVICE_NAME'))).body).toBe(label);
    const log = join(instanceDir, 'logs', 'web.log');
    await until('the request in the log', async () => (readFileSync(log, 'utf8').includes('GET /env/GREETING 200') ? true : undefined));
  });

  it('a second write-unit makes no launchctl call and a second start only asks (launchctl stand-in record)', async () => {
    const before = pid();
    expect(await apply('write-unit')).toEqual([]);
    expect(await apply('start')).toEqual([['print', target]]);
    expect(pid()).toBe(before);
    expect(await item()).toMatchObject({ state: 'running', specHash: specHash(spec, commit, '') });
  });

  it('an env change as planned (stop, write-unit, start): the fixture reports the new value (launchctl stand-in)', async () => {
    const before = pid();
    spec = { ...spec, env: { GREETING: TRICKY } };
    expect(await apply('stop')).toEqual([['print', target], ['bootout', target], ['disable', target]]);
    expect(await apply('write-unit')).toEqual([['print', target], ['disable', target]]);
    await expectPlistutilReads(plistFile);
    expect(await apply('start')).toEqual([['print', target], ['enable', target], ['bootstrap', 'gui/501', plistFile]]);
    expect(pid()).not.toBe(before);
    await waitForHttp(url('/health'));
    expect((await httpGet(url('/env/GREETING'))).body).toBe(TRICKY);
    expect(await item()).toMatchObject({ state: 'running', specHash: specHash(spec, commit, '') });
  });

  it('a port change written while loaded boots the old job out first; the new port answers (launchctl stand-in)', async () => {
    const oldPort = spec.port;
    spec = { ...spec, port: await freePort() };
    expect(await apply('write-unit')).toEqual([['print', target], ['bootout', target], ['disable', target]]);
    expect(await apply('start')).toEqual([['print', target], ['enable', target], ['bootstrap', 'gui/501', plistFile]]);
    expect((await waitForHttp(url('/health'))).status).toBe(200);
    await expect(httpGet(url('/health', oldPort), 500)).rejects.toThrow();
  });

  it('a health-only change restamps the plist and leaves the process alone (launchctl stand-in: one print)', async () => {
    const before = pid();
    spec = { ...spec, health: { ...spec.health, timeout: '45s' } };
    expect(await apply('write-unit')).toEqual([['print', target]]);
    await expectPlistutilReads(plistFile);
    expect(pid()).toBe(before);
    expect(await item()).toMatchObject({ state: 'running', specHash: specHash(spec, commit, '') });
  });

  it('restart is bootout + bootstrap (launchd\'s graceful stop), giving a new process (launchctl stand-in)', async () => {
    const before = pid();
    expect(await apply('restart')).toEqual([['print', target], ['bootout', target], ['enable', target], ['bootstrap', 'gui/501', plistFile]]);
    expect(pid()).not.toBe(before);
    expect((await waitForHttp(url('/health'))).status).toBe(200);
  });

  it('a job killed with SIGKILL shows as failed with its signal; start kickstarts it (launchctl stand-in)', async () => {
    process.kill(pid()!, 'SIGKILL');
    const failed = await until('failed', async () => {
      const i = await item();
      return i?.state === 'failed' ? i : undefined;
    });
    expect(failed).toMatchObject({ owned: true, exitSignal: 'SIGKILL' });
    expect(await apply('start')).toEqual([['print', target], ['kickstart', target]]);
    expect((await waitForHttp(url('/health'))).status).toBe(200);
  });

  it('stop boots the job out and disables it (stopped, port closed); a second stop only asks and disables (launchctl stand-in)', async () => {
    expect(await apply('stop')).toEqual([['print', target], ['bootout', target], ['disable', target]]);
    expect(await item()).toMatchObject({ owned: true, state: 'stopped' });
    await expect(httpGet(url('/health'), 500)).rejects.toThrow();
    expect(await apply('stop')).toEqual([['print', target], ['disable', target]]);
    expect(await item()).toMatchObject({ state: 'stopped' });
  });

  it('delete removes the plist (booting the job out when loaded); a second delete only asks (launchctl stand-in)', async () => {
    await apply('start');
    expect(await apply('delete')).toEqual([['print', target], ['bootout', target]]);
    expect(existsSync(plistFile)).toBe(false);
    expect(await item()).toBeUndefined();
    await expect(httpGet(url('/health'), 500)).rejects.toThrow();
    expect(await apply('delete')).toEqual([['print', target]]);
  });

  it('refuses every action on look-alike jobs, which keep running untouched (launchctl stand-in record)', async () => {
    const from = lc.calls().length;
    for (const name of ['lookalike', 'stray']) {
      const other = makeSpec(name, { runtime: 'launchd', port: await freePort() });
      for (const type of ['write-unit', 'start', 'stop', 'restart', 'delete'] as const) {
        await expect(lc.onPath(() => driver.apply(action(type, other), ctx(other)))).rejects.toThrow(/not owned by tend/);
      }
    }
    const mutating = lc.callsSince(from).filter(([cmd]) => cmd !== 'print');
    expect(mutating).toEqual([]);
    expect(lc.pidOf('gui/501', 'dev.tend.oubliette-lookalike')).toBe(lookalikePid);
    expect(lc.pidOf('gui/501', 'dev.tend.oubliette-stray')).toBe(strayPid);
    expect(readFileSync(join(plistDir, 'dev.tend.oubliette-lookalike.plist'), 'utf8')).not.toContain('TendApp');
  });

  it('does not carry out write-config or verify-health, and says so', async () => {
    await expect(apply('write-config' as never)).rejects.toThrow(/does not carry out write-config/);
    await expect(apply('verify-health' as never)).rejects.toThrow(/does not carry out verify-health/);
  });

  it('is the registered launchd driver, unavailable where there is no launchctl', async () => {
    const registered = await drivers.launchd();
    expect(registered.runtime).toBe('launchd');
    const saved = process.env.PATH;
    process.env.PATH = scratch('no-launchctl');
    try {
      const obs = await createLaunchdDriver({ uid: 501 }).observe({ config: cfg, paths });
      expect(obs).toEqual({ status: 'unavailable', reason: expect.stringMatching(/launchctl is not installed/), items: [] });
    } finally {
      process.env.PATH = saved;
    }
  });
});

/** A plist with tend's marks for `instance`, running `argv` (set-up for observation tests). */
function ownedPlist(dir: string, instance: string, argv: string[] = ['sleep', '300'], hash = `hash-${instance}`): string {
  const l = `dev.tend.oubliette-${instance}`;
  const file = join(dir, `${l}.plist`);
  writeFileSync(file, renderPlist({
    Label: l, ProgramArguments: argv, RunAtLoad: true, ExitTimeOut: 2,
    TendApp: 'oubliette', TendInstance: instance, TendVersion: 'v1.1.0', TendSpecHash: hash,
  }), { mode: 0o600 });
  return file;
}

describe.skipIf(gate.skip)('captured launchctl output replayed by the launchctl stand-in', () => {
  const lc = useLaunchctlStandin(scratch, { uid: 501 });
  const dir = scratch('launchd-replay');
  const plistDir = join(dir, 'LaunchAgents');
  const driver = createLaunchdDriver({ uid: 501, plistDir });
  const cfg = fixtureConfig();
  const paths = pathsIn(dir);
  const web = 'dev.tend.oubliette-web';
  const webFile = join(plistDir, `${web}.plist`);

  beforeAll(() => {
    gate.check();
    mkdirSync(plistDir, { recursive: true });
    for (const i of ['web', 'killed', 'broken']) ownedPlist(plistDir, i);
  });

  it('parses a captured `launchctl list`: states, exit status, signal, start time; Apple jobs and other prefixes ignored (launchctl stand-in)', async () => {
    lc.replay([{ argv: ['list'], stdout: listSample(process.pid) }]);
    const from = lc.spawns().length;
    const obs = await lc.onPath(() => driver.observe({ config: cfg, paths }));
    expect(lc.spawns().slice(from)).toEqual(['launchctl list', `ps -o pid=,etime= -p ${process.pid}`]);
    expect(obs.status).toBe('ok');
    const items = obs.items;
    expect(items.map((i) => i.id)).toEqual(['dev.tend.oubliette-broken', 'dev.tend.oubliette-killed', 'dev.tend.oubliette-lookalike', web]);
    expect(items[0]).toEqual({ runtime: 'launchd', id: 'dev.tend.oubliette-broken', instance: 'broken', owned: true, state: 'failed', version: 'v1.1.0', specHash: 'hash-broken', exitStatus: 78 });
    expect(items[1]).toMatchObject({ instance: 'killed', owned: true, state: 'failed', exitSignal: 'SIGKILL' });
    expect(items[2]).toEqual({ runtime: 'launchd', id: 'dev.tend.oubliette-lookalike', instance: 'lookalike', owned: false, state: 'running' });
    expect(items[3]).toMatchObject({ instance: 'web', owned: true, state: 'running', specHash: 'hash-web' });
    const started = Date.parse(items[3]!.startedAt!);
    expect(started).toBeLessThanOrEqual(Date.now());
    expect(started).toBeGreaterThan(Date.now() - 3_600_000);
  });

  it('parses captured `launchctl print` answers: top-level state, pid, path and exit code, not nested blocks\' own state', () => {
    expect(parsePrint(printRunningSample(web, webFile, 4321))).toEqual({ state: 'running', pid: 4321, path: webFile });
    expect(parsePrint(printExitedSample(web, '/Library/LaunchDaemons/x.plist', 1))).toEqual({
      state: 'not running', path: '/Library/LaunchDaemons/x.plist', lastExitCode: 1,
    });
  });

  it('start leaves a job alone that print shows running from tend\'s plist (launchctl stand-in: only print)', async () => {
    lc.replay([{ argv: ['print', `gui/501/${web}`], stdout: printRunningSample(web, webFile, 4321) }]);
    const from = lc.calls().length;
    const a: RuntimeAction = { id: 'web/start', type: 'start', instance: 'web', change: 'update', runtime: 'launchd', target: web, reason: 't', disruption: 'none', dependsOn: [] };
    await lc.onPath(() => driver.apply(a, { config: cfg, paths }));
    expect(lc.callsSince(from)).toEqual([['print', `gui/501/${web}`]]);
  });

  it('refuses to touch a job with tend\'s label that print shows loaded from another plist (launchctl stand-in)', async () => {
    lc.replay([{ argv: ['print', `gui/501/${web}`], stdout: printRunningSample(web, '/Users/someone/Library/LaunchAgents/x.plist', 4321) }]);
    const from = lc.calls().length;
    for (const type of ['start', 'stop', 'restart', 'delete'] as const) {
      const a: RuntimeAction = { id: `web/${type}`, type, instance: 'web', change: 'update', runtime: 'launchd', target: web, reason: 't', disruption: 'none', dependsOn: [] };
      await expect(lc.onPath(() => driver.apply(a, { config: cfg, paths }))).rejects.toThrow(/is loaded from \/Users\/someone.*not owned by tend/);
    }
    expect(lc.callsSince(from).every(([cmd]) => cmd === 'print')).toBe(true);
  });

  it('a failing print is an error with launchctl\'s stderr, never print\'s output, which lists the environment (launchctl stand-in)', async () => {
    lc.replay([{ argv: ['print', `gui/501/${web}`], code: 1, stdout: printRunningSample(web, webFile, 4321), stderr: 'Bad request.' }]);
    const a: RuntimeAction = { id: 'web/stop', type: 'stop', instance: 'web', change: 'update', runtime: 'launchd', target: web, reason: 't', disruption: 'none', dependsOn: [] };
    const err = await lc.onPath(() => driver.apply(a, { config: cfg, paths })).then(() => new Error('no error'), (e: unknown) => e as Error);
    expect(err.message).toBe('launchctl print gui/501/dev.tend.oubliette-web failed (exit 1): Bad request.');
    expect(err.message).not.toContain('hunter2');
  });

  it('print\'s "Could not find service" (exit 113) means not loaded: start enables and bootstraps (launchctl stand-in)', async () => {
    lc.replay([{ argv: ['print', `gui/501/${web}`], code: 113, stderr: NOT_FOUND_STDERR(web) }]);
    const from = lc.calls().length;
    const a: RuntimeAction = { id: 'web/start', type: 'start', instance: 'web', change: 'update', runtime: 'launchd', target: web, reason: 't', disruption: 'none', dependsOn: [] };
    await lc.onPath(() => driver.apply(a, { config: cfg, paths }));
    expect(lc.callsSince(from)).toEqual([['print', `gui/501/${web}`], ['enable', `gui/501/${web}`], ['bootstrap', 'gui/501', webFile]]);
    expect(lc.pidOf('gui/501', web)).toBeGreaterThan(0);
    await lc.stop();
  });
});

describe.skipIf(gate.skip)('launchctl before OS X 10.10 (launchctl stand-in in legacy mode): load/unload fallback', () => {
  const lc = useLaunchctlStandin(scratch, { uid: 501 });
  const dir = scratch('launchd-legacy');
  const plistDir = join(dir, 'LaunchAgents');
  const driver = createLaunchdDriver({ uid: 501, plistDir, exitTimeoutSec: 5 });
  const label = 'dev.tend.oubliette-old';
  const file = join(plistDir, `${label}.plist`);
  let s: InstanceSpec;
  let c: ApplyContext;
  const apply = async (type: RuntimeActionType) => {
    const from = lc.calls().length;
    const a: RuntimeAction = {
      id: `old/${type}`, type, instance: 'old', change: 'update', runtime: 'launchd', target: label, version: 'v1.1.0',
      specHash: specHash(s, c.release!.commit, ''), reason: 't', disruption: 'none', dependsOn: [],
    };
    await lc.onPath(() => driver.apply(a, c));
    return lc.callsSince(from);
  };

  beforeAll(async () => {
    gate.check();
    lc.legacy(true);
    const f = await fixture();
    s = makeSpec('old', { runtime: 'launchd', port: await freePort() });
    c = { config: fixtureConfig(), paths: pathsIn(dir), spec: s, release: { version: 'v1.1.0', commit: f.commit, valid: true, dir: f.checkout } };
  });

  it('switches to list, load -w, unload [-w] once print is an unknown subcommand (launchctl stand-in argv)', async () => {
    expect(await apply('write-unit')).toEqual([['print', `gui/501/${label}`], ['list']]);
    expect(await apply('start')).toEqual([['list'], ['load', '-w', file]]);
    expect((await waitForHttp(`http://127.0.0.1:${s.port}/health`)).status).toBe(200);
    const obs = await lc.onPath(() => driver.observe({ config: c.config, paths: c.paths }));
    expect(obs.items).toEqual([expect.objectContaining({ id: label, owned: true, state: 'running' })]);
    expect(await apply('restart')).toEqual([['list'], ['unload', file], ['load', '-w', file]]);
    expect((await waitForHttp(`http://127.0.0.1:${s.port}/health`)).status).toBe(200);
    expect(await apply('stop')).toEqual([['list'], ['unload', '-w', file]]);
    await expect(httpGet(`http://127.0.0.1:${s.port}/health`, 500)).rejects.toThrow();
    expect(await apply('delete')).toEqual([['list']]);
    expect(existsSync(file)).toBe(false);
  });
});

describe.skipIf(gate.skip)('launchd scope system (launchctl stand-in as root)', () => {
  const lc = useLaunchctlStandin(scratch, { uid: 0 });
  const dir = scratch('launchd-system');
  const plistDir = join(dir, 'LaunchDaemons');
  const label = 'dev.tend.oubliette-sys';
  const file = join(plistDir, `${label}.plist`);

  it('uses the system domain: print system/<label>, bootstrap system <plist> (launchctl stand-in argv)', async () => {
    gate.check();
    const f = await fixture();
    const driver = createLaunchdDriver({ plistDir, exitTimeoutSec: 5 });
    const s = makeSpec('sys', { runtime: 'launchd', port: await freePort() });
    const c: ApplyContext = {
      config: fixtureConfig({ launchd: { scope: 'system' } }), paths: pathsIn(dir), spec: s,
      release: { version: 'v1.1.0', commit: f.commit, valid: true, dir: f.checkout },
    };
    const a = (type: RuntimeActionType): RuntimeAction => ({
      id: `sys/${type}`, type, instance: 'sys', change: 'update', runtime: 'launchd', target: label, version: 'v1.1.0',
      specHash: specHash(s, f.commit, ''), reason: 't', disruption: 'none', dependsOn: [],
    });
    const from = lc.calls().length;
    await lc.onPath(async () => {
      await driver.apply(a('write-unit'), c);
      await driver.apply(a('start'), c);
    });
    expect(lc.callsSince(from)).toEqual([
      ['print', `system/${label}`], ['disable', `system/${label}`],
      ['print', `system/${label}`], ['enable', `system/${label}`], ['bootstrap', 'system', file],
    ]);
    expect((await waitForHttp(`http://127.0.0.1:${s.port}/health`)).status).toBe(200);
    const obs = await lc.onPath(() => driver.observe({ config: c.config, paths: c.paths }));
    expect(obs.items).toEqual([expect.objectContaining({ id: label, owned: true, state: 'running', specHash: specHash(s, f.commit, '') })]);
    await lc.onPath(() => driver.apply(a('delete'), c));
    expect(existsSync(file)).toBe(false);
  });

  it('user scope while tend runs as root is unavailable, not the system domain\'s jobs (launchctl stand-in not called)', async () => {
    const from = lc.calls().length;
    const obs = await lc.onPath(() => createLaunchdDriver({ uid: 0, plistDir }).observe({ config: fixtureConfig(), paths: pathsIn(dir) }));
    expect(obs).toEqual({ status: 'unavailable', reason: expect.stringMatching(/launchd.scope is user but tend runs as root/), items: [] });
    expect(lc.callsSince(from)).toEqual([]);
  });
});

describe.skipIf(gate.skip)('launchd observation cost (counted by the launchctl stand-in\'s record)', () => {
  const lc = useLaunchctlStandin(scratch, { uid: 501 });
  const dir = scratch('launchd-cost');
  const plistDir = join(dir, 'LaunchAgents');
  const driver = createLaunchdDriver({ uid: 501, plistDir });
  const cfg = fixtureConfig();

  /** Owned jobs i<from>..i<to-1> running `sleep 300`, loaded with one bootstrap of all their plists. */
  async function makeJobs(from: number, to: number) {
    mkdirSync(plistDir, { recursive: true });
    const files = Array.from({ length: to - from }, (_, k) => ownedPlist(plistDir, `i${from + k}`));
    expect(await lc.launchctl(['bootstrap', 'gui/501', ...files])).toMatchObject({ exitCode: 0 });
  }

  async function spawnsOfObserve(n: number): Promise<string[]> {
    const from = lc.spawns().length;
    const obs = await lc.onPath(() => driver.observe({ config: cfg, paths: pathsIn(dir) }));
    const spawned = lc.spawns().slice(from);
    expect(obs.items).toHaveLength(n);
    expect(obs.items.every((i) => i.owned && i.state === 'running' && i.startedAt !== undefined)).toBe(true);
    return spawned.map((line) => line.split(' ').slice(0, 2).join(' '));
  }

  it('one launchctl list and one ps per observe, for 3 jobs and for 30 (launchctl stand-in)', async () => {
    gate.check();
    await makeJobs(0, 3);
    const three = await spawnsOfObserve(3);
    await makeJobs(3, 30);
    const thirty = await spawnsOfObserve(30);
    expect(three).toEqual(['launchctl list', 'ps -o']);
    expect(thirty).toEqual(three);
  });
});
