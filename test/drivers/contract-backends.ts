// Per-backend pieces of the driver contract suite (contract.test.ts): tend.yaml settings, a look-alike
// that tend does not own, and cleanup of everything a run created (by its unique app name).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Runtime, TendConfig } from '../../src/model/types.js';
import { unitDirOf } from '../../src/drivers/systemd/unit.js';
import { removeUserUnits, userctl, type Backend } from '../helpers/backends.js';
import { engine, removeContainers, removeContainersLabelled, removeImages, sleeper } from '../helpers/docker.js';
import { launchctlStandin, type LaunchctlStandin } from '../helpers/launchctl-standin.js';
import { makeFixtureRepo } from '../fixtures/app.js';

export interface Lookalike {
  /** Still there, unchanged, still running. */
  intact(): Promise<boolean>;
  remove(): Promise<void>;
}

export interface Harness {
  runtime: Runtime;
  title: string;
  gate: Backend;
  /** The host platform observation reports (launchd: darwin, through the stand-in). */
  platform: NodeJS.Platform;
  /** tend.yaml lines for this backend (top-level keys). */
  configYaml(app: string): string;
  /** Extra desired-file lines (top-level keys). */
  instanceExtra?: string;
  /** The look-alike's id as observed (default `<app>-<name>`). */
  lookalikeId?(app: string, name: string): string;
  /** A thing named like an instance of `app` that tend does not own. */
  lookalike(app: string, name: string, config: TendConfig): Promise<Lookalike>;
  /** Removes whatever a failed run may have left for `app`. */
  cleanup(app: string, config: TendConfig): Promise<void>;
  removeImage?(ref: string): Promise<void>;
  /** Set-up before the suite (environment a stand-in needs) in a scratch folder of its own; undone by after(). */
  before?(dir: string): Promise<void>;
  after?(): Promise<void>;
}

const tmuxSocket = `tend-contract-${process.pid}-${randomBytes(3).toString('hex')}`;
const tmux = (args: string[]) => execa('tmux', ['-L', tmuxSocket, '-f', '/dev/null', ...args], { reject: false, stdin: 'ignore' });

const tmuxHarness: Harness = {
  runtime: 'tmux',
  title: 'tmux (real server, private socket)',
  gate: 'tmux',
  platform: 'linux',
  configYaml: () => `tmux:\n  socket: ${tmuxSocket}`,
  async lookalike(app, name) {
    const session = `${app}-${name}`;
    const r = await tmux(['new-session', '-d', '-s', session, '--', 'sleep', '600']);
    if (r.exitCode !== 0) throw new Error(`tmux new-session: ${r.stderr}`);
    const pid = (await tmux(['list-panes', '-t', `=${session}:`, '-F', '#{pane_pid}'])).stdout.trim();
    return {
      intact: async () => (await tmux(['list-panes', '-t', `=${session}:`, '-F', '#{pane_pid} #{pane_dead}'])).stdout.trim() === `${pid} 0`,
      remove: async () => void (await tmux(['kill-session', '-t', `=${session}`])),
    };
  },
  async cleanup() {
    await tmux(['kill-server']);
    rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, tmuxSocket), { force: true });
  },
};


const systemdHarness: Harness = {
  runtime: 'systemd',
  title: 'systemd (real user manager)',
  gate: 'systemd',
  platform: 'linux',
  configYaml: () => 'systemd:\n  scope: user\n  restartSec: 1s\n  stopTimeout: 10s',
  lookalikeId: (app, name) => `${app}-${name}.service`,
  async lookalike(app, name) {
    const dir = unitDirOf('user');
    const unit = `${app}-${name}.service`;
    const file = join(dir, unit);
    const text = '[Unit]\nDescription=not tend\n\n[Service]\nExecStart=/bin/sleep 600\n';
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, text);
    await userctl(['daemon-reload']);
    const started = await userctl(['start', unit]);
    if (started.exitCode !== 0) throw new Error(`start ${unit}: ${started.stderr}`);
    const pid = (await userctl(['show', '-p', 'MainPID', '--value', unit])).stdout.trim();
    return {
      intact: async () => existsSync(file) && readFileSync(file, 'utf8') === text
        && (await userctl(['show', '-p', 'MainPID', '--value', unit])).stdout.trim() === pid && pid !== '0',
      remove: () => removeUserUnits(dir, unit),
    };
  },
  async cleanup(app) {
    await removeUserUnits(unitDirOf('user'), `${app}-`);
  },
};

