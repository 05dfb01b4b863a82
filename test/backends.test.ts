// Proves each real backend answers and can be used, so CI (TEND_REQUIRE_BACKENDS=1)
// fails loudly when scripts/backends.sh could not bring one up.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import {
  backendGate,
  decide,
  dockerRequest,
  dockerSocketPath,
  makeGate,
  removeUserUnits,
  requireBackends,
  systemdUserEnv,
} from './helpers/backends.js';

const docker = await backendGate('docker');
const systemd = await backendGate('systemd');
const tmux = await backendGate('tmux');
const plistutil = await backendGate('plistutil');

const suffix = () => randomBytes(4).toString('hex');

describe('backend gate decision (pure)', () => {
  it('runs when present, skips when missing and optional, fails when missing and required', () => {
    expect(decide({ ok: true }, false)).toBe('run');
    expect(decide({ ok: true }, true)).toBe('run');
    expect(decide({ ok: false, why: 'x' }, false)).toBe('skip');
    expect(decide({ ok: false, why: 'x' }, true)).toBe('fail');
  });

  it('reads TEND_REQUIRE_BACKENDS: set and not 0', () => {
    expect(requireBackends({})).toBe(false);
    expect(requireBackends({ TEND_REQUIRE_BACKENDS: '0' })).toBe(false);
    expect(requireBackends({ TEND_REQUIRE_BACKENDS: '' })).toBe(false);
    expect(requireBackends({ TEND_REQUIRE_BACKENDS: '1' })).toBe(true);
    expect(requireBackends({ TEND_REQUIRE_BACKENDS: 'yes' })).toBe(true);
  });

  it('a required missing backend fails with a message naming it', () => {
    const gate = makeGate('docker', { ok: false, why: 'no Docker engine on /nope.sock' }, true);
    expect(gate.skip).toBe(false);
    expect(() => gate.check()).toThrow(/backend docker is not available: no Docker engine on \/nope\.sock/);
    const optional = makeGate('tmux', { ok: false, why: 'not installed' }, false);
    expect(optional.skip).toBe(true);
    const present = makeGate('systemd', { ok: true }, true);
    expect(present.skip).toBe(false);
    expect(() => present.check()).not.toThrow();
  });

  it('finds the Docker socket from TEND_DOCKER_SOCKET, DOCKER_HOST, or the default', () => {
    expect(dockerSocketPath({})).toBe('/var/run/docker.sock');
    expect(dockerSocketPath({ DOCKER_HOST: 'unix:///tmp/d.sock' })).toBe('/tmp/d.sock');
    expect(dockerSocketPath({ TEND_DOCKER_SOCKET: '/x.sock', DOCKER_HOST: 'unix:///y' })).toBe('/x.sock');
    expect(systemdUserEnv({}).XDG_RUNTIME_DIR).toMatch(/^\/run\/user\/\d+$/);
    expect(systemdUserEnv({ XDG_RUNTIME_DIR: '/r' }).XDG_RUNTIME_DIR).toBe('/r');
  });
});

