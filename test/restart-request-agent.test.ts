// `tend restart` survives an agent restart: the request lives in instances/<name>/requests.json, not in
// a running process. Real agent processes on a real tmux server with the fixture app: a request made
// while no agent runs (after a clean stop, and after the agent was killed) is carried out by the next
// agent when it starts (a new process, same version, Ready), and only once.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/spec/config.js';
import { fixtureRoot, harnesses, quietYaml } from './drivers/contract-backends.js';
import { freePort, httpGet } from './fixtures/app.js';
import { startAgent, until, type AgentProc } from './helpers/agent-proc.js';
import { backendGate } from './helpers/backends.js';
import { buildOnce, tend } from './helpers/cli.js';
import { useScratch } from './helpers/scratch.js';

const scratch = useScratch();
const h = harnesses.find((x) => x.runtime === 'tmux')!;
const gate = await backendGate('tmux');
const socket = /socket: (\S+)/.exec(h.configYaml('x'))![1]!;

describe.skipIf(gate.skip)('a restart request survives an agent restart (real agent, real tmux)', () => {
  const app = `rq${process.pid}${randomBytes(3).toString('hex')}`;
  let root: string;
  let port: number;
  let agent: AgentProc | undefined;

  /** The pid of web's pane as tmux reports it (undefined when dead or gone). */
  const pid = async () => {
    const r = await execa('tmux', ['-L', socket, 'list-panes', '-t', `=${app}-web:`, '-F', '#{pane_dead} #{pane_pid}'], { reject: false });
    const [dead, p] = r.stdout.trim().split(' ');
    return r.exitCode === 0 && dead === '0' ? Number(p) : undefined;
  };
  const version = async () => (await httpGet(`http://127.0.0.1:${port}/version`, 1000)).body.trim();
  const requestedAt = () => (JSON.parse(readFileSync(join(root, 'instances', 'web', 'requests.json'), 'utf8')) as { restartRequestedAt: string }).restartRequestedAt;

  /** Starts an agent and waits until it has restarted web: a pid other than `old`, Ready on v1.0.0 in /status. */
  async function agentRestarts(old: number): Promise<number> {
    agent = await startAgent(root);
    const now = await until('web restarted by the new agent', async () => {
      const p = await pid();
      const row = await agent!.row('web');
      return p !== undefined && p !== old && row?.phase === 'Ready' && row.observedVersion === 'v1.0.0' ? p : undefined;
    }, 60_000);
    await until('web answering v1.0.0', async () => (await version().catch(() => '')) === 'v1.0.0', 30_000);
    return now;
  }

  beforeAll(async () => {
    gate.check();
    await buildOnce();
    root = scratch('restart-agent');
    await fixtureRoot(h, root, app, { runtimeYaml: quietYaml(h, app) });
    port = await freePort();
    writeFileSync(join(root, 'desired', 'web.yaml'), [
      'version: v1.0.0', 'runtime: tmux', `port: ${port}`, 'health:', '  http: /health', '  timeout: 10s', '  interval: 200ms', '',
    ].join('\n'));
    const r = await tend(['-C', root, 'reconcile']);
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await agent?.stop('SIGKILL').catch(() => undefined);
    await h.cleanup(app, loadConfig({ cwd: root, dir: root, env: {} }).config!).catch(() => undefined);
  }, 60_000);

  it('requested after the agent stopped (SIGTERM): the next agent restarts web at start, and a later plan has nothing to do', async () => {
    agent = await startAgent(root);
    await until('web Ready in /status', async () => (await agent!.row('web'))?.phase === 'Ready', 60_000);
    const before = await pid();
    expect(before).toBeGreaterThan(0);
    expect((await agent.stop('SIGTERM')).code).toBe(0);
    agent = undefined;
    // tmux instances outlive the agent; with no agent, nothing acts on the request.
    const r = await tend(['-C', root, 'restart', 'web', '--no-apply']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`web: restart requested at ${requestedAt()}`);
    await new Promise((res) => setTimeout(res, 1000));
    expect(await pid()).toBe(before);
    expect(await version()).toBe('v1.0.0');
    const plan = await tend(['-C', root, 'reconcile', '--dry-run']);
    expect(plan.stdout).toContain(`restart requested at ${requestedAt()}`);

    const after = await agentRestarts(before!);
    // Met once: the process started after the request, so nothing more is planned.
    const again = await tend(['-C', root, 'reconcile', '--dry-run', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
    expect(await pid()).toBe(after);
    expect((await agent!.stop('SIGTERM')).code).toBe(0);
    agent = undefined;
  }, 180_000);

  it('requested after the agent was killed (SIGKILL, its lock left behind): the next agent takes over and restarts web', async () => {
    agent = await startAgent(root);
    await until('web Ready in /status', async () => (await agent!.row('web'))?.phase === 'Ready', 60_000);
    const before = await pid();
    expect(before).toBeGreaterThan(0);
    await agent.stop('SIGKILL');
    agent = undefined;
    expect((await tend(['-C', root, 'restart', 'web', '--no-apply'])).code).toBe(0);
    expect(await pid()).toBe(before);
    const after = await agentRestarts(before!);
    expect(after).not.toBe(before);
    const again = await tend(['-C', root, 'reconcile', '--dry-run', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
  }, 180_000);
});
