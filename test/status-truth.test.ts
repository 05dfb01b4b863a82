// Issue 14, point 5: `tend status` tells what is true now, on tmux, systemd and Docker (real backends,
// the real CLI): the uptime of what runs; health checked now (and none for what does not run); the port
// and version of what runs after a port change was rolled back, with the cause of the exit (EADDRINUSE,
// from the process's own output) in the rollback message; Interrupted for a change nobody is making
// any more (the run that was making it was killed). Every wait is on an observable condition.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFile, TendConfig } from '../src/model/types.js';
import { loadConfig, type RootPaths } from '../src/spec/config.js';
import { readHistory } from '../src/state/history.js';
import { instanceLockOwner } from '../src/state/lock.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';
import { freePort } from './fixtures/app.js';
import { until } from './helpers/agent-proc.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, CLI, REPO } from './helpers/cli.js';
import { engine, removeImages } from './helpers/docker.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();

interface Row {
  phase: string;
  port: number | null;
  desiredPort?: number | null;
  observedVersion: string | null;
  health: { healthy: boolean; now?: boolean } | null;
  uptimeSeconds: number | null;
  process: { state: string; startedAt: string | null } | null;
  message: string | null;
}

for (const runtime of ['tmux', 'systemd', 'docker'] as const) {
  const h = harnesses.find((x) => x.runtime === runtime)!;
  const gate = await backendGate(h.gate);
  describe.skipIf(gate.skip)(`tend status tells the truth (${h.title})`, () => {
    const app = `st${runtime.slice(0, 3)}${process.pid}${randomBytes(3).toString('hex')}`;
    let root: string;
    let paths: RootPaths;
    let config: TendConfig;
    let port: number;
    let other: number;
    let blocker: Server | undefined;
    const cleanups: (() => Promise<void>)[] = [];

    const desire = (version: string, p: number, extra: string[] = [], timeout = '10s') => writeFileSync(join(root, 'desired', 'web.yaml'), [
      `version: ${version}`, `runtime: ${runtime}`, `port: ${p}`,
      'health:', '  http: /health', `  timeout: ${timeout}`, '  interval: 200ms', ...(h.instanceExtra ? [h.instanceExtra] : []), ...extra, '',
    ].join('\n'));
    const tend = async (args: string[]) => {
      const r = await execa('node', [CLI, '-C', root, ...args], { cwd: REPO, reject: false, stdin: 'ignore', env: { TEND_FAULT: '' } });
      return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const row = async (): Promise<Row> => {
      const r = await tend(['status', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { instances: (Row & { name: string })[] }).instances.find((i) => i.name === 'web')!;
    };
    const table = async () => (await tend(['status'])).stdout.split('\n').find((l) => l.startsWith('web '))!;
    const status = () => JSON.parse(readFileSync(join(paths.instances, 'web', 'status.json'), 'utf8')) as StatusFile;
    const reconciled = async (want: number) => {
      const r = await tend(['reconcile']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(want);
    };

    beforeAll(async () => {
      gate.check();
      root = scratch(`status-${runtime}`);
      const [{ image }] = await Promise.all([fixtureRoot(h, root, app, {
        ...(runtime === 'tmux' ? { runtimeYaml: `tmux:\n  socket: ${app}\ndocker:\n  discovery:\n    enabled: false` } : {}),
      }), buildOnce()]);
      if (image) cleanups.push(() => removeImages(engine(), [image]));
      const loaded = loadConfig({ cwd: root, dir: root, env: {} });
      paths = loaded.paths;
      config = loaded.config!;
      cleanups.push(runtime === 'tmux' ? async () => {
        await execa('tmux', ['-L', app, 'kill-server'], { reject: false, stdin: 'ignore' });
        rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, app), { force: true });
      } : () => h.cleanup(app, config));
      port = await freePort();
      other = await freePort();
      desire('v1.1.0', port);
      await reconciled(0);
    }, 180_000);

    afterAll(async () => {
      await new Promise((r) => (blocker ? blocker.close(r) : r(undefined)));
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }, 120_000);

    it('a running instance: uptime from its start, health checked now', async () => {
      const r = await row();
      expect(r).toMatchObject({ phase: 'Ready', port, observedVersion: 'v1.1.0', health: { healthy: true, now: true } });
      expect(r.process?.startedAt).toEqual(expect.any(String));
      expect(r.uptimeSeconds).toEqual(expect.any(Number));
      expect(Date.now() - Date.parse(r.process!.startedAt!)).toBeGreaterThanOrEqual(r.uptimeSeconds! * 1000 - 1000);
      expect(await table()).toMatch(new RegExp(`\\bReady +${port} +healthy +\\d+s `));
    }, 60_000);

    it('a port change rolled back: the port that runs, the one wanted, and the cause of the exit', async () => {
      let extra: string[] = [];
      if (runtime === 'docker') {
        // The container's process prints why and exits (its own entry point, replaced by a bind mount).
        // In data/, the part of the instance directory that is the instance's own to mount.
        mkdirSync(join(paths.instances, 'web', 'data'), { recursive: true });
        writeFileSync(join(paths.instances, 'web', 'data', 'boom.sh'), 'echo "oubliette: cannot listen on 0.0.0.0:8080: listen EADDRINUSE: address already in use" >&2\nexit 1\n');
        extra = ['  volumes: ["./data/boom.sh:/app/serve.sh:ro"]'];
      } else {
        // Something else has the new port: the app exits with EADDRINUSE during its health check.
        blocker = createServer((socket) => socket.destroy());
        await new Promise<void>((res) => blocker!.listen(other, '127.0.0.1', res));
      }
      desire('v1.1.0', other, extra);
      await reconciled(3);
      const r = await row();
      expect(r).toMatchObject({ phase: 'RolledBack', port, desiredPort: other, observedVersion: 'v1.1.0', health: { healthy: true, now: true } });
      expect(r.message).toMatch(/^Update failed, rolled back to v1\.1\.0 \(v1\.1\.0: process .*EADDRINUSE/);
      expect(await table()).toContain(`RolledBack  ${port} (want ${other})`);
      const failed = readHistory(join(paths.instances, 'web', '.version-history')).find((e) => e.outcome === 'failed');
      expect(failed?.detail).toMatch(/^process (exited \(status 1\)|failed): .*EADDRINUSE/);
      // Back to the port that works: Ready, nothing wanted elsewhere.
      await new Promise((res) => (blocker ? blocker.close(res) : res(undefined)));
      blocker = undefined;
      desire('v1.1.0', port);
      await reconciled(0);
      expect(await row()).toMatchObject({ phase: 'Ready', port, desiredPort: null });
    }, 120_000);

    it('a change whose run was killed: Interrupted, not Progressing', async () => {
      desire('v2.0.0', port, [], '60s');
      const child = execa('node', [CLI, '-C', root, 'reconcile'], { cwd: REPO, reject: false, stdin: 'ignore', env: { TEND_FAULT: '' } });
      await until('the update in its health wait', () => {
        try {
          return instanceLockOwner(paths, 'web')?.pid === child.pid && status().phase === 'Progressing' && status().desiredVersion === 'v2.0.0';
        } catch {
          return false;
        }
      }, 60_000, 50);
      child.kill('SIGKILL');
      await child;
      expect(status().phase).toBe('Progressing');
      const r = await row();
      expect(r.phase).toBe('Interrupted');
      expect(r.message).toMatch(/interrupted: no tend process is working on it/);
      expect(await table()).toMatch(/\bInterrupted\b/);
      desire('v1.1.0', port);
      await reconciled(0);
      expect((await row()).phase).toBe('Ready');
    }, 120_000);

    it('a stopped instance: no health shown', async () => {
      const r = await tend(['stop', 'web']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      const stopped = await row();
      expect(stopped).toMatchObject({ phase: 'Stopped', health: null, uptimeSeconds: null });
      expect(await table()).toMatch(/\bStopped +\d+ +- +- /);
    }, 60_000);
  });
}
