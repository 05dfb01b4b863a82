// `runtime: auto` resolves while loading: launchd on macOS, systemd where its manager answers (a file check), else tmux.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRoot } from '../src/cli/load.js';
import { specHash } from '../src/shared/hash.js';
import { autoRuntime, systemdProbePath } from '../src/spec/auto-runtime.js';
import { loadConfig } from '../src/spec/config.js';
import { loadDesired } from '../src/spec/desired.js';
import { config } from './helpers/planner-fixtures.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

describe('autoRuntime', () => {
  const present = (...paths: string[]) => (p: string) => paths.includes(p);

  it('is launchd on macOS whatever else the host has', () => {
    expect(autoRuntime(config(), { platform: 'darwin', env: {}, exists: () => true })).toBe('launchd');
  });

  it('system scope: systemd when /run/systemd/system exists, else tmux', () => {
    const cfg = config({ systemd: { scope: 'system' } });
    expect(autoRuntime(cfg, { platform: 'linux', env: {}, exists: present('/run/systemd/system') })).toBe('systemd');
    expect(autoRuntime(cfg, { platform: 'linux', env: {}, exists: present('/run/user/0/systemd/private') })).toBe('tmux');
  });

  it('user scope: systemd when the user manager socket exists under XDG_RUNTIME_DIR (default /run/user/<uid>), else tmux', () => {
    const cfg = config({ systemd: { scope: 'user' } });
    expect(systemdProbePath('user', { env: {}, uid: 1000 })).toBe('/run/user/1000/systemd/private');
    expect(systemdProbePath('user', { env: { XDG_RUNTIME_DIR: '/tmp/xdg' } })).toBe('/tmp/xdg/systemd/private');
    expect(autoRuntime(cfg, { platform: 'linux', env: {}, uid: 1000, exists: present('/run/user/1000/systemd/private') })).toBe('systemd');
    expect(autoRuntime(cfg, { platform: 'linux', env: { XDG_RUNTIME_DIR: '/tmp/xdg' }, exists: present('/run/systemd/system') })).toBe('tmux');
    expect(autoRuntime(cfg, { platform: 'freebsd', env: {}, exists: () => false })).toBe('tmux');
  });
});

describe('runtime: auto while loading', () => {
  const saved = process.env.XDG_RUNTIME_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = saved;
  });

  function root(tendYaml: string): string {
    const dir = scratch('auto');
    writeFileSync(join(dir, 'tend.yaml'), tendYaml);
    mkdirSync(join(dir, 'desired'));
    writeFileSync(join(dir, 'desired', 'web.yaml'), 'version: v1.0.0\nport: 9001\nruntime: auto\n');
    return dir;
  }

  it('the loader takes the detected runtime; the spec (and its hash) keeps `auto`', () => {
    const dir = root('apiVersion: tend/v1\napp: demo\n');
    const loaded = loadConfig({ cwd: dir, env: {} });
    const load = (autoRuntime?: 'tmux' | 'systemd') => loadDesired({
      root: dir, desiredDir: loaded.paths.desired, config: loaded.config!, platform: 'linux', launchdWarn: true, ...(autoRuntime ? { autoRuntime } : {}),
    }).entries[0]!;
    const tmux = load('tmux');
    const systemd = load('systemd');
    expect(tmux.status === 'valid' && tmux.runtime).toBe('tmux');
    expect(systemd.status === 'valid' && systemd.runtime).toBe('systemd');
    const fallback = load();
    expect(fallback.status === 'valid' && fallback.runtime).toBe('systemd');
    if (tmux.status !== 'valid' || systemd.status !== 'valid') throw new Error('invalid');
    expect(tmux.spec.runtime).toBe('auto');
    expect(specHash(tmux.spec, 'c', '')).toBe(specHash(systemd.spec, 'c', ''));
  });

  it('commands load with the host\'s answer: a user manager socket makes it systemd, none makes it tmux (on Linux)', () => {
    if (process.platform === 'darwin') return;
    const dir = root('apiVersion: tend/v1\napp: demo\nsystemd:\n  scope: user\n');
    const xdg = scratch('xdg');
    process.env.XDG_RUNTIME_DIR = xdg;
    const without = loadRoot({ dir }, 'plan').desired!.entries[0]!;
    expect(without.status === 'valid' && without.runtime).toBe('tmux');
    mkdirSync(join(xdg, 'systemd'));
    writeFileSync(join(xdg, 'systemd', 'private'), '');
    const withSocket = loadRoot({ dir }, 'plan').desired!.entries[0]!;
    expect(withSocket.status === 'valid' && withSocket.runtime).toBe('systemd');
  });
});
