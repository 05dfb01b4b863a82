// Issue 14, points 9 and 10, end to end with the built CLI on real backends (systemd, tmux, Docker):
// - a closed stdout/stderr (`tend update web --version v2.0.0 | head -1`: the reader exits) never
//   interrupts work: the update is carried out, rolled back (v2.0.0 answers 500), and status is not
//   left Progressing;
// - right after that automatic rollback, `tend rollback web` pins the file to the version that runs
//   (no restart), saying so; `tend rollback --dry-run` and `tend update --dry-run` show the edit and
//   the plan and change nothing.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFile } from '../src/model/types.js';
import { historyPath, readHistory } from '../src/state/history.js';
import { backendGate, systemdUserEnv } from './helpers/backends.js';
import { buildOnce, CLI, REPO, tend } from './helpers/cli.js';
import { engine } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses, type Harness } from './drivers/contract-backends.js';

const scratch = useScratch();
const tmuxSocket = () => /socket: (\S+)/.exec(harnesses.find((x) => x.runtime === 'tmux')!.configYaml('x'))![1]!;

/** The pid of the instance's process as the backend itself reports it (undefined when none runs). */
async function pidOf(h: Harness, app: string, name: string): Promise<number | undefined> {
  const target = `${app}-${name}`;
  if (h.runtime === 'tmux') {
    const r = await execa('tmux', ['-L', tmuxSocket(), 'list-panes', '-t', `=${target}:`, '-F', '#{pane_dead} #{pane_pid}'], { reject: false });
    const [dead, pid] = r.stdout.trim().split(' ');
    return r.exitCode === 0 && dead === '0' ? Number(pid) : undefined;
  }
  if (h.runtime === 'systemd') {
    const r = await execa('systemctl', ['--user', 'show', '-p', 'MainPID', '--value', `${target}.service`], { reject: false, env: systemdUserEnv() });
    const pid = Number(r.stdout.trim());
    return pid > 0 ? pid : undefined;
  }
  const info = await engine().getContainer(target).inspect().catch(() => undefined);
  return info?.State.Running ? info.State.Pid : undefined;
}

/**
 * Runs tend with its stdout and stderr read by this process until the first line on either, then closes
 * both (as `2>&1 | head -1` does once head exits): every later write of tend's fails with EPIPE.
 */
