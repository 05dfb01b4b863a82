// The set-up and leak check around every test run (vitest globalSetup, test/global-setup.ts): backends
// that answer start nothing; where they do not and this run may not set them up (not root, no apt),
// one message says exactly what to run; and the leak check finds a tmux server, socket and session a
// test left behind (real tmux), then nothing once they are gone.
import { randomBytes } from 'node:crypto';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { backendGate } from './helpers/backends.js';
import { REPO } from './helpers/cli.js';
import { ensureBackends } from './helpers/ensure-backends.js';
import { findLeaks, snapshot } from './helpers/leaks.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const tmuxGate = await backendGate('tmux');

/** ensureBackends with this env and uid; returns what it logged, or throws its message. */
async function ensure(env: Record<string, string | undefined>, uid?: number): Promise<string[]> {
  const lines: string[] = [];
  await ensureBackends({ repo: REPO, log: (l) => lines.push(l), env, ...(uid === undefined ? {} : { uid }) });
  return lines;
}

describe('backends before the tests (vitest globalSetup)', () => {
  it('where every backend answers: one line, scripts/backends.sh is not run', async () => {
    const lines = await ensure(process.env);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^backends: all answer \(docker, systemd, tmux, plistutil, busybox, chromium; checked in \d+ ms\)$/);
  });

  it('not root, with apt: says what is missing and exactly what to run (sudo npm test, or the set-up for your own user); runs nothing', async () => {
    const bin = scratch('hyg-apt-only');
    symlinkSync('/usr/bin/apt-get', join(bin, 'apt-get'));
    const err = await ensure({ PATH: bin, USER: 'dev' }, 1000).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const text = err!.message;
    expect(text).toContain('  - busybox: busybox is not installed (not on PATH)\n  - chromium: chromium is not installed (not on PATH)');
    expect(text).toContain('but this run is not root (uid 1000).');
    expect(text).toContain('Run instead, as root (the backends are set up for the user who runs the tests):\n  sudo "$(command -v npm)" test');
    expect(text).toContain('  sudo bash scripts/backends.sh ');
    expect(text).toContain('TEND_BACKENDS_SETUP=0 npx vitest run');
  });

  it('no apt-get: says which backends to install and start by hand', async () => {
    const err = await ensure({ PATH: scratch('hyg-empty-path') }, 1000).then(() => undefined, (e: Error) => e);
    expect(err?.message ?? '').toMatch(/busybox is not installed/);
    expect(err!.message).toContain('There is no apt-get here: install and start them yourself');
  });

  it('TEND_BACKENDS_SETUP=0 checks nothing and says so', async () => {
    expect(await ensure({ TEND_BACKENDS_SETUP: '0', PATH: '' }, 1000)).toEqual([
      'backends: not checked (TEND_BACKENDS_SETUP=0); tests that need a missing one skip, or fail under TEND_REQUIRE_BACKENDS=1',
    ]);
  });
});

describe.skipIf(tmuxGate.skip)('the leak check after the run (real tmux)', () => {
  const socket = `hyglk${process.pid}x${randomBytes(3).toString('hex')}`;
  const tmux = (args: string[], env: Record<string, string> = {}) =>
    execa('tmux', ['-u', '-L', socket, '-f', '/dev/null', ...args], { reject: false, stdin: 'ignore', env });

  afterAll(async () => {
    await tmux(['kill-server']);
    const left = (await tmux(['list-sessions'])).exitCode === 0;
    if (left) throw new Error(`test clean-up: tmux server ${socket} still answers`);
  });

  it('finds the socket, session and marked server process a test left behind, and nothing once they are gone', async () => {
    tmuxGate.check();
    const mark = randomBytes(6).toString('hex');
    const before = await snapshot();
    const r = await tmux(['new-session', '-d', '-s', 'left', '--', 'sleep', '600'], { TEND_TEST_RUN: mark });
    expect(r.exitCode, r.stderr).toBe(0);
    const leaks = await findLeaks(before, [process.pid], mark);
    const path = join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket);
    expect(leaks).toEqual(expect.arrayContaining([`tmux socket ${path}`, `tmux session ${socket}:left`]));
    // The server daemonized away from this process but carries the run's mark.
    expect(leaks.some((l) => /^process \d+ tmux .*-L hyglk/.test(l))).toBe(true);

    expect((await tmux(['kill-server'])).exitCode).toBe(0);
    await execa('rm', ['-f', path]);
    expect(await findLeaks(before, [process.pid], mark)).toEqual([]);
  });
});
