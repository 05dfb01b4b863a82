// The tmux driver against a real tmux server on private sockets, running the built fixture app (no mocks).
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceSpec, ObservedItem, RuntimeObservation, TendConfig } from '../../src/model/types.js';
import type { RuntimeAction, RuntimeActionType } from '../../src/model/plan.js';
import { createTmuxDriver } from '../../src/drivers/tmux/index.js';
import { drivers } from '../../src/drivers/registry.js';
import type { ApplyContext, DriverPaths } from '../../src/drivers/types.js';
import { specHash } from '../../src/shared/hash.js';
import { backendGate } from '../helpers/backends.js';
import { config, spec as makeSpec } from '../helpers/planner-fixtures.js';
import { useScratch } from '../helpers/scratch.js';
import { cloneTag, freePort, httpGet, makeFixtureRepo, runBuild, waitForHttp } from '../fixtures/app.js';

const gate = await backendGate('tmux');
const scratch = useScratch();
const uniqueSocket = () => `tend-test-${process.pid}-${randomBytes(4).toString('hex')}`;
const sockets: string[] = [];

/** tmux on one of this file's own sockets (never the user's server). */
function tmuxOn(socket: string, args: string[]) {
  return execa('tmux', ['-L', socket, '-f', '/dev/null', ...args], { reject: false, stdin: 'ignore' });
}

afterAll(async () => {
  for (const s of sockets) {
    await tmuxOn(s, ['kill-server']);
    rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, s), { force: true });
  }
});

