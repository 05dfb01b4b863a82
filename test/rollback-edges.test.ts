// Rollback edge cases on real tmux (issue 5 follow-ups). A rolled-back instance whose process dies is
// restarted like any dead process (crash recorded, backoff, five exits -> Degraded), stays on the rollback
// version with the failed one held and phase RolledBack, and gets no history line (history records version
// changes). With rollout.autoRollback: false a failed update keeps running, held, phase Failed, exit 3.
// Each case has a root, an app name and a tmux server of its own.
import { randomBytes } from 'node:crypto';
import { loose } from './helpers/planner-fixtures.js';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusFile } from '../src/model/types.js';
import { reconcile, type ReconcileResult } from '../src/executor/reconcile.js';
import { loadConfig } from '../src/spec/config.js';
import { loadDesired } from '../src/spec/desired.js';
import { readHistory } from '../src/state/history.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';
import { freePort, httpGet } from './fixtures/app.js';
import { fixtureRoot, harnesses } from './drivers/contract-backends.js';

const scratch = useScratch();
const h = harnesses.find((x) => x.runtime === 'tmux')!;
const gate = await backendGate(h.gate);

/** A deployment root with a tmux server of its own; `close` ends the server and removes its socket. */
async function tmuxRoot(tag: string) {
  const app = `rb${tag}${process.pid}${randomBytes(3).toString('hex')}`;
  const root = scratch(`rollback-${tag}`);
  await fixtureRoot(h, root, app, { runtimeYaml: `tmux:\n  socket: ${app}\ndocker:\n  discovery:\n    enabled: false` });
  const port = await freePort();
  const tmux = (args: string[]) => execa('tmux', ['-L', app, ...args], { reject: false, stdin: 'ignore' });
  const instances = join(root, 'instances');
  return {
    app, root, port,
    desire: (name: string, version: string, extra: string[] = []) => writeFileSync(join(root, 'desired', `${name}.yaml`), [
      `version: ${version}`, 'runtime: tmux', `port: ${port}`, 'health:', '  http: /health', '  timeout: 2s', '  interval: 250ms', ...extra, '',
    ].join('\n')),
    run: (): Promise<ReconcileResult> => {
      const loaded = loadConfig({ cwd: root, dir: root, env: {} });
      const desired = loadDesired({ root, desiredDir: loaded.paths.desired, config: loaded.config!, platform: process.platform, launchdWarn: false });
      return reconcile(desired, loaded.paths, { updatedBy: 'test@host' });
    },
    status: (name: string) => JSON.parse(readFileSync(join(instances, name, 'status.json'), 'utf8')) as StatusFile,
    history: (name: string) => readHistory(join(instances, name, '.version-history')).map((e) => `${e.version} ${e.reason} ${e.outcome}`),
    version: async () => (await httpGet(`http://127.0.0.1:${port}/version`)).body.trim(),
    up: () => httpGet(`http://127.0.0.1:${port}/health`, 300).then(() => true, () => false),
    /** SIGKILLs the pane's process and waits until tmux reports the pane dead and the port is closed. */
    kill: async (name: string) => {
      const target = `=${app}-${name}:`;
      const pid = Number((await tmux(['list-panes', '-t', target, '-F', '#{pane_pid}'])).stdout.trim());
      expect(pid).toBeGreaterThan(1);
      process.kill(pid, 'SIGKILL');
      await expect.poll(async () => (await tmux(['list-panes', '-t', target, '-F', '#{pane_dead}'])).stdout.trim(), { timeout: 5_000 }).toBe('1');
      await expect.poll(() => httpGet(`http://127.0.0.1:${port}/health`, 300).then(() => 'up', () => 'down'), { timeout: 5_000 }).toBe('down');
    },
    close: async () => {
      await tmux(['kill-server']);
      rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, app), { force: true });
    },
  };
}

type Root = Awaited<ReturnType<typeof tmuxRoot>>;
const planOf = (r: ReconcileResult, name: string, n = 0) => r.plans[n]!.instances.find((i) => i.name === name)!;
const actionsOf = (r: ReconcileResult, name: string, n = 0) => loose(r.plans[n]!.actions).filter((a) => a.instance === name);

