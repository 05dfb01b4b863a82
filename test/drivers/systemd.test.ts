// The systemd driver against the real systemd user manager, running the built fixture app (no mocks).
// Units get a unique app name (tendsd<pid><hex>-*.service) and are stopped, disabled and removed afterwards.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceSpec, ObservedItem, TendConfig } from '../../src/model/types.js';
import type { RuntimeAction, RuntimeActionType } from '../../src/model/plan.js';
import { createSystemdDriver } from '../../src/drivers/systemd/index.js';
import { lingerWarning } from '../../src/drivers/systemd/observe.js';
import { renderLogUnits, renderUnit, unitDirOf } from '../../src/drivers/systemd/unit.js';
import { launchSpec } from '../../src/drivers/launch.js';
import { drivers } from '../../src/drivers/registry.js';
import type { ApplyContext, DriverPaths } from '../../src/drivers/types.js';
import { specHash } from '../../src/shared/hash.js';
import { backendGate, removeUserUnits, systemdUserEnv, userctl } from '../helpers/backends.js';
import { config, spec as makeSpec } from '../helpers/planner-fixtures.js';
import { useScratch } from '../helpers/scratch.js';
import { cloneTag, freePort, httpGet, makeFixtureRepo, runBuild, waitForHttp } from '../fixtures/app.js';

const gate = await backendGate('systemd');
const scratch = useScratch();
const APP = `tendsd${process.pid}${randomBytes(3).toString('hex')}`;
const UNIT_DIR = unitDirOf('user');

const sysctl = userctl;

const HOME_BASE = join(homedir(), '.cache', `tend-test-${APP}`);