/** Polls `fn` until it returns a value; `last` describes the state seen last when it times out. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, last: () => unknown = () => '', timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(gate.skip)('tmux driver on a real tmux server', () => {
  const socket = uniqueSocket();
  sockets.push(socket);
  const driver = createTmuxDriver({ stopTimeoutMs: 5_000, pollMs: 50 });
  let cfg: TendConfig;
  let paths: DriverPaths;
  let checkout: string;
  let commit: string;
  let spec: InstanceSpec;
  let lookalikePid: string;

  const session = 'oubliette-web';
  const url = (path: string, port = spec.port) => `http://127.0.0.1:${port}${path}`;
  const ctx = (s: InstanceSpec = spec): ApplyContext => ({
    config: cfg, paths, spec: s, release: { version: 'v1.1.0', commit, valid: true, dir: checkout },
  });
  const action = (type: RuntimeActionType, s: InstanceSpec = spec, target = `oubliette-${s.name}`): RuntimeAction => ({
    id: `${s.name}/${type}@tmux`, type, instance: s.name, change: 'update', runtime: 'tmux', target, version: 'v1.1.0',
    specHash: specHash(s, commit, ''), reason: 'test', disruption: 'none', dependsOn: [],
  });
  const apply = (type: RuntimeActionType, s: InstanceSpec = spec) => driver.apply(action(type, s), ctx(s));
  const observe = async (): Promise<ObservedItem[]> => {
    const obs = await driver.observe({ config: cfg, paths });
    if (obs.status !== 'ok') throw new Error(`observe: ${obs.reason}`);
    return obs.items;
  };
  const item = async (id = session) => (await observe()).find((i) => i.id === id);
  const panePid = async (s = session) => (await tmuxOn(socket, ['list-panes', '-t', `=${s}:`, '-F', '#{pane_pid}'])).stdout.trim();

  beforeAll(async () => {
    gate.check();
    const dir = scratch('tmux-driver');
    const fixture = await makeFixtureRepo(join(dir, 'repo'));
    checkout = await cloneTag(fixture.repo, 'v1.1.0', join(dir, 'release'));
    await runBuild(checkout, { FIXTURE_IMAGE: '' });
    commit = fixture.tags['v1.1.0'];
    paths = { root: dir, desired: join(dir, 'desired'), releases: join(dir, 'releases'), instances: join(dir, 'instances') };
    cfg = config({ tmux: { socket } });
    cfg.source.run = { artifact: 'bin/oubliette', args: ['--port', '${port}', '--config', '${configPath}'] };
    spec = makeSpec('web', { runtime: 'tmux', port: await freePort(), env: { GREETING: 'hello' } });
    mkdirSync(join(paths.instances, 'web'), { recursive: true });
    writeFileSync(join(paths.instances, 'web', '.env'), 'SECRET_TOKEN=hunter2-value\n', { mode: 0o600 });
  });

  it('observes a socket with no server as ok and empty', async () => {
    expect(await driver.observe({ config: cfg, paths })).toEqual({ status: 'ok', items: [] });
  });

  it('reports a look-alike session it did not make as not owned, and ignores other names', async () => {
    expect((await tmuxOn(socket, ['new-session', '-d', '-s', 'oubliette-lookalike', '--', 'sleep', '300'])).exitCode).toBe(0);
    expect((await tmuxOn(socket, ['new-session', '-d', '-s', 'unrelated', '--', 'sleep', '300'])).exitCode).toBe(0);
    lookalikePid = await panePid('oubliette-lookalike');
    expect(await observe()).toEqual([
      expect.objectContaining({ runtime: 'tmux', id: 'oubliette-lookalike', instance: 'lookalike', owned: false, state: 'running' }),
    ]);
  });

  it('create-session makes an owned session that is not started yet; start runs the fixture', async () => {
    await apply('create-session');
    expect(await item()).toMatchObject({
      id: session, instance: 'web', owned: true, state: 'stopped', version: 'v1.1.0', specHash: specHash(spec, commit, ''),
    });
    await apply('start');
    const running = await item();
    expect(running).toMatchObject({ owned: true, state: 'running', version: 'v1.1.0', specHash: specHash(spec, commit, '') });
    expect(Date.parse(running!.startedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect((await waitForHttp(url('/health'))).status).toBe(200);
    expect((await httpGet(url('/version'))).body.trim()).toBe('v1.1.0');
    expect((await httpGet(url('/env/GREETING'))).body).toBe('hello');
    expect((await httpGet(url('/env/SECRET_TOKEN'))).body).toBe('hunter2-value');
    expect((await httpGet(url('/env/TEND_INSTANCE'))).body).toBe('web');
    expect((await httpGet(url('/env/TEND_CONFIG'))).body).toBe(join(paths.instances, 'web', 'config.yaml'));
    expect((await httpGet(url('/args'))).body).toBe(`--port\n${spec.port}\n--config\n${join(paths.instances, 'web', 'config.yaml')}\n`);
    const pwd = (await tmuxOn(socket, ['list-panes', '-t', `=${session}:`, '-F', '#{pane_current_path}'])).stdout.trim();
    expect(pwd).toBe(join(paths.instances, 'web'));
    const log = join(paths.instances, 'web', 'logs', 'web.log');
    await until('the request in the log', async () => (readFileSync(log, 'utf8').includes('GET /version 200') ? true : undefined));
  });

  it('applying the same create-session and start again changes nothing (no second session, same process)', async () => {
    const pid = await panePid();
    await apply('create-session');
    await apply('start');
    expect(await panePid()).toBe(pid);
    const names = (await tmuxOn(socket, ['list-sessions', '-F', '#{session_name}'])).stdout.split('\n');
    expect(names.filter((n) => n === session)).toHaveLength(1);
    expect(await item()).toMatchObject({ state: 'running', specHash: specHash(spec, commit, '') });
  });

  it('an env change: create-session replaces the session, start runs the new value', async () => {
    const pid = await panePid();
    // A trailing ';' would end the tmux command and '#{...}' is a tmux format: both must arrive as written.
    spec = { ...spec, env: { GREETING: 'bye #{session_name};' } };
    await apply('create-session');
    expect(await item()).toMatchObject({ state: 'stopped', specHash: specHash(spec, commit, '') });
    await apply('start');
    expect(await panePid()).not.toBe(pid);
    await waitForHttp(url('/health'));
    expect((await httpGet(url('/env/GREETING'))).body).toBe('bye #{session_name};');
  });

  it('a port change (stop, create-session, start, as planned): the new port answers, the old one not', async () => {
    const oldPort = spec.port;
    spec = { ...spec, port: await freePort() };
    await apply('stop');
    await apply('create-session');
    await apply('start');
    expect((await waitForHttp(url('/health'))).status).toBe(200);
    await expect(httpGet(url('/health', oldPort), 500)).rejects.toThrow();
  });

  it('stop leaves the session with its process ended (stopped) and the port closed; a second stop is a no-op', async () => {
    await apply('stop');
    expect(await item()).toMatchObject({ owned: true, state: 'stopped' });
    await expect(httpGet(url('/health'), 500)).rejects.toThrow();
    await apply('stop');
    expect(await item()).toMatchObject({ state: 'stopped' });
  });

  it('start runs it again; restart gives a new process with a later start time', async () => {
    await apply('start');
    expect(await item()).toMatchObject({ state: 'running' });
    await waitForHttp(url('/health'));
    const before = await item();
    const pid = await panePid();
    await new Promise((r) => setTimeout(r, 5));
    await apply('restart');
    expect(await panePid()).not.toBe(pid);
    const after = await item();
    expect(after).toMatchObject({ state: 'running' });
    expect(after!.startedAt! > before!.startedAt!).toBe(true);
    expect((await waitForHttp(url('/health'))).status).toBe(200);
  });

  it('a process killed with SIGKILL shows as failed with its signal; start brings it back', async () => {
    process.kill(Number(await panePid()), 'SIGKILL');
    let seen: ObservedItem | undefined;
    const failed = await until('failed', async () => {
      seen = await item();
      return seen?.state === 'failed' && seen.exitSignal !== undefined ? seen : undefined;
    }, () => seen);
    expect(failed).toMatchObject({ owned: true, exitSignal: 'SIGKILL' });
    await apply('start');
    expect((await waitForHttp(url('/health'))).status).toBe(200);
  });

  it('a process that exits on its own with a non-zero code shows as failed with its exit status', async () => {
    let busy: Server | undefined;
    const other = makeSpec('busy', { runtime: 'tmux', port: await freePort() });
    try {
      busy = createServer();
      await new Promise<void>((r) => busy!.listen(other.port, '127.0.0.1', r));
      await apply('create-session', other);
      await apply('start', other);
      let seen: ObservedItem | undefined;
      const failed = await until('failed', async () => {
        // tmux sees the pty close a moment before it reaps the process and knows the status.
        seen = await item('oubliette-busy');
        return seen?.state === 'failed' && seen.exitStatus !== undefined ? seen : undefined;
      }, () => seen);
      expect(failed).toMatchObject({ instance: 'busy', owned: true, exitStatus: 1 });
      expect(failed.exitSignal).toBeUndefined();
    } finally {
      busy?.close();
      await apply('delete', other);
    }
    expect(await item('oubliette-busy')).toBeUndefined();
  });

  it('delete removes the session (stopping the process first); a second delete is a no-op', async () => {
    await apply('delete');
    expect(await item()).toBeUndefined();
    await expect(httpGet(url('/health'), 500)).rejects.toThrow();
    await apply('delete');
    expect(await item()).toBeUndefined();
  });

  it('refuses every action on the look-alike session, which keeps running untouched', async () => {
    const lookalike = makeSpec('lookalike', { runtime: 'tmux', port: await freePort() });
    for (const type of ['create-session', 'start', 'stop', 'restart', 'delete'] as const) {
      await expect(driver.apply(action(type, lookalike), ctx(lookalike))).rejects.toThrow(/not owned by tend/);
    }
    expect(await panePid('oubliette-lookalike')).toBe(lookalikePid);
    expect(await item('oubliette-lookalike')).toMatchObject({ owned: false, state: 'running' });
  });

  it('does not carry out write-config or verify-health, and says so', async () => {
    await expect(apply('write-config' as never)).rejects.toThrow(/does not carry out write-config/);
    await expect(apply('verify-health' as never)).rejects.toThrow(/does not carry out verify-health/);
  });

  it('is the registered tmux driver', async () => {
    const registered = await drivers.tmux();
    expect(registered.runtime).toBe('tmux');
    const obs = await registered.observe({ config: cfg, paths });
    expect(obs.status).toBe('ok');
  });
});

describe.skipIf(gate.skip)('tmux observation cost', () => {
  const socket = uniqueSocket();
  sockets.push(socket);
  const cfg = config({ tmux: { socket } });
  let paths: DriverPaths;

  /** n owned sessions running `sleep 300`, made in one tmux call. */
  async function makeSessions(from: number, to: number) {
    const args: string[] = [];
    for (let i = from; i < to; i++) {
      const s = `oubliette-i${i}`;
      if (args.length > 0) args.push(';');
      args.push('new-session', '-d', '-s', s, '--', 'sleep', '300', ';',
        'set-option', '-t', `=${s}:`, '@tend-app', 'oubliette', ';',
        'set-option', '-t', `=${s}:`, '@tend-instance', `i${i}`, ';',
        'set-option', '-t', `=${s}:`, '@tend-hash', `hash${i}`);
    }
    const r = await tmuxOn(socket, args);
    expect(r.stderr).toBe('');
  }

  beforeAll(() => {
    gate.check();
    const dir = scratch('tmux-cost');
    paths = { root: dir, desired: join(dir, 'desired'), releases: join(dir, 'releases'), instances: join(dir, 'instances') };
  });

  it('spawns one tmux process per observe with 3 sessions and with 30 (counted by a PATH shim)', async () => {
    const realTmux = (await execa('sh', ['-c', 'command -v tmux'])).stdout.trim() || '/usr/bin/tmux';
    const dir = scratch('tmux-shim');
    const counter = join(dir, 'calls');
    writeFileSync(counter, '');
    writeFileSync(join(dir, 'tmux'), `#!/bin/sh\necho "$*" >> '${counter}'\nexec '${realTmux}' "$@"\n`);
    chmodSync(join(dir, 'tmux'), 0o755);
    const driver = createTmuxDriver();
    const spawnsFor = async (): Promise<[number, RuntimeObservation]> => {
      writeFileSync(counter, '');
      const saved = process.env.PATH;
      process.env.PATH = `${dir}:${saved ?? ''}`;
      try {
        const obs = await driver.observe({ config: cfg, paths });
        return [readFileSync(counter, 'utf8').split('\n').filter(Boolean).length, obs];
      } finally {
        process.env.PATH = saved;
      }
    };

    await makeSessions(0, 3);
    const [three, obs3] = await spawnsFor();
    expect(obs3.items).toHaveLength(3);
    expect(obs3.items.every((i) => i.owned && i.state === 'running')).toBe(true);
    await makeSessions(3, 30);
    const [thirty, obs30] = await spawnsFor();
    expect(obs30.items).toHaveLength(30);
    expect(obs30.items.find((i) => i.id === 'oubliette-i29')).toMatchObject({ instance: 'i29', owned: true, specHash: 'hash29' });
    expect([three, thirty]).toEqual([1, 1]);
  });

  it('reports tmux unavailable when there is no tmux binary', async () => {
    const saved = process.env.PATH;
    process.env.PATH = scratch('no-tmux');
    try {
      const obs = await createTmuxDriver().observe({ config: cfg, paths });
      expect(obs).toEqual({ status: 'unavailable', reason: expect.stringMatching(/tmux is not installed/), items: [] });
    } finally {
      process.env.PATH = saved;
    }
  });
});