describe.skipIf(docker.skip)('docker backend', () => {
  it('answers /_ping with OK over the socket', async () => {
    docker.check();
    const res = await dockerRequest('/_ping');
    expect(res.statusCode).toBe(200);
    expect(res.body.trim()).toBe('OK');
  });

  it("reports the engine's version, over the API and through the docker CLI", async () => {
    docker.check();
    const res = await dockerRequest('/version');
    expect(res.statusCode).toBe(200);
    const v = JSON.parse(res.body) as { Version?: string; ApiVersion?: string };
    expect(v.Version).toMatch(/^\d+\.\d+/);
    expect(v.ApiVersion).toMatch(/^1\.\d+$/);
    const cli = await execa('docker', ['version', '--format', '{{.Server.Version}}'], {
      env: { DOCKER_HOST: `unix://${dockerSocketPath()}` },
      timeout: 20_000,
    });
    expect(cli.stdout.trim()).toBe(v.Version);
  });

  it('runs a container from a local from-scratch busybox image (no registry needed)', async () => {
    docker.check();
    const busybox = (await execa('sh', ['-c', 'command -v busybox'], { reject: false })).stdout.trim();
    expect(busybox, 'busybox (busybox-static) must be installed: scripts/backends.sh').not.toBe('');
    const dir = await mkdtemp(join(tmpdir(), 'tend-img-'));
    const tag = `tend-check-${suffix()}:latest`;
    const dockerEnv = { DOCKER_HOST: `unix://${dockerSocketPath()}` };
    try {
      await mkdir(join(dir, 'root', 'bin'), { recursive: true });
      await execa('cp', [busybox, join(dir, 'root', 'bin', 'busybox')]);
      await execa('tar', ['-cf', join(dir, 'root.tar'), '-C', join(dir, 'root'), '.']);
      await execa('docker', ['import', join(dir, 'root.tar'), tag], { env: dockerEnv, timeout: 60_000 });
      const run = await execa('docker', ['run', '--rm', '--network', 'none', tag, '/bin/busybox', 'echo', 'tend-ok'], {
        env: dockerEnv,
        timeout: 60_000,
      });
      expect(run.stdout.trim()).toBe('tend-ok');
    } finally {
      await execa('docker', ['rmi', '-f', tag], { env: dockerEnv, reject: false });
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(systemd.skip)('systemd user manager backend', () => {
  it('is running or degraded', async () => {
    systemd.check();
    const r = await execa('systemctl', ['--user', 'show', '-p', 'SystemState', '--value'], {
      env: systemdUserEnv(),
    });
    expect(['running', 'degraded']).toContain(r.stdout.trim());
  });

  it('starts and stops a written user unit', async () => {
    systemd.check();
    const env = systemdUserEnv();
    const systemctl = (...args: string[]) =>
      execa('systemctl', ['--user', ...args], { env, timeout: 30_000 });
    const unit = `tend-check-${suffix()}.service`;
    const dir = join(homedir(), '.config', 'systemd', 'user');
    const file = join(dir, unit);
    await mkdir(dir, { recursive: true });
    try {
      await writeFile(
        file,
        ['[Unit]', 'Description=tend backend check', '', '[Service]', 'ExecStart=/bin/sleep 30', ''].join('\n'),
      );
      await systemctl('daemon-reload');
      await systemctl('start', unit);
      expect((await systemctl('show', '-p', 'ActiveState', '--value', unit)).stdout.trim()).toBe('active');
      await systemctl('stop', unit);
      expect((await systemctl('show', '-p', 'ActiveState', '--value', unit)).stdout.trim()).toBe('inactive');
    } finally {
      // Throws (and keeps the file) when the unit cannot be stopped, instead of leaking it out of sight.
      await removeUserUnits(dir, unit);
    }
  });
});

describe.skipIf(tmux.skip)('tmux backend', () => {
  it('starts a server on a private socket, creates and finds a session', async () => {
    tmux.check();
    const socket = `tend-test-${suffix()}`;
    const t = (...args: string[]) => execa('tmux', ['-L', socket, ...args], { stdin: 'ignore', timeout: 15_000 });
    try {
      await t('new-session', '-d', '-s', 'check', '/bin/sleep 30');
      const has = await execa('tmux', ['-L', socket, 'has-session', '-t', 'check'], { reject: false });
      expect(has.exitCode).toBe(0);
      const ls = await t('list-sessions', '-F', '#{session_name}');
      expect(ls.stdout.split('\n')).toContain('check');
    } finally {
      await execa('tmux', ['-L', socket, 'kill-server'], { reject: false, stdin: 'ignore' });
      // kill-server leaves the socket file behind
      const uid = process.getuid?.() ?? 0;
      await rm(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${uid}`, socket), { force: true });
    }
  });
});

describe.skipIf(plistutil.skip)('plistutil (launchd plists)', () => {
  it('converts a tiny XML plist to binary and back', async () => {
    plistutil.check();
    const dir = await mkdtemp(join(tmpdir(), 'tend-plist-'));
    try {
      const xml = join(dir, 'in.plist');
      const bin = join(dir, 'out.bplist');
      const back = join(dir, 'back.plist');
      await writeFile(
        xml,
        [
          '<?xml version="1.0" encoding="UTF-8"?>',
          '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
          '<plist version="1.0">',
          '<dict>',
          '  <key>Label</key><string>dev.tend.check</string>',
          '  <key>RunAtLoad</key><true/>',
          '  <key>ProgramArguments</key><array><string>/bin/sleep</string><string>30</string></array>',
          '</dict>',
          '</plist>',
          '',
        ].join('\n'),
      );
      await execa('plistutil', ['-i', xml, '-o', bin, '-f', 'bin']);
      const raw = await readFile(bin);
      expect(raw.subarray(0, 8).toString('latin1')).toBe('bplist00');
      await execa('plistutil', ['-i', bin, '-o', back, '-f', 'xml']);
      const text = await readFile(back, 'utf8');
      expect(text).toContain('<string>dev.tend.check</string>');
      expect(text).toContain('<key>RunAtLoad</key>');
      expect(text).toMatch(/<string>\/bin\/sleep<\/string>\s*<string>30<\/string>/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