/** Removes every unit this file created (by its unique app prefix) and its root, even after a failure. */
afterAll(async () => {
  rmSync(HOME_BASE, { recursive: true, force: true });
  await removeUserUnits(UNIT_DIR, `${APP}-`);
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, last: () => unknown = () => '', timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A PATH shim in front of systemctl that logs each call's argv (one line per spawn), at the boundary. */
function systemctlShim(dir: string): { env: Record<string, string>; calls: () => string[][] } {
  const bin = join(dir, 'bin');
  const log = join(dir, 'calls.log');
  mkdirSync(bin, { recursive: true });
  writeFileSync(log, '');
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec /usr/bin/systemctl "$@"\n`);
  chmodSync(join(bin, 'systemctl'), 0o755);
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
    calls: () => readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split(' ')),
  };
}

/** Runs fn with PATH pointing at the shim first (the driver spawns through execa, which reads process.env). */
async function withPath<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = env.PATH;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe.skipIf(gate.skip)('systemd driver on the real systemd user manager', () => {
  const driver = createSystemdDriver();
  let cfg: TendConfig;
  let paths: DriverPaths;
  let checkout: string;
  let commit: string;
  let spec: InstanceSpec;
  const unit = (name = 'web') => `${APP}-${name}.service`;
  const url = (path: string, port = spec.port) => `http://127.0.0.1:${port}${path}`;
  const ctx = (s: InstanceSpec = spec, c: TendConfig = cfg, dir = checkout): ApplyContext => ({
    config: c, paths, spec: s, release: { version: 'v1.1.0', commit, valid: true, dir },
  });
  const action = (type: RuntimeActionType, s: InstanceSpec = spec): RuntimeAction => ({
    id: `${s.name}/${type}@systemd`, type, instance: s.name, change: 'update', runtime: 'systemd', target: unit(s.name), version: 'v1.1.0',
    specHash: specHash(s, commit, ''), reason: 'test', disruption: 'none', dependsOn: [],
  });
  const apply = (type: RuntimeActionType, s: InstanceSpec = spec, c: TendConfig = cfg, dir = checkout) => driver.apply(action(type, s), ctx(s, c, dir));
  const observe = async (c: TendConfig = cfg): Promise<ObservedItem[]> => {
    const obs = await driver.observe({ config: c, paths });
    if (obs.status !== 'ok') throw new Error(`observe: ${obs.reason}`);
    return obs.items;
  };
  const item = async (id = unit()) => (await observe()).find((i) => i.id === id);
  const mainPid = async (u = unit()) => (await sysctl(['show', '-p', 'MainPID', '--value', u])).stdout.trim();

  beforeAll(async () => {
    gate.check();
    // Outside /tmp, so the units run with their full hardening (PrivateTmp= would hide a /tmp root).
    mkdirSync(HOME_BASE, { recursive: true });
    const dir = mkdtempSync(join(HOME_BASE, 'root-'));
    const fixture = await makeFixtureRepo(join(dir, 'repo'));
    checkout = await cloneTag(fixture.repo, 'v1.1.0', join(dir, 'release'));
    await runBuild(checkout, { FIXTURE_IMAGE: '' });
    commit = fixture.tags['v1.1.0'];
    paths = { root: dir, desired: join(dir, 'desired'), releases: join(dir, 'releases'), instances: join(dir, 'instances') };
    cfg = config({ app: APP, systemd: { scope: 'user', stopTimeout: '5s', restartSec: '1s' } });
    cfg.source.run = { artifact: 'bin/oubliette', args: ['--port', '${port}', '--config', '${configPath}'] };
    spec = makeSpec('web', { port: await freePort(), env: { GREETING: 'hello' } });
    mkdirSync(join(paths.instances, 'web'), { recursive: true });
    writeFileSync(join(paths.instances, 'web', '.env'), 'SECRET_TOKEN=hunter2-value\n', { mode: 0o600 });
  });

  it('does not carry out write-config or verify-health, and says so', async () => {
    await expect(apply('write-config' as never)).rejects.toThrow(/the systemd driver does not carry out write-config/);
    await expect(apply('verify-health' as never)).rejects.toThrow(/does not carry out verify-health/);
  });

  it('is the registered systemd driver', async () => {
    expect((await drivers.systemd()).runtime).toBe('systemd');
  });

  it('every rendered unit passes systemd-analyze verify (user and system scope, hardening on and off, files and journal)', async () => {
    const dir = scratch('verify');
    const odd = makeSpec('odd', { port: 8123, env: { PCT: '100%', DOLLAR: '$HOME and ${x}', QUOTE: 'say "hi" \\ back', SPACE: 'a b' } });
    const variants: [string, TendConfig, InstanceSpec][] = [
      ['user', cfg, spec],
      ['user-odd-values', cfg, odd],
      ['user-no-hardening', cfg, { ...spec, systemd: { hardening: false } }],
      ['user-journal', config({ app: APP, systemd: { scope: 'user', output: 'journal' } }), spec],
      ['system', config({ app: APP, systemd: { scope: 'system', user: 'daemon', group: 'daemon' } }), spec],
    ];
    for (const [name, c, s] of variants) {
      c.source.run = cfg.source.run;
      const launch = launchSpec(action('write-unit', s), ctx(s, c));
      const file = join(dir, `${APP}-${name}.service`);
      const text = renderUnit({ config: c, spec: s, launch, specHash: 'abc', unit: `${APP}-${name}.service` });
      writeFileSync(file, text);
      // files: the output pipe and its stamper go along (the unit requires them).
      const companions = c.systemd.output === 'files' ? Object.values(renderLogUnits({ config: c, launch, unit: `${APP}-${name}.service` })) : [];
      for (const f of companions) writeFileSync(join(dir, f.name), f.text);
      const r = await execa('systemd-analyze', [...(c.systemd.scope === 'user' ? ['--user'] : []), 'verify', file, ...companions.map((f) => join(dir, f.name))], { reject: false, env: systemdUserEnv() });
      expect({ name, exitCode: r.exitCode, stderr: r.stderr }).toEqual({ name, exitCode: 0, stderr: '' });
      expect(text).toContain(`X-Tend-App=${APP}`);
      expect(text).toContain(`X-Tend-Spec-Hash=abc`);
      expect(text).not.toContain('hunter2'); // .env values stay in the .env file
      expect(text).toContain(`EnvironmentFile=-${join(paths.instances, s.name, '.env')}`);
      if (name === 'system') {
        expect(text).toMatch(/^User=daemon$/m);
        expect(text).toMatch(/^WantedBy=multi-user.target$/m);
      } else {
        expect(text).not.toMatch(/^User=/m);
        expect(text).toMatch(/^WantedBy=default.target$/m);
      }
      expect(/^ProtectSystem=strict$/m.test(text)).toBe(name !== 'user-no-hardening');
      expect(/^StandardOutput=file:.*\/logs\/\.output\.fifo$/m.test(text)).toBe(name !== 'user-journal');
      expect(/^Requires=.*\.log\.socket$/m.test(text)).toBe(name !== 'user-journal');
      for (const f of companions) {
        expect(f.text).toContain(`X-Tend-App=${APP}`);
        expect(f.text).not.toContain('hunter2');
      }
      if (companions.length > 0) {
        expect(companions[1]!.text).toMatch(/^StandardOutput=append:.*\/logs\/\w+\.log$/m);
        expect(companions[1]!.text).toContain('tend-logstamp.mjs');
      }
    }
  });

  it('reports a look-alike unit it did not write as not owned, and never touches it', async () => {
    const path = join(UNIT_DIR, unit('lookalike'));
    mkdirSync(UNIT_DIR, { recursive: true });
    const text = '[Service]\nExecStart=/bin/sleep 300\n';
    writeFileSync(path, text);
    expect(await item(unit('lookalike'))).toMatchObject({ runtime: 'systemd', instance: 'lookalike', owned: false });
    const other = makeSpec('lookalike', { port: await freePort() });
    for (const type of ['write-unit', 'start', 'stop', 'restart', 'delete'] as const) {
      await expect(apply(type, other)).rejects.toThrow(/not owned by tend/);
    }
    expect(readFileSync(path, 'utf8')).toBe(text);
    rmSync(path);
  });

  it('write-unit + start: an enabled, owned unit running the fixture with its env, .env and cwd', async () => {
    await apply('write-unit');
    expect(await item()).toMatchObject({ id: unit(), instance: 'web', owned: true, state: 'stopped', version: 'v1.1.0', specHash: specHash(spec, commit, '') });
    await apply('start');
    const running = await item();
    expect(running).toMatchObject({ owned: true, state: 'running', version: 'v1.1.0', specHash: specHash(spec, commit, '') });
    expect(Date.parse(running!.startedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect((await waitForHttp(url('/health'))).status).toBe(200);
    expect((await httpGet(url('/env/GREETING'))).body).toBe('hello');
    expect((await httpGet(url('/env/SECRET_TOKEN'))).body).toBe('hunter2-value');
    expect((await httpGet(url('/env/TEND_INSTANCE'))).body).toBe('web');
    expect((await httpGet(url('/args'))).body).toBe(`--port\n${spec.port}\n--config\n${join(paths.instances, 'web', 'config.yaml')}\n`);
    expect(readFileSync(`/proc/${await mainPid()}/cwd/.env`, 'utf8')).toContain('SECRET_TOKEN'); // cwd = instance dir
    expect((await sysctl(['is-enabled', unit()])).stdout.trim()).toBe('enabled');
    const text = readFileSync(join(UNIT_DIR, unit()), 'utf8');
    for (const line of ['NoNewPrivileges=yes', 'PrivateTmp=yes', 'ProtectSystem=strict', `ReadWritePaths="${join(paths.instances, 'web', 'data')}" "${join(paths.instances, 'web', 'projects')}"`]) {
      expect(text.split('\n')).toContain(line);
    }
    expect((await sysctl(['show', '-p', 'PrivateTmp,ProtectSystem,NoNewPrivileges', '--value', unit()])).stdout.split('\n')).toEqual(['yes', 'strict', 'yes']);
    expect(lstatSync(join(UNIT_DIR, 'default.target.wants', unit())).isSymbolicLink()).toBe(true);
    const log = join(paths.instances, 'web', 'logs', 'web.log');
    await until('the request in the log', async () => (existsSync(log) && readFileSync(log, 'utf8').includes('/args') ? true : undefined), () => (existsSync(log) ? readFileSync(log, 'utf8') : 'no log'));
  });

  it('applying the same write-unit and start again is a no-op: same file, same process, no systemctl reload', async () => {
    const pid = await mainPid();
    const mtime = statSync(join(UNIT_DIR, unit())).mtimeMs;
    const shim = systemctlShim(scratch('noop-shim'));
    await withPath(shim.env, async () => {
      await apply('write-unit');
      await apply('start');
    });
    // reset-failed clears systemd's start limit before every start tend decides (harmless on a running unit); no daemon-reload.
    expect(shim.calls().map((c) => c.find((a) => !a.startsWith('-')))).toEqual(['reset-failed', 'start']);
    expect(statSync(join(UNIT_DIR, unit())).mtimeMs).toBe(mtime);
    expect(await mainPid()).toBe(pid);
  });

  it('an env change (values with %, $, quotes and backslashes): restart, and the process reports the new values', async () => {
    const pid = await mainPid();
    spec = { ...spec, env: { GREETING: 'bye 100% "$USER" \\o/' } };
    await apply('write-unit');
    expect(await item()).toMatchObject({ state: 'running', specHash: specHash(spec, commit, '') });
    await apply('restart');
    expect(await mainPid()).not.toBe(pid);
    await waitForHttp(url('/health'));
    expect((await httpGet(url('/env/GREETING'))).body).toBe('bye 100% "$USER" \\o/');
  });

  it('a port change (stop, write-unit, start, as planned): the new port answers, the old one not', async () => {
    const oldPort = spec.port;
    spec = { ...spec, port: await freePort() };
    await apply('stop');
    await apply('write-unit');
    await apply('start');
    expect((await waitForHttp(url('/health'))).status).toBe(200);
    await expect(httpGet(url('/health', oldPort), 500)).rejects.toThrow();
  });

  it('stop: stopped, port closed; a second stop is a no-op; start brings it back with a later start time', async () => {
    const before = await item();
    await apply('stop');
    expect(await item()).toMatchObject({ owned: true, state: 'stopped' });
    await expect(httpGet(url('/health'), 500)).rejects.toThrow();
    await apply('stop');
    expect(await item()).toMatchObject({ state: 'stopped' });
    await apply('start');
    await waitForHttp(url('/health'));
    const after = await item();
    expect(after).toMatchObject({ state: 'running' });
    expect(after!.startedAt! >= before!.startedAt!).toBe(true);
  });

  it('a crashed process (SIGKILL) shows as failed with its signal while systemd waits to restart it, then runs again', async () => {
    const pid = Number(await mainPid());
    expect(pid).toBeGreaterThan(1); // never kill(0): that is this test's own process group
    process.kill(pid, 'SIGKILL');
    let seen: ObservedItem | undefined;
    const failed = await until('failed', async () => {
      seen = await item();
      return seen?.state === 'failed' ? seen : undefined;
    }, () => seen, 5_000);
    expect(failed).toMatchObject({ owned: true, exitSignal: 'SIGKILL' });
    // Restart=on-failure, RestartSec=1s: systemd itself brings it back.
    const back = await until('running again', async () => {
      seen = await item();
      return seen?.state === 'running' && Number(await mainPid()) !== pid ? seen : undefined;
    }, () => seen);
    expect(back.restarts).toBeGreaterThanOrEqual(1);
    await waitForHttp(url('/health'));
  });

  it('stop is graceful with a deadline: a process ignoring SIGTERM is killed after systemd.stopTimeout', async () => {
    const dir = scratch('stubborn');
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'stubborn'), '#!/bin/sh\ntrap "" TERM\nwhile :; do sleep 1; done\n');
    chmodSync(join(dir, 'bin', 'stubborn'), 0o755);
    const c = config({ app: APP, systemd: { scope: 'user', stopTimeout: '1s' } });
    c.source.run = { artifact: 'bin/stubborn', args: [] };
    const s = makeSpec('stubborn', { port: await freePort() });
    await apply('write-unit', s, c, dir);
    await apply('start', s, c, dir);
    await until('running', async () => ((await observe(c)).find((i) => i.id === unit('stubborn'))?.state === 'running' ? true : undefined));
    const t0 = Date.now();
    await apply('stop', s, c, dir);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(900);
    expect((await observe(c)).find((i) => i.id === unit('stubborn'))?.state).not.toBe('running');
    await apply('delete', s, c, dir);
    await driver.flush({ config: c, paths });
  });

  it('delete: stopped, disabled and gone; a second delete is a no-op', async () => {
    await apply('delete');
    await driver.flush({ config: cfg, paths });
    expect(await item()).toBeUndefined();
    expect(existsSync(join(UNIT_DIR, unit()))).toBe(false);
    expect(existsSync(join(UNIT_DIR, 'default.target.wants', unit()))).toBe(false);
    await expect(httpGet(url('/health'), 500)).rejects.toThrow();
    expect((await sysctl(['show', '-p', 'LoadState', '--value', unit()])).stdout.trim()).toBe('not-found');
    await apply('delete');
  });

  it('one daemon-reload and one enable for a batch of 5 unit writes, counted by a systemctl PATH shim', async () => {
    const shim = systemctlShim(scratch('batch-shim'));
    const specs = await Promise.all([1, 2, 3, 4, 5].map(async (n) => makeSpec(`b${n}`, { port: await freePort() })));
    await withPath(shim.env, async () => {
      for (const s of specs) await apply('write-unit', s);
      for (const s of specs) await apply('start', s);
    });
    const verbs = shim.calls().map((c) => c.find((a) => !a.startsWith('-')));
    expect(verbs.filter((v) => v === 'daemon-reload')).toHaveLength(1);
    expect(verbs.filter((v) => v === 'enable')).toHaveLength(1);
    expect(verbs.filter((v) => v === 'start')).toHaveLength(5);
    for (const s of specs) await waitForHttp(url('/health', s.port));
    for (const s of specs) await apply('delete', s);
    await driver.flush({ config: cfg, paths });
  });

  it('observation cost does not grow: one systemctl spawn for 3 units and for 30, counted by a PATH shim', async () => {
    const counts: Record<number, number> = {};
    const written: InstanceSpec[] = [];
    for (const n of [3, 30]) {
      while (written.length < n) {
        const s = makeSpec(`o${written.length}`, { port: 20000 + written.length });
        await apply('write-unit', s);
        written.push(s);
      }
      await driver.flush({ config: cfg, paths });
      const shim = systemctlShim(scratch(`observe-shim-${n}`));
      const items = await withPath(shim.env, () => observe());
      expect(items.filter((i) => i.owned && i.instance.startsWith('o'))).toHaveLength(n);
      counts[n] = shim.calls().length;
    }
    expect(counts).toEqual({ 3: 1, 30: 1 });
    for (const s of written) await apply('delete', s);
    await driver.flush({ config: cfg, paths });
  });

  it('with no units it still asks the manager once, and an unreachable manager is unavailable, not an error', async () => {
    const empty = config({ app: `${APP}x`, systemd: { scope: 'user' } });
    const shim = systemctlShim(scratch('empty-shim'));
    const obs = await withPath(shim.env, () => driver.observe({ config: empty, paths }));
    expect(obs).toMatchObject({ status: 'ok', items: [] });
    expect(shim.calls()).toHaveLength(1);
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = scratch('no-manager');
    try {
      const down = await driver.observe({ config: empty, paths });
      expect(down).toMatchObject({ status: 'unavailable' });
      expect(down.status === 'unavailable' && down.reason).toMatch(/systemctl --user show/);
    } finally {
      // Assigning undefined would store the string 'undefined' (a new shell exports no XDG_RUNTIME_DIR).
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });
});

describe('systemd linger check (user scope)', () => {
  const scratchDir = useScratch();
  it('warns when logind has no linger file for the user, not when it has one, never in system scope', () => {
    const dir = scratchDir('linger');
    writeFileSync(join(dir, 'alice'), '');
    const user = config({ systemd: { scope: 'user' } });
    expect(lingerWarning(user, 'bob', dir)).toMatch(/linger is off for bob.*loginctl enable-linger bob/);
    expect(lingerWarning(user, 'alice', dir)).toBeUndefined();
    expect(lingerWarning(config({ systemd: { scope: 'system' } }), 'bob', dir)).toBeUndefined();
  });
});