describe.skipIf(gate.skip)('a rolled-back instance whose process dies (tmux)', () => {
  let t: Root;
  beforeAll(async () => {
    gate.check();
    await buildOnce();
    t = await tmuxRoot('dies');
  }, 60_000);
  afterAll(async () => t?.close(), 30_000);

  it('is restarted with a crash record and backoff, stays RolledBack on v1.1.0 with v2.0.0 held and the history unchanged; five exits are a crash loop (Degraded)', async () => {
    t.desire('web', 'v1.1.0');
    expect((await t.run()).exitCode).toBe(0);
    t.desire('web', 'v2.0.0');
    const failed = await t.run();
    expect(failed.exitCode).toBe(3);
    expect(planOf(failed, 'web', 1)).toMatchObject({ change: 'rollback', version: 'v1.1.0' });
    const held = t.status('web').held!;
    expect(held).toMatchObject({ version: 'v2.0.0' });
    const lines = ['v1.1.0 create healthy', 'v2.0.0 update failed', 'v1.1.0 auto-rollback healthy'];
    expect(t.history('web')).toEqual(lines);

    // First death: restarted at once (no earlier crash), as a plain restart, not another rollback.
    await t.kill('web');
    const r1 = await t.run();
    expect(r1.exitCode).toBe(3);
    expect(r1.held).toEqual(['web']);
    expect(r1.plans).toHaveLength(1);
    expect(planOf(r1, 'web')).toMatchObject({ change: 'start', version: 'v1.1.0', phase: 'RolledBack' });
    expect(planOf(r1, 'web').reason).toMatch(/ died \((killed by SIGKILL|failed)\); rolled back to v1\.1\.0, v2\.0\.0 stays held$/);
    const [start1] = actionsOf(r1, 'web');
    expect(start1).toMatchObject({ type: 'start', from: 'applied', crash: { specHash: expect.any(String) } });
    expect(start1!.notBefore).toBeUndefined();
    expect(r1.outcomes).toEqual([expect.objectContaining({ name: 'web', change: 'start', result: 'ok', done: ['start', 'verify-health'] })]);
    expect(await t.version()).toBe('v1.1.0');
    let st = t.status('web');
    expect(st).toMatchObject({ phase: 'RolledBack', held, health: { healthy: true } });
    expect(st.message).toMatch(/^Update failed, rolled back to v1\.1\.0 \(v2\.0\.0: Health check timeout after 2s: HTTP 500.*\); restarted /);
    expect(st.crashes).toHaveLength(1);
    expect(t.history('web')).toEqual(lines);

    // Second death: backoff 1 s after the first recorded exit, still the rollback version.
    await t.kill('web');
    const r2 = await t.run();
    const done = Date.now();
    expect(r2.exitCode).toBe(3);
    expect(planOf(r2, 'web')).toMatchObject({ change: 'start', version: 'v1.1.0' });
    const [start2] = actionsOf(r2, 'web');
    const firstExit = Date.parse(st.crashes![0]!.at);
    expect(start2).toMatchObject({ type: 'start', from: 'applied', notBefore: new Date(firstExit + 1000).toISOString() });
    expect(start2!.reason).toContain('backoff 1s');
    expect(done).toBeGreaterThanOrEqual(firstExit + 1000);
    expect(await t.version()).toBe('v1.1.0');
    st = t.status('web');
    expect(st).toMatchObject({ phase: 'RolledBack', held });
    expect(st.crashes).toHaveLength(2);
    expect(Date.parse(st.crashes![1]!.at)).toBeGreaterThanOrEqual(firstExit + 1000);
    expect(t.history('web')).toEqual(lines);

    // Third and fourth deaths: the backoff doubles (2 s, 4 s).
    for (const backoff of [2, 4]) {
      await t.kill('web');
      const r = await t.run();
      expect(r.exitCode).toBe(3);
      expect(actionsOf(r, 'web')[0]!.reason).toContain(`backoff ${backoff}s`);
      expect(await t.version()).toBe('v1.1.0');
      expect(t.status('web')).toMatchObject({ phase: 'RolledBack', held });
    }
    expect(t.status('web').crashes).toHaveLength(4);

    // Fifth death within 60 s: a crash loop. Not restarted, Degraded, and still not the held v2.0.0.
    await t.kill('web');
    const r5 = await t.run();
    expect(r5.exitCode).toBe(3);
    expect(planOf(r5, 'web')).toMatchObject({ change: 'held', phase: 'Degraded', actions: [] });
    expect(planOf(r5, 'web').reason).toMatch(/^crash loop: 5 exits within 60s/);
    expect(await t.up()).toBe(false);
    st = t.status('web');
    expect(st).toMatchObject({ phase: 'Degraded', held });
    expect(st.message).toMatch(/^crash loop: 5 exits within 60s/);
    expect(t.history('web')).toEqual(lines);
    const r6 = await t.run();
    expect(r6.exitCode).toBe(3);
    expect(planOf(r6, 'web')).toMatchObject({ change: 'held', phase: 'Degraded', actions: [] });
    expect(await t.up()).toBe(false);

    // tend retry clears the crash loop (not the hold): v1.1.0 is started again, v2.0.0 stays held.
    const retry = await tend(['-C', t.root, 'retry', 'web', '--no-apply']);
    expect(retry).toMatchObject({ code: 0, stdout: 'web: crash loop cleared\n' });
    const r7 = await t.run();
    expect(planOf(r7, 'web')).toMatchObject({ change: 'start', version: 'v1.1.0' });
    expect(await t.version()).toBe('v1.1.0');
    expect(t.status('web')).toMatchObject({ phase: 'RolledBack', held });

    // tend rollback without --to after the automatic rollback: the file named v2.0.0, so it goes to v1.1.0.
    const rb = await tend(['-C', t.root, 'rollback', 'web']);
    expect(rb.code).toBe(0);
    expect(rb.stdout).toContain('desired/web.yaml: version v2.0.0 -> v1.1.0');
    expect(await t.version()).toBe('v1.1.0');
    expect(t.status('web')).toMatchObject({ phase: 'Ready' });
  }, 150_000);
});

