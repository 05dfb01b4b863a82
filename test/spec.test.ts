// Loading tend.yaml and desired files: defaults merged under instances, built-in values, positions.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/spec/config.js';
import { loadDesired } from '../src/spec/desired.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

function load(tendYaml: string, files: Record<string, string>, platform = 'linux') {
  const root = scratch('spec');
  writeFileSync(join(root, 'tend.yaml'), tendYaml);
  mkdirSync(join(root, 'desired'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'desired', name), text);
  const loaded = loadConfig({ cwd: root, env: {} });
  expect(loaded.diagnostics).toEqual([]);
  return loadDesired({ root, desiredDir: loaded.paths.desired, config: loaded.config!, platform, launchdWarn: true });
}

describe('defaults and built-in values', () => {
  const base = 'apiVersion: tend/v1\napp: demo\ndefaults:\n  runtime: tmux\n  port: 9000\n  env: {LOG_LEVEL: info, DEBUG: false}\n  health: {http: /ready, timeout: 10s}\n';

  it('merges defaults under the instance, the instance winning key by key', () => {
    const state = load(base, { 'web.yaml': 'version: v1.0.0\nport: 9001\nenv: {LOG_LEVEL: debug, WORKERS: 4}\n' });
    const web = state.entries[0]!;
    expect(web.status).toBe('valid');
    if (web.status !== 'valid') return;
    expect(web.runtime).toBe('tmux');
    expect(web.spec).toEqual({
      name: 'web', version: 'v1.0.0', runtime: 'tmux', state: 'running', port: 9001, address: '127.0.0.1',
      env: { LOG_LEVEL: 'debug', DEBUG: 'false', WORKERS: '4' }, secrets: [],
      health: { http: '/ready', timeout: '10s', interval: '1s' }, rollout: { autoRollback: true },
    });
  });

  it('an instance choosing another health check kind drops the kind from defaults', () => {
    const state = load(base, { 'db.yaml': 'version: v1.0.0\nhealth: {tcp: true}\n' });
    const db = state.entries[0]!;
    expect(state.diagnostics).toEqual([]);
    expect(db.status === 'valid' && db.spec.health).toEqual({ tcp: true, timeout: '10s', interval: '1s' });
  });

  it('auto resolves to systemd on linux and launchd on macOS', () => {
    const files = { 'a.yaml': 'version: v1\nport: 1\nruntime: auto\n' };
    const linux = load('apiVersion: tend/v1\napp: demo\n', files, 'linux').entries[0]!;
    const mac = load('apiVersion: tend/v1\napp: demo\n', files, 'darwin').entries[0]!;
    expect(linux.status === 'valid' && linux.runtime).toBe('systemd');
    expect(mac.status === 'valid' && mac.runtime).toBe('launchd');
  });

  it('bad defaults in tend.yaml are reported at their tend.yaml line', () => {
    const root = scratch('spec');
    writeFileSync(join(root, 'tend.yaml'), 'apiVersion: tend/v1\napp: demo\ndefaults:\n  name: shared\n  port: 0\n');
    const loaded = loadConfig({ cwd: root, env: {} });
    expect(loaded.config).toBeUndefined();
    expect(loaded.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`).sort()).toEqual([
      'tend.yaml:4:3: defaults must not set name (each instance names itself)',
      'tend.yaml:5:9: defaults.port must be >= 1',
    ]);
  });

  it('an unknown placeholder in source.run.args is an error at that argument', () => {
    const root = scratch('spec');
    writeFileSync(join(root, 'tend.yaml'), 'apiVersion: tend/v1\napp: demo\nsource:\n  run:\n    artifact: bin/app\n    args: [--port, "${port}", "${secret}"]\n');
    const loaded = loadConfig({ cwd: root, env: {} });
    expect(loaded.diagnostics).toEqual([expect.objectContaining({
      file: 'tend.yaml', line: 6, col: 31, message: expect.stringContaining('unknown placeholder ${secret}'),
    })]);
  });

  it('paths come from tend.yaml, relative to the root, and TEND_*_DIR wins', () => {
    const root = scratch('spec');
    writeFileSync(join(root, 'tend.yaml'), 'apiVersion: tend/v1\napp: demo\npaths: {desired: fleet}\n');
    const plain = loadConfig({ cwd: root, env: {} });
    expect(plain.paths.desired).toBe(join(root, 'fleet'));
    expect(plain.paths.releases).toBe(join(root, 'releases'));
    const env = loadConfig({ cwd: '/tmp', dir: root, env: { TEND_DESIRED_DIR: 'x', TEND_INSTANCES_DIR: '/srv/inst' } });
    expect(env.paths.desired).toBe('/tmp/x');
    expect(env.paths.instances).toBe('/srv/inst');
  });
});