function runClosingOutput(args: string[], deadlineMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; first: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [CLI, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let first = '';
    let closed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tend ${args.join(' ')} did not exit within ${deadlineMs} ms`));
    }, deadlineMs);
    const read = (chunk: Buffer) => {
      if (closed) return;
      first += chunk.toString('utf8');
      if (first.includes('\n')) {
        first = first.slice(0, first.indexOf('\n'));
        closed = true;
        child.stdout.destroy();
        child.stderr.destroy();
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, first });
    });
  });
}

for (const h of harnesses.filter((x) => x.runtime !== 'launchd')) {
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`closed output and rollback after an automatic rollback on ${h.title}`, () => {
    const app = `cli${h.runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let port: number;
    const cleanups: (() => Promise<void>)[] = [];
    const file = () => join(root, 'desired', 'web.yaml');
    const status = (): StatusFile => JSON.parse(readFileSync(join(root, 'instances', 'web', 'status.json'), 'utf8')) as StatusFile;
    const version = async () => (await httpGet(`http://127.0.0.1:${port}/version`)).body.trim();
    const run = (args: string[]) => tend(['-C', root, ...args]);

    beforeAll(async () => {
      gate.check();
      await buildOnce();
      root = scratch(`cli-pipe-${h.runtime}`);
      const { image } = await fixtureRoot(h, root, app);
      if (image) cleanups.push(() => h.removeImage?.(image) ?? Promise.resolve());
      cleanups.push(async () => {
        const { loadConfig } = await import('../src/spec/config.js');
        await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!);
      });
      port = await freePort();
      writeFileSync(file(), [
        'version: v1.0.0', `runtime: ${h.runtime}`, `port: ${port}`,
        'health:', '  http: /health', '  timeout: 3s', '  interval: 250ms', h.instanceExtra ?? '', '',
      ].join('\n'));
      const r = await run(['reconcile']);
      expect(r.code, r.stderr).toBe(0);
      const u = await run(['update', 'web', '--version', 'v1.1.0']);
      expect(u.code, u.stderr).toBe(0);
      expect(await version()).toBe('v1.1.0');
    }, 240_000);

    afterAll(async () => {
      for (const c of cleanups.reverse()) await c();
    }, 120_000);

    it('tend update web --version v2.0.0 2>&1 | head -1 (both outputs closed after the first line): the update runs to its end (rolled back, exit 3), status RolledBack, not Progressing', async () => {
      const r = await runClosingOutput(['-C', root, 'update', 'web', '--version', 'v2.0.0'], 120_000);
      // The first line is the first log line of the work (stderr), e.g. `info: building v2.0.0`.
      expect(r.first).toMatch(/^(info|warn): /);
      expect(status()).toMatchObject({ phase: 'RolledBack', observedVersion: 'v1.1.0', held: { version: 'v2.0.0' } });
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 3, signal: null });
      expect(await version()).toBe('v1.1.0');
      const history = readHistory(historyPath(join(root, 'instances'), 'web'));
      expect(history.at(-1)).toMatchObject({ version: 'v1.1.0', reason: 'auto-rollback', outcome: 'healthy' });
      expect(readFileSync(file(), 'utf8')).toMatch(/^version: v2\.0\.0$/m);
    }, 180_000);

    it('tend rollback --dry-run and tend update --dry-run show the edit and the plan; nothing is written, nothing restarts', async () => {
      const pid = await pidOf(h, app, 'web');
      expect(pid).toBeGreaterThan(0);
      const before = readFileSync(file(), 'utf8');

      const rb = await run(['rollback', 'web', '--dry-run']);
      expect(rb.code, rb.stderr).toBe(0);
      expect(rb.stdout).toContain('web: v2.0.0 failed and tend already rolled back to v1.1.0, which runs; the file is pinned to v1.1.0 so it stops asking for v2.0.0');
      expect(rb.stdout).toContain('desired/web.yaml: version v2.0.0 -> v1.1.0 (dry run: not written)');
      expect(rb.stdout).toMatch(/^Plan: /m);
      expect((await run(['rollback', 'web', '--dry-run', '--detailed-exitcode'])).code).toBe(2);

      const up = await run(['update', 'web', '--version', 'v1.0.0', '--dry-run']);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stdout).toContain('desired/web.yaml: version v2.0.0 -> v1.0.0 (dry run: not written)');
      expect(up.stdout).toMatch(/^Plan: 0 to create, 1 to update, 0 to delete/m);
      expect(up.stdout).toMatch(/web \(.*v1\.1\.0 -> v1\.0\.0/);
      expect((await run(['update', 'web', '--version', 'v1.0.0', '--dry-run', '--detailed-exitcode'])).code).toBe(2);
      // Refusals are the real command's: an unknown tag names the closest ones.
      const bad = await run(['update', 'web', '--version', '1.0.0', '--dry-run']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toBe('error: Git tag 1.0.0 not found; did you mean v1.0.0?\n');

      expect(readFileSync(file(), 'utf8')).toBe(before);
      expect(await pidOf(h, app, 'web')).toBe(pid);
      expect(status()).toMatchObject({ phase: 'RolledBack', observedVersion: 'v1.1.0' });
      expect(await version()).toBe('v1.1.0');
    }, 120_000);

    it('tend rollback web right after the automatic rollback pins the file to v1.1.0, which runs: no restart, the hold goes, converged; run again it goes back to v1.0.0', async () => {
      const pid = await pidOf(h, app, 'web');
      const r = await run(['rollback', 'web']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('web: v2.0.0 failed and tend already rolled back to v1.1.0, which runs; the file is pinned to v1.1.0 so it stops asking for v2.0.0');
      expect(r.stdout).toContain('desired/web.yaml: version v2.0.0 -> v1.1.0');
      expect(readFileSync(file(), 'utf8')).toMatch(/^version: v1\.1\.0$/m);
      expect(await pidOf(h, app, 'web')).toBe(pid);
      expect(await version()).toBe('v1.1.0');
      expect(status().phase).toBe('Ready');
      expect(status().held).toBeUndefined();
      expect((await run(['reconcile', '--dry-run', '--detailed-exitcode'])).code).toBe(0);

      const again = await run(['rollback', 'web', '--dry-run']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('web: back to v1.0.0, the last healthy version before v1.1.0');
      expect(again.stdout).toContain('desired/web.yaml: version v1.1.0 -> v1.0.0 (dry run: not written)');
      expect(readFileSync(file(), 'utf8')).toMatch(/^version: v1\.1\.0$/m);
    }, 120_000);
  });
}