describe.skipIf(gate.skip)('rollout.autoRollback: false (tmux)', () => {
  let t: Root;
  beforeAll(async () => {
    gate.check();
    await buildOnce();
    t = await tmuxRoot('off');
  }, 120_000);
  afterAll(async () => t?.close(), 30_000);

  it('a failed update keeps running, is held (not retried), phase Failed with the reason, tend reconcile exits 3', async () => {
    const off = ['rollout:', '  autoRollback: false'];
    t.desire('solo', 'v1.1.0', off);
    expect((await t.run()).exitCode).toBe(0);
    t.desire('solo', 'v2.0.0', off);
    const r = await t.run();
    expect(r.exitCode).toBe(3);
    expect(r.held).toEqual(['solo']);
    expect(planOf(r, 'solo', 0)).toMatchObject({ change: 'update', version: 'v2.0.0' });
    expect(planOf(r, 'solo', 1)).toMatchObject({ change: 'held', phase: 'Failed', actions: [] });
    expect(actionsOf(r, 'solo', 1)).toEqual([]);
    expect(await t.version()).toBe('v2.0.0');
    const st = t.status('solo');
    expect(st).toMatchObject({ phase: 'Failed', held: { version: 'v2.0.0' }, health: { healthy: false } });
    expect(st.message).toMatch(/^v2\.0\.0 failed health: Health check timeout after 2s: HTTP 500.* \(rollout\.autoRollback is off: not rolled back\)$/);
    expect(t.history('solo')).toEqual(['v1.1.0 create healthy', 'v2.0.0 update failed']);

    // The CLI: held, nothing retried, exit 3, and the status stays as it is.
    const cli = await tend(['-C', t.root, 'reconcile']);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 3, stderr: expect.any(String) });
    expect(cli.stdout).toContain('solo: held (see tend status solo)');
    expect(cli.stdout).toContain('Reconcile: converged except held instances');
    expect(await t.version()).toBe('v2.0.0');
    expect(t.status('solo')).toEqual(st);
    expect(t.history('solo')).toEqual(['v1.1.0 create healthy', 'v2.0.0 update failed']);
  }, 120_000);
});
