// The test suite's own hygiene on the real user manager: its helpers find the manager the way tend does
// (a new shell exports no XDG_RUNTIME_DIR), and a clean-up that cannot stop a unit fails loudly and
// keeps the unit's file instead of deleting it and leaking a running process.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { unitDirOf } from '../src/drivers/systemd/unit.js';
import { backendGate, removeUserUnits, systemdUserEnv } from './helpers/backends.js';
import { useScratch } from './helpers/scratch.js';

const systemd = await backendGate('systemd');
const scratch = useScratch();
const APP = `hyg${process.pid}x${randomBytes(3).toString('hex')}`;
const DIR = unitDirOf('user');

// Always with the manager's env spelled out, so these checks do not depend on what the helpers fixed.
const ctl = (args: string[]) => execa('systemctl', ['--user', ...args], { env: systemdUserEnv(), reject: false, stdin: 'ignore' });

afterAll(async () => {
  await removeUserUnits(DIR, `${APP}-`);
});

/** Runs fn with XDG_RUNTIME_DIR unset (or set to `value`), as in a new login shell, then restores it. */
async function withRuntimeDir<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.XDG_RUNTIME_DIR;
  if (value === undefined) delete process.env.XDG_RUNTIME_DIR;
  else process.env.XDG_RUNTIME_DIR = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = saved;
  }
}

/** Writes and starts `<APP>-<name>.service` running sleep; returns its unit name, file and main PID. */
async function startSleeper(name: string): Promise<{ unit: string; file: string; pid: number }> {
  const unit = `${APP}-${name}.service`;
  const file = join(DIR, unit);
  mkdirSync(DIR, { recursive: true });
  writeFileSync(file, '[Unit]\nDescription=tend test hygiene\n\n[Service]\nExecStart=/bin/sleep 600\n');
  expect((await ctl(['daemon-reload'])).exitCode).toBe(0);
  const started = await ctl(['start', unit]);
  expect(started.stderr).toBe('');
  const pid = Number((await ctl(['show', '-p', 'MainPID', '--value', unit])).stdout.trim());
  expect(pid).toBeGreaterThan(0);
  return { unit, file, pid };
}

/** PID is a live process (not gone, not a zombie). */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe.skipIf(systemd.skip)('test clean-up on the real systemd user manager', () => {
  it('removeUserUnits reaches the manager with no XDG_RUNTIME_DIR exported (a new shell): the unit stops, its process ends, its file goes', async () => {
    systemd.check();
    const { unit, file, pid } = await startSleeper('newshell');
    await withRuntimeDir(undefined, () => removeUserUnits(DIR, unit));
    expect(existsSync(file)).toBe(false);
    expect((await ctl(['show', '-p', 'ActiveState', '--value', unit])).stdout.trim()).toBe('inactive');
    expect(alive(pid)).toBe(false);
  });

  it('a clean-up that cannot reach the manager throws, keeps the unit file and never leaves the unit running unseen', async () => {
    systemd.check();
    const { unit, file, pid } = await startSleeper('unreachable');
    const nowhere = scratch('hyg-no-manager');
    await expect(withRuntimeDir(nowhere, () => removeUserUnits(DIR, unit))).rejects.toThrow(/test clean-up: systemctl --user .* failed/);
    // Nothing was deleted behind the manager's back: the file is there, the unit still runs and can be stopped.
    expect(existsSync(file)).toBe(true);
    expect((await ctl(['show', '-p', 'ActiveState', '--value', unit])).stdout.trim()).toBe('active');
    expect(alive(pid)).toBe(true);
    await removeUserUnits(DIR, unit);
    expect(existsSync(file)).toBe(false);
    expect(alive(pid)).toBe(false);
  });
});