const dockerHarness: Harness = {
  runtime: 'docker',
  title: 'Docker (real Engine)',
  gate: 'docker',
  platform: 'linux',
  // Discovery off: containers other tests label cc-bridge.instance must not show up in these plans.
  configYaml: () => 'docker:\n  discovery:\n    enabled: false',
  instanceExtra: 'docker:\n  containerPort: 8080',
  async lookalike(app, name, config) {
    const docker = engine();
    const id = await sleeper(docker, config.source.image!, { name: `${app}-${name}` });
    return {
      intact: async () => {
        const c = await docker.getContainer(`${app}-${name}`).inspect().catch(() => undefined);
        return c?.Id === id && c.State.Running && c.Config.Labels['tend.app'] === undefined;
      },
      remove: () => removeContainers(docker, [`${app}-${name}`]),
    };
  },
  async cleanup(app) {
    const docker = engine();
    await removeContainersLabelled(docker, [`tend.app=${app}`]);
    const images = await docker.listImages({ filters: { reference: [`${app}:*`] } });
    await removeImages(docker, images.flatMap((i) => i.RepoTags ?? []));
  },
  async removeImage(ref) {
    await removeImages(engine(), [ref]);
  },
};

// launchd: no macOS here. The registered driver talks to the launchctl stand-in (a recording, tiny
// launchd that really runs the jobs) put first on PATH, with plists in a scratch folder.
let standin: LaunchctlStandin | undefined;
const savedEnv: Record<string, string | undefined> = {};
const launchdHarness: Harness = {
  runtime: 'launchd',
  title: 'launchd (through the launchctl stand-in, no macOS here)',
  gate: 'plistutil',
  platform: 'darwin',
  configYaml: () => 'launchd:\n  scope: system',
  lookalikeId: (app, name) => `dev.tend.${app}-${name}`,
  async before(dir) {
    standin = launchctlStandin(join(dir, 'launchctl'), { uid: 0 });
    for (const k of ['PATH', 'TEND_LAUNCHD_DIR']) savedEnv[k] = process.env[k];
    mkdirSync(join(dir, 'plists'), { recursive: true });
    process.env.PATH = `${standin.binDir}:${process.env.PATH ?? ''}`;
    process.env.TEND_LAUNCHD_DIR = join(dir, 'plists');
  },
  async after() {
    await standin?.stop();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  },
  async lookalike(app, name) {
    const label = `dev.tend.${app}-${name}`;
    const file = join(process.env.TEND_LAUNCHD_DIR!, `${label}.plist`);
    writeFileSync(file, [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
      '<plist version="1.0"><dict>',
      `<key>Label</key><string>${label}</string>`,
      '<key>ProgramArguments</key><array><string>/bin/sleep</string><string>600</string></array>',
      '<key>RunAtLoad</key><true/>',
      '</dict></plist>', '',
    ].join('\n'), { mode: 0o600 });
    const text = readFileSync(file, 'utf8');
    const r = await standin!.launchctl(['bootstrap', 'system', file]);
    if (r.exitCode !== 0) throw new Error(`bootstrap look-alike: ${r.stderr}`);
    const pid = standin!.pidOf('system', label);
    return {
      intact: async () => existsSync(file) && readFileSync(file, 'utf8') === text && pid !== undefined && standin!.pidOf('system', label) === pid,
      remove: async () => {
        await standin!.launchctl(['bootout', `system/${label}`]);
        rmSync(file, { force: true });
      },
    };
  },
  async cleanup() {
    await standin?.stop();
  },
};

export const harnesses: Harness[] = [tmuxHarness, systemdHarness, dockerHarness, launchdHarness];

/** tend.yaml lines that keep other runtimes quiet: Docker discovery off unless the backend is Docker itself. */
export function quietYaml(h: Harness, app: string): string {
  return h.runtime === 'docker' ? h.configYaml(app) : `${h.configYaml(app)}\ndocker:\n  discovery:\n    enabled: false`;
}

/**
 * A deployment root for a backend at `root`: the fixture app repository (building its image too for
 * Docker, named `<app>-img:build`), an empty desired/ and tend.yaml. `runtimeYaml` replaces the
 * backend's own tend.yaml lines (default quietYaml).
 */
export async function fixtureRoot(h: Harness, root: string, app: string, opts: { args?: string; runtimeYaml?: string } = {}) {
  const image = h.runtime === 'docker' ? `${app}-img:build` : undefined;
  const fixture = await makeFixtureRepo(join(root, 'app'), image ? { image } : {});
  mkdirSync(join(root, 'desired'));
  writeFileSync(join(root, 'tend.yaml'), [
    'apiVersion: tend/v1', `app: ${app}`,
    'source:', `  repo: ${fixture.repo}`, '  build: ./build.sh', '  artifacts: [bin/oubliette]',
    ...(image ? [`  image: ${image}`] : []),
    '  run:', '    artifact: bin/oubliette', `    args: ${opts.args ?? '[--port, "${port}"]'}`,
    opts.runtimeYaml ?? quietYaml(h, app),
  ].join('\n'));
  return { fixture, image };
}
