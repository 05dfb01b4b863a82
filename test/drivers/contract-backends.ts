// Per-backend pieces of the driver contract suite (contract.test.ts): tend.yaml settings, a look-alike
// that tend does not own, and cleanup of everything a run created (by its unique app name).
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Runtime, TendConfig } from '../../src/model/types.js';
import { unitDirOf } from '../../src/drivers/systemd/unit.js';
import type { Backend } from '../helpers/backends.js';

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
  /** A thing named like an instance of `app` that tend does not own. */
  lookalike(app: string, name: string, config: TendConfig): Promise<Lookalike>;
  /** Removes whatever a failed run may have left for `app`. */
  cleanup(app: string, config: TendConfig): Promise<void>;
  removeImage?(ref: string): Promise<void>;
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

const userctl = (args: string[]) => execa('systemctl', ['--user', ...args], { reject: false, stdin: 'ignore' });

const systemdHarness: Harness = {
  runtime: 'systemd',
  title: 'systemd (real user manager)',
  gate: 'systemd',
  platform: 'linux',
  configYaml: () => 'systemd:\n  scope: user\n  restartSec: 1s\n  stopTimeout: 10s',
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
      remove: async () => {
        await userctl(['stop', unit]);
        rmSync(file, { force: true });
        await userctl(['daemon-reload']);
      },
    };
  },
  async cleanup(app) {
    const dir = unitDirOf('user');
    let units: string[] = [];
    try {
      units = readdirSync(dir).filter((n) => n.startsWith(`${app}-`));
    } catch { /* no unit dir */ }
    if (units.length === 0) return;
    await userctl(['stop', '--', ...units]);
    await userctl(['disable', '--no-reload', '--', ...units]);
    for (const u of units) rmSync(join(dir, u), { force: true });
    await userctl(['daemon-reload']);
    await userctl(['reset-failed', '--', ...units]);
  },
};

export const harnesses: Harness[] = [tmuxHarness, systemdHarness];
